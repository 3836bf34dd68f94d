import { strict as assert } from 'node:assert';
import { checkAnswer, checkCodeAnswer } from '../../lib/src/notebook/exercises';
import { kvBytesPerToken } from '../../lib/src/model/config';
import { getPreset } from '../../lib/src/model/presets';

// The reference solutions of solutions/03.json, written out as functions.
function fp32ToFp16Bits(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a >= 65520) return sign | 0x7c00;
  let e = a === 0 ? -14 : Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  e = Math.max(e, -14);
  const q = a / 2 ** (e - 10);
  let r = Math.floor(q);
  if (q - r > 0.5 || (q - r === 0.5 && r % 2 === 1)) r += 1;
  return sign | (((e + 14) << 10) + r);
}

function fp16BitsToFp32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0x1f) return m === 0 ? sign * Infinity : NaN;
  if (e === 0) return sign * m * 2 ** -24;
  return sign * 2 ** (e - 15) * (1 + m / 1024);
}

describe('notebook 03 exercises', () => {
  it('03.1 and 03.2: the value answers', () => {
    assert.equal(checkAnswer('03.1', 16 * kvBytesPerToken(getPreset('default'), 2)).ok, true);
    assert.equal(checkAnswer('03.2', 0x3c00).ok, true);
    assert.equal(checkAnswer('03.2', 0x3f80).ok, false, 'bf16 bits of 1.0 are not the fp16 bits');
  });

  it('03.3: the reference fp32ToFp16Bits matches the library on every seeded input', async () => {
    const r = await checkCodeAnswer('03.3', fp32ToFp16Bits);
    assert.equal(r.ok, true, r.message);
    assert.match(r.message, /all \d+ inputs/);
  });

  it('03.3: truncating instead of rounding fails with a counterexample and the hint', async () => {
    const truncating = (x: number): number => {
      const a = Math.abs(x);
      if (Number.isNaN(x)) return 0x7e00;
      const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
      if (a >= 65520) return sign | 0x7c00;
      const e = Math.max(a === 0 ? -14 : Math.floor(Math.log2(a)), -14);
      return sign | (((e + 14) << 10) + Math.floor(a / 2 ** (e - 10)));
    };
    const r = await checkCodeAnswer('03.3', truncating);
    assert.equal(r.ok, false);
    assert.equal(r.answered, true);
    assert.match(r.message, /on \(x = .*float32 bits 0x[0-9a-f]{8}\) the library gives \d+, yours \d+/);
    assert.match(r.message, /Hint: .*ties to even/);
  });

  it('03.3: rounding ties away from zero instead of to even is caught', async () => {
    const tiesAway = (x: number): number => {
      if (Number.isNaN(x)) return 0x7e00;
      const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
      const a = Math.abs(x);
      if (a >= 65520) return sign | 0x7c00;
      const e = Math.max(a === 0 ? -14 : Math.floor(Math.log2(a)), -14);
      return sign | (((e + 14) << 10) + Math.floor(a / 2 ** (e - 10) + 0.5));
    };
    const r = await checkCodeAnswer('03.3', tiesAway);
    assert.equal(r.ok, false, 'ties must go to even');
  });

  it('03.4: the reference fp16BitsToFp32 matches on all 65 536 patterns; a wrong one is caught', async () => {
    const ok = await checkCodeAnswer('03.4', fp16BitsToFp32);
    assert.equal(ok.ok, true, ok.message);
    assert.match(ok.message, /all 65536 inputs/);
    const noSubnormals = (h: number): number => ((h & 0x7c00) === 0 ? 0 : fp16BitsToFp32(h));
    const wrong = await checkCodeAnswer('03.4', noSubnormals);
    assert.equal(wrong.ok, false);
    assert.match(wrong.message, /on \(h = 0x0001\)/);
  });

  it('an unanswered exercise (a function returning undefined, or no function) is "not answered"', async () => {
    for (const id of ['03.3', '03.4']) {
      for (const answer of [() => undefined, undefined]) {
        const r = await checkCodeAnswer(id, answer);
        assert.equal(r.ok, false);
        assert.equal(r.answered, false);
        assert.match(r.message, /write the function/);
      }
    }
  });
});
