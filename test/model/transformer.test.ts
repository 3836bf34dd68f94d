import { strict as assert } from 'node:assert';
import { LlamaModel, Tokenizer, createModel, ropeTables, type KVCache } from '../../lib/src/model';
import { SAME_MODEL_TOLERANCE, assertClose, expectCode, maxAbsDiff, smallConfig, tokenIds } from './helpers';
import { describeOnEachBackend } from './backends';

describeOnEachBackend('transformer: KV cache correctness', () => {
  let tiny: LlamaModel;
  const tokenizer = new Tokenizer();
  const prompt = tokenizer.encode('KV caching stores the keys and values of past tokens so each new token costs one step.');

  before(async () => {
    tiny = await createModel('tiny', { seed: 0 });
  });
  after(() => tiny.dispose());

  it('greedy generation with the KV cache gives exactly the tokens (and logits within tolerance) of generation without it', async () => {
    const steps = 16;
    const cached = await tiny.generate(prompt, steps, { useCache: true, returnLogits: true });
    const uncached = await tiny.generate(prompt, steps, { useCache: false, returnLogits: true });
    assert.deepEqual(cached.tokens, uncached.tokens);
    let worst = 0;
    for (let i = 0; i < steps; i++) worst = Math.max(worst, maxAbsDiff(cached.logits![i]!, uncached.logits![i]!));
    assert.ok(worst <= SAME_MODEL_TOLERANCE, `max |Δlogit| over ${steps} steps: ${worst}`);
  });

  it('generates varied text, not one repeated token', async () => {
    const { tokens } = await tiny.generate(prompt, 32);
    assert.ok(new Set(tokens).size >= 8, `only ${new Set(tokens).size} distinct tokens: ${tokens.join(',')}`);
    assert.equal(typeof tokenizer.decode(tokens), 'string');
  });

  it('prefill(prefix) then prefill(suffix, pastKV) equals prefill(prefix + suffix)', async () => {
    const all = tokenIds(40, tiny.config.vocabSize);
    const whole = await tiny.prefill(all);
    try {
      for (const split of [1, 7, 20, 39]) {
        const first = await tiny.prefill(all.slice(0, split));
        const second = await tiny.prefill(all.slice(split), first.kv);
        try {
          assert.equal(second.kv.tokens, all.length);
          assertClose(second.logits, whole.logits, SAME_MODEL_TOLERANCE, `split at ${split}: logits`);
          for (let l = 0; l < tiny.config.numLayers; l++) {
            assertClose(second.kv.layerKeys(l).dataSync(), whole.kv.layerKeys(l).dataSync(), SAME_MODEL_TOLERANCE, `split ${split}: layer ${l} keys`);
            assertClose(second.kv.layerValues(l).dataSync(), whole.kv.layerValues(l).dataSync(), SAME_MODEL_TOLERANCE, `split ${split}: layer ${l} values`);
          }
          // prefill never consumes its input cache
          assert.equal(first.kv.isDisposed, false);
          assert.equal(first.kv.tokens, split);
        } finally {
          first.kv.dispose();
          second.kv.dispose();
        }
      }
    } finally {
      whole.kv.dispose();
    }
  });

  it('prefill results do not depend on the chunk size', async () => {
    const all = tokenIds(50, tiny.config.vocabSize, 3);
    const results: { logits: Float32Array; kv: KVCache }[] = [];
    for (const chunk of [1, 7, 16, 512]) {
      const model = await LlamaModel.fromWeights(tiny.config, tiny.getWeights(), { prefillChunkSize: chunk });
      assert.equal(model.fingerprint, tiny.fingerprint);
      results.push(await model.prefill(all));
      model.dispose();
    }
    for (const r of results.slice(1)) {
      assertClose(r.logits, results[0]!.logits, SAME_MODEL_TOLERANCE, 'logits');
      assertClose(r.kv.layerKeys(1).dataSync(), results[0]!.kv.layerKeys(1).dataSync(), SAME_MODEL_TOLERANCE, 'layer 1 keys');
    }
    for (const r of results) r.kv.dispose();
  });

  for (const [label, overrides] of [
    ['multi-head (kv heads = heads)', { numKvHeads: 4 }],
    ['multi-query (1 kv head)', { numKvHeads: 1 }],
    ['grouped, head_dim ≠ hidden/heads, tied, large θ', { numHeads: 6, numKvHeads: 3, headDim: 10, tieWordEmbeddings: true, ropeTheta: 500000 }],
  ] as const) {
    it(`cached and uncached decoding agree for ${label}`, async () => {
      const model = await createModel(smallConfig(overrides), { seed: 5, prefillChunkSize: 8 });
      try {
        const p = tokenIds(11, model.config.vocabSize, 2);
        const cached = await model.generate(p, 10, { returnLogits: true });
        const uncached = await model.generate(p, 10, { useCache: false, returnLogits: true });
        assert.deepEqual(cached.tokens, uncached.tokens);
        cached.logits!.forEach((l, i) => assertClose(l, uncached.logits![i]!, SAME_MODEL_TOLERANCE, `step ${i}`));
      } finally {
        model.dispose();
      }
    });
  }

  it('decodeStep extends the cache by one token and matches a full prefill', async () => {
    const p = tokenIds(9, tiny.config.vocabSize, 4);
    const first = await tiny.prefill(p.slice(0, 8));
    const step = await tiny.decodeStep(p[8]!, first.kv);
    const full = await tiny.prefill(p);
    assert.equal(step.kv.tokens, 9);
    assert.equal(step.kv.bytes, 2 * 2 * 2 * 9 * 16 * 4);
    assertClose(step.logits, full.logits, SAME_MODEL_TOLERANCE, 'logits');
    for (const kv of [first.kv, step.kv, full.kv]) kv.dispose();
  });

  it('RoPE tables follow the rotate-half convention', () => {
    const { cos, signedSin } = ropeTables(8, 10000, 5);
    const p = 3;
    for (let i = 0; i < 4; i++) {
      const angle = p * Math.pow(10000, -(2 * i) / 8);
      assert.equal(cos[p * 8 + i], Math.fround(Math.cos(angle)));
      assert.equal(cos[p * 8 + 4 + i], Math.fround(Math.cos(angle)));
      assert.equal(signedSin[p * 8 + i], Math.fround(-Math.sin(angle)));
      assert.equal(signedSin[p * 8 + 4 + i], Math.fround(Math.sin(angle)));
    }
  });
});

