import { strict as assert } from 'node:assert';
import { KVCache, createModel, type KVCacheArrays, type LlamaModel } from '../../lib/src/model';
import { tf } from '../../lib/src/runtime';
import { SAME_MODEL_TOLERANCE, assertClose, expectCode, smallConfig, tokenIds } from './helpers';
import { describeOnEachBackend } from './backends';

function bits(a: Float32Array): number[] {
  return [...new Uint32Array(a.buffer, a.byteOffset, a.length)];
}

describeOnEachBackend('KVCache', () => {
  let model: LlamaModel;
  let full: KVCache;
  const tokens = tokenIds(12, 97, 9);

  before(async () => {
    model = await createModel(smallConfig(), { seed: 11 });
    full = (await model.prefill(tokens)).kv;
  });
  after(() => {
    full.dispose();
    model.dispose();
  });

  it('describes itself: shape, bytes, positions, fingerprint', () => {
    assert.equal(full.fingerprint, model.fingerprint);
    assert.equal(full.tokens, 12);
    assert.equal(full.startPosition, 0);
    assert.equal(full.endPosition, 12);
    assert.equal(full.numLayers, 2);
    assert.deepEqual(full.layerKeys(0).shape, [2, 12, 8]);
    assert.deepEqual(full.layerValues(1).shape, [2, 12, 8]);
    assert.equal(full.bytes, 2 * 2 * 2 * 12 * 8 * 4);
  });

  it('toArrays gives contiguous [kvHeads, tokens, headDim] arrays; fromArrays restores them bit-exactly', () => {
    const arrays = full.toArrays();
    assert.equal(arrays.layers.length, 2);
    assert.equal(arrays.layers[0]!.keys.length, 2 * 12 * 8);
    const restored = KVCache.fromArrays(arrays);
    try {
      for (let l = 0; l < 2; l++) {
        assert.deepEqual(bits(restored.layerKeys(l).dataSync() as Float32Array), bits(arrays.layers[l]!.keys));
        assert.deepEqual(bits(restored.layerValues(l).dataSync() as Float32Array), bits(arrays.layers[l]!.values));
      }
      assert.equal(restored.fingerprint, full.fingerprint);
      // Mutating the arrays afterwards does not reach into the cache.
      arrays.layers[0]!.keys.fill(0);
      assert.notEqual(restored.layerKeys(0).dataSync()[0], 0);
    } finally {
      restored.dispose();
    }
  });

  it('slice picks tokens along the sequence axis and moves startPosition', () => {
    const arrays = full.toArrays();
    const part = full.slice(3, 7);
    try {
      assert.equal(part.startPosition, 3);
      assert.equal(part.tokens, 4);
      const got = part.toArrays().layers[1]!.values;
      // element [h, t, d] of the slice is element [h, t + 3, d] of the whole
      for (let h = 0; h < 2; h++)
        for (let t = 0; t < 4; t++)
          for (let d = 0; d < 8; d++) assert.equal(got[(h * 4 + t) * 8 + d], arrays.layers[1]!.values[(h * 12 + t + 3) * 8 + d]);
    } finally {
      part.dispose();
    }
  });

  it('slices concatenated back together equal the original bit-exactly', () => {
    const a = full.slice(0, 5);
    const b = full.slice(5, 9);
    const c = full.slice(9, 12);
    const ab = a.concat(b);
    const abc = ab.concat(c);
    const all = KVCache.concatAll([a, b, c]);
    try {
      for (const joined of [abc, all]) {
        assert.equal(joined.tokens, 12);
        assert.equal(joined.startPosition, 0);
        for (let l = 0; l < 2; l++) assert.deepEqual(bits(joined.layerKeys(l).dataSync() as Float32Array), bits(full.layerKeys(l).dataSync() as Float32Array));
      }
    } finally {
      for (const kv of [a, b, c, ab, abc, all]) kv.dispose();
    }
  });

  it('a sliced prefix works as past: prefill(suffix, full.slice(0, n)) matches the whole prefill', async () => {
    const prefix = full.slice(0, 8);
    const extra = [5, 6, 7];
    const viaSlice = await model.prefill([...tokens.slice(8), ...extra], prefix);
    const whole = await model.prefill([...tokens, ...extra]);
    try {
      assertClose(viaSlice.logits, whole.logits, SAME_MODEL_TOLERANCE, 'logits');
    } finally {
      for (const kv of [prefix, viaSlice.kv, whole.kv]) kv.dispose();
    }
  });

  it('clone and dispose are independent; disposed caches refuse use', async () => {
    const copy = full.clone();
    copy.dispose();
    copy.dispose(); // idempotent
    assert.equal(copy.isDisposed, true);
    assert.equal(full.isDisposed, false);
    assert.equal(full.layerKeys(0).isDisposed, false);
    await expectCode(() => copy.slice(0, 1), 'INVALID_INPUT', /disposed/);
    await expectCode(() => copy.toArrays(), 'INVALID_INPUT', /disposed/);
    await expectCode(() => full.concat(copy), 'INVALID_INPUT', /disposed/);
  });

  it('refuses bad slices, gaps, foreign caches and malformed arrays', async () => {
    await expectCode(() => full.slice(5, 5), 'INVALID_INPUT', /non-empty range/);
    await expectCode(() => full.slice(0, 13), 'INVALID_INPUT', /12 tokens/, { path: 'from, to', received: 'slice(0, 13)', limit: 12, actual: 13 });
    await expectCode(() => full.slice(-1, 2), 'INVALID_INPUT', /non-negative/);
    await expectCode(() => full.slice(0.5, 2), 'INVALID_INPUT', /integer/);
    await expectCode(() => full.layerKeys(2), 'INVALID_INPUT', /layer/);
    const a = full.slice(0, 4);
    const c = full.slice(6, 8);
    await expectCode(() => a.concat(c), 'INVALID_INPUT', /not consecutive/);
    await expectCode(() => a.concat(a), 'INVALID_INPUT', /not consecutive/);
    await expectCode(() => KVCache.concatAll([]), 'INVALID_INPUT');
    const other = await createModel(smallConfig(), { seed: 12 });
    const foreign = (await other.prefill([1, 2, 3, 4, 5, 6])).kv;
    await expectCode(() => a.concat(foreign.slice(4, 6)), 'MODEL_MISMATCH', /different models/, { path: 'parts[1].fingerprint' });
    for (const kv of [a, c, foreign]) kv.dispose();
    other.dispose();

    const good = full.toArrays();
    const before = tf.memory().numTensors;
    const bad = (patch: Partial<KVCacheArrays>): KVCacheArrays => ({ ...good, ...patch });
    await expectCode(() => KVCache.fromArrays(bad({ fingerprint: 'abc' })), 'INVALID_INPUT', /fingerprint/);
    await expectCode(() => KVCache.fromArrays(bad({ tokens: 11 })), 'INVALID_INPUT', /Float32Array of 176 values/, {
      path: 'arrays.layers[0].keys',
      expected: 'a Float32Array of 176 values (2×11×8)',
      received: 'a Float32Array of 768 bytes',
    });
    await expectCode(() => KVCache.fromArrays(bad({ tokens: 0 })), 'INVALID_INPUT', /tokens/);
    await expectCode(() => KVCache.fromArrays(bad({ startPosition: -3 })), 'INVALID_INPUT', /startPosition/);
    await expectCode(() => KVCache.fromArrays(bad({ layers: [] })), 'INVALID_INPUT', /layers/);
    await expectCode(() => KVCache.fromArrays(bad({ layers: [{ keys: new Float32Array(192), values: [] as unknown as Float32Array }] })), 'INVALID_INPUT', /values/);
    assert.equal(tf.memory().numTensors, before, 'failed fromArrays allocates nothing');
  });

  it('a cache rebuilt from arrays is accepted as past by its model and refused by another', async () => {
    const restored = KVCache.fromArrays(full.toArrays());
    const direct = await model.decodeStep(3, full);
    const viaArrays = await model.decodeStep(3, restored);
    assertClose(viaArrays.logits, direct.logits, 0, 'logits from restored cache');
    const forged = KVCache.fromArrays({ ...full.toArrays(), fingerprint: 'f'.repeat(64) });
    await expectCode(() => model.decodeStep(3, forged), 'MODEL_MISMATCH');
    for (const kv of [restored, direct.kv, viaArrays.kv, forged]) kv.dispose();
  });
});
