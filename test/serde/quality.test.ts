import * as assert from 'node:assert/strict';
import { type KVBlockData, compareKV, decodeKV, encodeKV, syntheticKV } from '../../lib/src/serde';
import { expectKVError } from './helpers';

function clone(b: KVBlockData): KVBlockData {
  return { ...b, k: b.k.map((a) => a.slice()), v: b.v.map((a) => a.slice()) };
}

describe('serde: quality helpers', () => {
  const shape = { layers: 2, kvHeads: 2, headDim: 8, tokens: 4 };

  it('identical blocks: zero error, infinite SQNR, cosine 1', () => {
    const a = syntheticKV(shape);
    const c = compareKV(a, clone(a));
    assert.equal(c.maxAbsError, 0);
    assert.equal(c.meanAbsError, 0);
    assert.equal(c.rmse, 0);
    assert.equal(c.sqnrDb, Infinity);
    assert.ok(Math.abs(c.cosine - 1) < 1e-12);
    assert.equal(c.count, 2 * 2 * 64);
    assert.equal(c.layers.length, 2);
  });

  it('known errors: a constant offset in one layer of V', () => {
    const a = syntheticKV(shape);
    const b = clone(a);
    b.v[1] = b.v[1]!.map((x) => x + 0.5);
    const c = compareKV(a, b);
    assert.ok(Math.abs(c.v.maxAbsError - 0.5) < 1e-6);
    assert.ok(Math.abs(c.layers[1]!.v.meanAbsError - 0.5) < 1e-6);
    assert.equal(c.k.maxAbsError, 0);
    assert.equal(c.layers[0]!.v.maxAbsError, 0);
    assert.ok(Math.abs(c.meanAbsError - 0.5 / 4) < 1e-6, `overall mean ${c.meanAbsError}`);
  });

  it('counts non-finite matches and mismatches separately', () => {
    const a = syntheticKV(shape);
    const b = clone(a);
    a.k[0]![0] = NaN;
    b.k[0]![0] = NaN;
    a.k[0]![1] = Infinity;
    b.k[0]![1] = Infinity;
    a.k[0]![2] = Infinity;
    b.k[0]![2] = -Infinity;
    b.k[0]![3] = NaN;
    const c = compareKV(a, b);
    assert.equal(c.nonFiniteMatches, 2);
    assert.equal(c.nonFiniteMismatches, 2);
    assert.ok(Number.isFinite(c.maxAbsError));
  });

  it('orders the encodings by error: fp32 < fp16 < bf16 < int8 < kivi4 < kivi2', () => {
    const a = syntheticKV({ layers: 2, kvHeads: 2, headDim: 64, tokens: 64 });
    const errs = (['fp32', 'fp16', 'bf16', 'int8', 'kivi4', 'kivi2'] as const).map((dtype) => compareKV(a, decodeKV(encodeKV(a, { dtype }))).rmse);
    assert.equal(errs[0], 0);
    for (let i = 1; i < errs.length; i++) assert.ok(errs[i]! > errs[i - 1]!, `rmse ${errs.join(' < ')}`);
  });

  it('rejects blocks of different shapes', () => {
    const a = syntheticKV(shape);
    const b = syntheticKV({ ...shape, tokens: 2, headDim: 16 });
    expectKVError(() => compareKV(a, b), 'INVALID_INPUT');
  });

  it('synthetic KV is deterministic per seed and has outlier channels in K', () => {
    const s = { layers: 1, kvHeads: 1, headDim: 64, tokens: 256 };
    const a = syntheticKV(s, { seed: 5 });
    assert.deepEqual(a.k[0], syntheticKV(s, { seed: 5 }).k[0]);
    assert.notDeepEqual(a.k[0], syntheticKV(s, { seed: 6 }).k[0]);
    // Per-channel RMS of K: the largest channel is far above the median one.
    const rms = Array.from({ length: 64 }, (_, d) => {
      let sum = 0;
      for (let t = 0; t < 256; t++) sum += a.k[0]![t * 64 + d]! ** 2;
      return Math.sqrt(sum / 256);
    }).sort((x, y) => x - y);
    assert.ok(rms[63]! > 4 * rms[32]!, `max channel RMS ${rms[63]} vs median ${rms[32]}`);
  });
});