describe('transformer: bad input gives typed errors', function () {
  let model: LlamaModel;
  let other: LlamaModel;
  before(async () => {
    model = await createModel(smallConfig({ maxContext: 16 }), { seed: 1 });
    other = await createModel(smallConfig({ maxContext: 16 }), { seed: 2 });
  });
  after(() => {
    model.dispose();
    other.dispose();
  });

  it('token ids: empty, out of range, non-integer, wrong type', async () => {
    await expectCode(() => model.prefill([]), 'INVALID_INPUT', /empty/);
    await expectCode(() => model.prefill([1, 97]), 'INVALID_INPUT', /tokens\[1\]: expected a token id inside the vocabulary \[0, 97\), received 97/, {
      path: 'tokens[1]',
      expected: 'a token id inside the vocabulary [0, 97)',
      received: '97',
    });
    await expectCode(() => model.prefill([-1]), 'INVALID_INPUT', /inside the vocabulary/, { path: 'tokens[0]', received: '-1' });
    await expectCode(() => model.prefill([1.5]), 'INVALID_INPUT', /integer/);
    await expectCode(() => model.prefill([NaN]), 'INVALID_INPUT', /NaN/);
    await expectCode(() => model.prefill('hello' as unknown as number[]), 'INVALID_INPUT', /array of token ids/);
    await expectCode(() => model.generate([], 3), 'INVALID_INPUT', /empty/);
    await expectCode(() => model.generate([1], -1), 'INVALID_INPUT', /count/, { path: 'count', expected: 'a non-negative integer', received: '-1' });
    const { kv } = await model.prefill([1, 2]);
    await expectCode(() => model.decodeStep(1000, kv), 'INVALID_INPUT', /inside the vocabulary/, { path: 'token', received: '1000' });
    await expectCode(() => model.decodeStep(1, undefined as unknown as KVCache), 'INVALID_INPUT', /KV cache/);
    kv.dispose();
  });

  it('a KV cache of another model is refused with MODEL_MISMATCH', async () => {
    assert.notEqual(model.fingerprint, other.fingerprint);
    const { kv } = await other.prefill([1, 2, 3]);
    await expectCode(() => model.prefill([4], kv), 'MODEL_MISMATCH', /another model/);
    await expectCode(() => model.decodeStep(4, kv), 'MODEL_MISMATCH', /another model/);
    kv.dispose();
  });

  it('contexts longer than maxContext are refused', async () => {
    await expectCode(() => model.prefill(tokenIds(17, 97)), 'INVALID_INPUT', /≤ the model's maxContext \(16\), received 0 cached \+ 17 new tokens/, { path: 'tokens', limit: 16, actual: 17 });
    await expectCode(() => model.generate(tokenIds(10, 97), 7), 'INVALID_INPUT', /maxContext/);
    const { kv } = await model.prefill(tokenIds(16, 97));
    await expectCode(() => model.decodeStep(1, kv), 'INVALID_INPUT', /16 cached \+ 1 new tokens = 17/, { path: 'token', limit: 16, actual: 17 });
    await expectCode(() => model.prefill([1], kv), 'INVALID_INPUT', /maxContext/);
    kv.dispose();
  });

  it('a disposed or mis-positioned past cache is refused', async () => {
    const { kv } = await model.prefill(tokenIds(6, 97));
    const tail = kv.slice(2, 6);
    await expectCode(() => model.prefill([1], tail), 'INVALID_INPUT', /past\.startPosition: expected a KV cache that starts at position 0, received 2/, { path: 'past.startPosition', received: '2' });
    tail.dispose();
    kv.dispose();
    await expectCode(() => model.decodeStep(1, kv), 'INVALID_INPUT', /disposed/);
    await expectCode(() => model.prefill([1], {} as KVCache), 'INVALID_INPUT', /KVCache/);
  });

  it('bad factories: size-only presets, unknown presets, bad configs and options', async () => {
    await expectCode(() => createModel('llama3-8b'), 'CONFIG_ERROR', /size arithmetic only/);
    await expectCode(() => createModel('huge' as 'tiny'), 'CONFIG_ERROR', /unknown model preset/);
    await expectCode(() => createModel(smallConfig({ numKvHeads: 3 })), 'CONFIG_ERROR');
    await expectCode(() => createModel(smallConfig(), { seed: -1 }), 'INVALID_INPUT', /seed/);
    await expectCode(() => createModel(smallConfig(), { prefillChunkSize: 0 }), 'CONFIG_ERROR', /prefillChunkSize/);
    const weights = model.getWeights();
    weights.delete('model.norm.weight');
    await expectCode(() => LlamaModel.fromWeights(model.config, weights), 'MODEL_MISMATCH', /model\.norm\.weight/);
  });

  it('a disposed model refuses to run', async () => {
    const m = await createModel(smallConfig(), { seed: 3 });
    m.dispose();
    await expectCode(() => m.prefill([1]), 'INVALID_INPUT', /disposed/);
  });
});
