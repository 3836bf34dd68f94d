import { strict as assert } from 'node:assert';
import { checkAnswer, checkCodeAnswer } from '../../lib/src/notebook/exercises';
import { projectCost } from '../../lib/src/bench/cost';

describe('notebook 05 exercises', () => {
  it('05.1: the attention work left at 90 % reuse is about 19 %, not 10 %', () => {
    const pairs = (n: number): number => (n * (n + 1)) / 2;
    assert.equal(checkAnswer('05.1', (pairs(1000) - pairs(900)) / pairs(1000)).ok, true);
    assert.equal(checkAnswer('05.1', 0.1).ok, false, 'the linear share is the wrong answer');
    assert.equal(checkAnswer('05.1', undefined).answered, false);
  });

  it('05.2: overlapped loads pay above reuse × break-even', () => {
    const be = projectCost({ model: 'llama3-8b', promptTokens: 4096, reuseFraction: 0.9, dollarsPerGpuHour: 3, storeGBps: 10 }).breakevenGBps;
    assert.equal(checkAnswer('05.2', 0.9 * be).ok, true);
    assert.equal(checkAnswer('05.2', be).ok, false);
  });

  it('05.3: the reference breakEvenGBps passes, a wrong one gets a counterexample, an empty one is not answered', async () => {
    // The reference solution's logic (solutions/05.json).
    const right = (kvBytesPerToken: number, prefillTokensPerSecond: number): number => (kvBytesPerToken * prefillTokensPerSecond) / 1e9;
    const r = await checkCodeAnswer('05.3', right);
    assert.equal(r.ok, true, r.message);
    assert.match(r.message, /all \d+ inputs/);

    // GiB instead of GB: close, and wrong.
    const wrong = (kvBytesPerToken: number, prefillTokensPerSecond: number): number => (kvBytesPerToken * prefillTokensPerSecond) / 2 ** 30;
    const w = await checkCodeAnswer('05.3', wrong);
    assert.equal(w.ok, false);
    assert.equal(w.answered, true);
    assert.match(w.message, /kvBytesPerToken \d+, prefillTokensPerSecond \d+/);
    assert.match(w.message, /Hint/);

    const none = await checkCodeAnswer('05.3', () => undefined);
    assert.equal(none.answered, false);
    assert.match(none.message, /breakEvenGBps/);
  });
});
