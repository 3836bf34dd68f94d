import { strict as assert } from 'node:assert';
import { checkAnswer, checkCodeAnswer } from '../../lib/src/notebook/exercises';
import { kvBytesPerToken, getPreset } from '../../lib/src/model';

/** The reference solution of 01.3 (solutions/01.json), as a learner would write it in the cell. */
function attentionWeights(query: number[], keys: number[][]): number[] {
  const d = query.length;
  const scores = keys.map((k) => k.reduce((s, kc, c) => s + query[c]! * kc, 0) / Math.sqrt(d));
  const top = Math.max(...scores);
  const e = scores.map((s) => Math.exp(s - top));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / z);
}

describe('exercises of notebook 01', () => {
  it('01.1 and 01.2: the library’s KV arithmetic is the answer', () => {
    assert.equal(checkAnswer('01.1', kvBytesPerToken(getPreset('llama3-8b'), 2)).ok, true);
    assert.equal(checkAnswer('01.1', 131072).ok, true, '2 × 32 layers × 8 kv heads × 128 × 2 bytes');
    assert.equal(checkAnswer('01.1', 524288).ok, false, 'one KV head per query head is Llama 2, not Llama 3');
    assert.equal(checkAnswer('01.2', (100 * 8192 * 327680) / 2 ** 30).ok, true);
  });

  it('01.3: the reference solution matches the library on every seeded input', async () => {
    const r = await checkCodeAnswer('01.3', attentionWeights);
    assert.equal(r.ok, true, r.message);
    assert.match(r.message, /all 6 inputs/);
  });

  it('01.3: softmax without subtracting the maximum fails on large scores, with a counterexample and the hint', async () => {
    const naive = (query: number[], keys: number[][]): number[] => {
      const e = keys.map((k) => Math.exp(k.reduce((s, kc, c) => s + query[c]! * kc, 0) / Math.sqrt(query.length)));
      const z = e.reduce((a, b) => a + b, 0);
      return e.map((x) => x / z);
    };
    const r = await checkCodeAnswer('01.3', naive);
    assert.equal(r.ok, false);
    assert.equal(r.answered, true);
    assert.match(r.message, /entries up to ±/);
    assert.match(r.message, /subtract the largest score/);
  });

  it('01.3: forgetting the 1/√d scaling fails on the first input with more than one key', async () => {
    const unscaled = (query: number[], keys: number[][]): number[] => {
      const scores = keys.map((k) => k.reduce((s, kc, c) => s + query[c]! * kc, 0));
      const top = Math.max(...scores);
      const e = scores.map((s) => Math.exp(s - top));
      const z = e.reduce((a, b) => a + b, 0);
      return e.map((x) => x / z);
    };
    const r = await checkCodeAnswer('01.3', unscaled);
    assert.equal(r.ok, false);
    assert.match(r.message, /3 cached keys/);
  });

  it('01.3: a function returning undefined is "not answered", without a hint', async () => {
    const r = await checkCodeAnswer('01.3', (): undefined => undefined);
    assert.equal(r.answered, false);
    assert.equal(r.ok, false);
    assert.doesNotMatch(r.message, /Hint/);
    assert.match(r.message, /attentionWeights/);
  });
});
