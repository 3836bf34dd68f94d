import { strict as assert } from 'node:assert';
import { LlamaModel, Tokenizer, initWeights, kvBytesPerToken, type ModelConfig } from '../../lib/src/model';
import {
  attentionWalkthrough,
  formatKvBytes,
  kvSizeTable,
  measureKvBytes,
  sharedPrefixSavings,
  timeDecoding,
  timeGeneration,
  timePrefill,
} from '../../lib/src/notebook/kv-basics';
import { tf } from '../../lib/src/runtime';
import { SAME_MODEL_TOLERANCE, expectCode, maxAbsDiff, smallConfig, tokenIds } from '../model/helpers';

const quiet = { showProgress: false } as const;

describe('notebook 01 helpers (kv-basics)', function () {
  let tiny: LlamaModel;
  const tokenizer = new Tokenizer();
  const sentence = tokenizer.encode('The cat sat on the mat because it was tired.');
  let tensorsBefore = 0;

  before(async () => {
    tiny = await LlamaModel.create('tiny', { seed: 0 });
    tensorsBefore = tf.memory().numTensors;
  });
  after(() => {
    // Every helper frees what it allocates: only the model's own tensors remain.
    assert.equal(tf.memory().numTensors, tensorsBefore, 'tensors leaked by the kv-basics helpers');
    tiny.dispose();
  });

  describe('attentionWalkthrough', () => {
    it('returns causal softmax rows that sum to 1, and K/V equal to the model cache', async () => {
      const w = await attentionWalkthrough(tiny, sentence, { head: 3, tokenizer });
      const T = sentence.length;
      assert.equal(w.kvHead, 1, 'query head 3 of 4 with 2 kv heads reads kv head 1');
      assert.equal(w.labels.length, T);
      assert.equal(new Set(w.labels).size, T, 'labels are unique');
      assert.match(w.labels[1]!, /^1 ␣cat$/);
      for (const m of [w.queries, w.keys, w.values, w.output]) {
        assert.equal(m.length, T);
        for (const row of m) assert.equal(row.length, tiny.config.headDim);
      }
      w.weights.forEach((row, i) => {
        assert.equal(row.length, T);
        const sum = row.reduce((a, b) => a + b, 0);
        assert.ok(Math.abs(sum - 1) < 1e-5, `row ${i} sums to ${sum}`);
        row.forEach((p, j) => {
          if (j > i) {
            assert.equal(p, 0, `token ${i} must not see later token ${j}`);
            assert.equal(w.scores[i]![j], null);
          } else {
            assert.ok(p > 0 && typeof w.scores[i]![j] === 'number');
          }
        });
      });
      assert.ok(w.kvRecomputeMaxDiff < 1e-4, `K/V recomputed from weights differ from the cache by ${w.kvRecomputeMaxDiff}`);
      assert.ok(w.prefixKvMaxDiff < SAME_MODEL_TOLERANCE, `earlier tokens' K/V changed by ${w.prefixKvMaxDiff}`);
      assert.ok(w.decodeRowMaxDiff < 1e-5, `decode-step attention row differs by ${w.decodeRowMaxDiff}`);
    });

    it('scores, softmax and output agree with a plain-JavaScript recomputation from its own Q, K, V', async () => {
      const w = await attentionWalkthrough(tiny, sentence.slice(0, 7), { head: 0 });
      const d = w.headDim;
      const T = w.tokens.length;
      for (let i = 0; i < T; i++) {
        const raw: number[] = [];
        for (let j = 0; j <= i; j++) raw.push(w.queries[i]!.reduce((s, q, c) => s + q * w.keys[j]![c]!, 0) / Math.sqrt(d));
        assert.ok(maxAbsDiff(raw, w.scores[i]!.slice(0, i + 1) as number[]) < 1e-4, `scores row ${i}`);
        const top = Math.max(...raw);
        const e = raw.map((s) => Math.exp(s - top));
        const z = e.reduce((a, b) => a + b, 0);
        const p = e.map((x) => x / z);
        assert.ok(maxAbsDiff(p, w.weights[i]!.slice(0, i + 1)) < 1e-5, `softmax row ${i}`);
        const out = Array.from({ length: d }, (_, c) => p.reduce((s, pj, j) => s + pj * w.values[j]![c]!, 0));
        assert.ok(maxAbsDiff(out, w.output[i]!) < 1e-4, `output row ${i}`);
      }
    });

    it("matches the model's own attention output for every head (1-layer model whose logits expose layer 0's attention)", async () => {
      // o_proj = identity, MLP switched off (down_proj = 0), final norm gain 1, lm_head rows 0…h-1 = identity:
      // logits[0…h) = RMSNorm(embedding(last) + concat over heads of the attention output of the last token).
      const config: ModelConfig = smallConfig({ numLayers: 1, vocabSize: 64, hiddenSize: 32, numHeads: 4, numKvHeads: 2, headDim: 8, intermediateSize: 16 });
      const h = config.hiddenSize;
      const weights = initWeights(config, 11);
      const identity = (rows: number, cols: number): Float32Array => {
        const a = new Float32Array(rows * cols);
        for (let i = 0; i < Math.min(rows, cols); i++) a[i * cols + i] = 1;
        return a;
      };
      weights.set('model.layers.0.self_attn.o_proj.weight', identity(h, h));
      weights.set('model.layers.0.mlp.down_proj.weight', new Float32Array(h * config.intermediateSize));
      weights.set('model.norm.weight', new Float32Array(h).fill(1));
      weights.set('lm_head.weight', identity(config.vocabSize, h));
      const probe = await LlamaModel.fromWeights(config, weights);
      try {
        const tokens = [5, 17, 3, 42, 8, 29, 61];
        const T = tokens.length;
        const x = Array.from(weights.get('model.embed_tokens.weight')!.subarray(tokens[T - 1]! * h, (tokens[T - 1]! + 1) * h));
        for (let head = 0; head < config.numHeads; head++) {
          const w = await attentionWalkthrough(probe, tokens, { head });
          assert.equal(w.kvHead, Math.floor(head / 2));
          w.output[T - 1]!.forEach((v, c) => (x[head * config.headDim + c]! += v));
        }
        const rms = Math.sqrt(x.reduce((s, v) => s + v * v, 0) / h + config.rmsNormEps);
        const expected = x.map((v) => v / rms);
        const { logits, kv } = await probe.prefill(tokens);
        kv.dispose();
        const d = maxAbsDiff(expected, logits.subarray(0, h));
        assert.ok(d < 1e-4, `walkthrough attention differs from the model's by ${d}`);
      } finally {
        probe.dispose();
      }
    });

    it('rejects bad input with INVALID_INPUT', async () => {
      await expectCode(() => attentionWalkthrough({} as LlamaModel, sentence), 'INVALID_INPUT', /LlamaModel/);
      await expectCode(() => attentionWalkthrough(tiny, [1]), 'INVALID_INPUT', /at least 2/);
      await expectCode(() => attentionWalkthrough(tiny, tokenIds(65, 1000)), 'INVALID_INPUT', /at most 64/);
      await expectCode(() => attentionWalkthrough(tiny, sentence, { head: 4 }), 'INVALID_INPUT', /head/);
      await expectCode(() => attentionWalkthrough(tiny, [1, 2, 60000]), 'INVALID_INPUT', /tokens\[2\]/);
      await expectCode(() => attentionWalkthrough(tiny, 'text' as unknown as number[]), 'INVALID_INPUT');
    });
  });

  describe('decoding with and without the cache', () => {
    it('timeDecoding: one row per length, in order; both paths choose the greedy next token', async () => {
      const lengths = [4, 20, 9];
      const prompt = tokenIds(20, tiny.config.vocabSize, 5);
      const rows = await timeDecoding(tiny, { lengths, repeats: 2, prompt, ...quiet });
      assert.deepEqual(rows.map((r) => r.contextLength), lengths);
      for (const r of rows) {
        assert.ok(r.cachedMs > 0 && Number.isFinite(r.cachedMs) && r.uncachedMs > 0 && Number.isFinite(r.uncachedMs));
        assert.equal(r.speedup, r.uncachedMs / r.cachedMs);
        assert.equal(r.cachedNextToken, r.uncachedNextToken, `length ${r.contextLength}`);
        const expected = await tiny.generate(prompt.slice(0, r.contextLength), 1);
        assert.equal(r.cachedNextToken, expected.tokens[0]);
      }
    });

    it('timeGeneration: both paths generate the tokens of model.generate; totals are running sums', async () => {
      const prompt = tokenizer.encode('Once upon a time');
      const g = await timeGeneration(tiny, { prompt, newTokens: 12, ...quiet });
      const reference = await tiny.generate(prompt, 12, { useCache: false });
      assert.deepEqual(g.cachedTokens, reference.tokens);
      assert.deepEqual(g.uncachedTokens, reference.tokens);
      assert.equal(g.identical, true);
      assert.equal(g.promptTokens, prompt.length);
      assert.equal(g.steps.length, 12);
      let c = 0;
      let u = 0;
      g.steps.forEach((s, i) => {
        assert.equal(s.step, i + 1);
        assert.equal(s.contextLength, prompt.length + i);
        c += s.cachedMs;
        u += s.uncachedMs;
        assert.ok(Math.abs(s.cachedTotalMs - c) < 1e-9 && Math.abs(s.uncachedTotalMs - u) < 1e-9);
      });
      const synthetic = await timeGeneration(tiny, { newTokens: 2, promptTokens: 5, ...quiet });
      assert.equal(synthetic.promptTokens, 5);
    });

    it('timePrefill: one row per length with the first greedy token', async () => {
      const prompt = tokenIds(40, tiny.config.vocabSize, 9);
      const rows = await timePrefill(tiny, [8, 40], { repeats: 2, prompt, ...quiet });
      assert.deepEqual(rows.map((r) => r.promptTokens), [8, 40]);
      for (const r of rows) {
        assert.ok(r.ttftMs > 0 && Math.abs(r.msPerPromptToken - r.ttftMs / r.promptTokens) < 1e-12);
        assert.equal(r.firstToken, (await tiny.generate(prompt.slice(0, r.promptTokens), 1)).tokens[0]);
      }
    });

    it('rejects bad input with INVALID_INPUT', async () => {
      await expectCode(() => timeDecoding(tiny, { lengths: [] }), 'INVALID_INPUT', /non-empty/);
      await expectCode(() => timeDecoding(tiny, { lengths: [1] }), 'INVALID_INPUT', /lengths\[0\]/);
      await expectCode(() => timeDecoding(tiny, { lengths: [4, 4096] }), 'INVALID_INPUT', /lengths\[1\]/);
      await expectCode(() => timeDecoding(tiny, { lengths: [8], prompt: [1, 2, 3] }), 'INVALID_INPUT', /at least 8/);
      await expectCode(() => timeDecoding(tiny, { lengths: [8], repeats: 0 }), 'INVALID_INPUT', /repeats/);
      await expectCode(() => timeGeneration(tiny, { newTokens: 0 }), 'INVALID_INPUT', /newTokens/);
      await expectCode(() => timeGeneration(tiny, { newTokens: 10, prompt: tokenIds(2040, 50000) }), 'INVALID_INPUT', /maxContext/);
      await expectCode(() => timePrefill(tiny, [0]), 'INVALID_INPUT');
      await expectCode(() => timePrefill(tiny, [2.5]), 'INVALID_INPUT');
      const gone = await LlamaModel.create('tiny', { seed: 1 });
      gone.dispose();
      await expectCode(() => timePrefill(gone, [4]), 'INVALID_INPUT', /disposed/);
    });
  });

  describe('KV bytes', () => {
    it('kvSizeTable matches kvBytesPerToken arithmetic for the real shapes', () => {
      const rows = kvSizeTable(['llama2-7b', 'llama3-8b', 'llama3-70b']);
      const [l2, l3, l70] = rows;
      assert.equal(l3!.bytesPerToken, 131072); // 2 × 32 layers × 8 kv heads × 128 × 2 bytes
      assert.equal(l3!.bytesPerPrompt, 2 ** 30); // 8 192 tokens → exactly 1 GiB
      assert.equal(l3!.bytesForSessions, 100 * 2 ** 30);
      assert.deepEqual([l3!.perToken, l3!.perPrompt, l3!.forSessions], ['128 KiB', '1 GiB', '100 GiB']);
      assert.equal(l2!.bytesPerToken, 2 * 32 * 32 * 128 * 2);
      assert.equal(l70!.bytesPerToken, 2 * 80 * 8 * 128 * 2);
      assert.equal(l70!.forSessions, '250 GiB');
      for (const r of rows) assert.equal(r.bytesPerToken, kvBytesPerToken({ numLayers: r.layers, numKvHeads: r.kvHeads, headDim: r.headDim }, 2));
      const [fp32] = kvSizeTable([tiny.config], { bytesPerValue: 4, tokens: 10, sessions: 3 });
      assert.equal(fp32!.bytesPerToken, 2 * 2 * 2 * 16 * 4);
      assert.equal(fp32!.bytesForSessions, 512 * 10 * 3);
      assert.equal(kvSizeTable(['default'], { bytesPerValue: 4 })[0]!.perToken, '4.5 KiB');
    });

    it('formatKvBytes uses binary units', () => {
      assert.equal(formatKvBytes(0), '0 B');
      assert.equal(formatKvBytes(1023), '1023 B');
      assert.equal(formatKvBytes(1536), '1.5 KiB');
      assert.equal(formatKvBytes(1023 * 1024), '1023 KiB');
      assert.equal(formatKvBytes(3 * 2 ** 40), '3 TiB');
      assert.throws(() => formatKvBytes(-1), { code: 'INVALID_INPUT' });
    });

    it("measureKvBytes: the model's real cache is exactly the formula's size", async () => {
      const m = await measureKvBytes(tiny, 33);
      assert.equal(m.measuredBytes, kvBytesPerToken(tiny.config, 4) * 33);
      assert.equal(m.formulaBytes, m.measuredBytes);
      assert.equal(m.measuredBytesPerToken, 512);
    });

    it('rejects bad input with INVALID_INPUT', async () => {
      assert.throws(() => kvSizeTable([]), { code: 'INVALID_INPUT' });
      assert.throws(() => kvSizeTable(['gpt-5' as 'tiny']), { code: 'INVALID_INPUT' });
      assert.throws(() => kvSizeTable(['tiny'], { bytesPerValue: 0 }), { code: 'INVALID_INPUT' });
      assert.throws(() => kvSizeTable(['tiny'], { bytesPerValue: NaN }), { code: 'INVALID_INPUT' });
      assert.throws(() => kvSizeTable(['tiny'], { tokens: -5 }), { code: 'INVALID_INPUT' });
      assert.throws(() => kvSizeTable(['tiny'], { sessions: 1.5 }), { code: 'INVALID_INPUT' });
      assert.throws(() => kvSizeTable([42 as unknown as 'tiny']), { code: 'INVALID_INPUT' });
      await expectCode(() => measureKvBytes(tiny, 0), 'INVALID_INPUT');
    });
  });

  describe('sharedPrefixSavings', () => {
    it('reuses exactly the system prompt for every request after the first, with the same first token', async () => {
      // 100 system tokens: not a multiple of the prefill chunk, so the two paths really compute differently.
      const s = await sharedPrefixSavings(tiny, tokenizer, { systemPromptTokens: 100, requests: 4, questionTokens: 12, repeats: 2, ...quiet });
      assert.equal(s.rows.length, 4);
      s.rows.forEach((r, i) => {
        assert.equal(r.request, i);
        assert.equal(r.promptTokens, 112);
        assert.equal(r.reusedTokens, i === 0 ? 0 : 100);
        assert.equal(r.computedTokens, i === 0 ? 112 : 12);
        assert.equal(r.sameFirstToken, true);
        assert.equal(r.fullFirstToken, r.reusedFirstToken);
        assert.ok(r.maxLogitDiff <= SAME_MODEL_TOLERANCE, `request ${i}: logits differ by ${r.maxLogitDiff}`);
        assert.ok(r.fullMs > 0 && r.reusedMs > 0);
      });
      assert.equal(s.tokensComputedFull, 4 * 112);
      assert.equal(s.tokensComputedReused, 112 + 3 * 12);
      assert.equal(s.prefixKvBytes, kvBytesPerToken(tiny.config, 4) * 100);
      assert.ok(Math.abs(s.totalFullMs - s.rows.reduce((a, r) => a + r.fullMs, 0)) < 1e-9);
      assert.equal(s.speedup, s.totalFullMs / s.totalReusedMs);
      assert.match(s.systemPromptPreview, /^System: You are the support assistant/);
    });

    it('first tokens equal those of a plain prefill of the same prompts', async () => {
      const s = await sharedPrefixSavings(tiny, tokenizer, { systemPromptTokens: 30, requests: 3, questionTokens: 5, ...quiet });
      assert.equal(s.systemPromptIds.length, 30);
      assert.equal(s.questionIds.length, 3);
      assert.equal(new Set(s.questionIds.map((q) => q.join(','))).size, 3, 'every request asks something else');
      for (const [i, q] of s.questionIds.entries()) {
        assert.equal(q.length, 5);
        const { logits, kv } = await tiny.prefill(s.systemPromptIds.concat(q));
        kv.dispose();
        const best = logits.indexOf(Math.max(...logits));
        assert.equal(s.rows[i]!.fullFirstToken, best);
        assert.equal(s.rows[i]!.reusedFirstToken, best);
      }
    });

    it('rejects bad input with INVALID_INPUT', async () => {
      const ok = { systemPromptTokens: 10, requests: 2, questionTokens: 4, ...quiet };
      await expectCode(() => sharedPrefixSavings(tiny, {} as Tokenizer, ok), 'INVALID_INPUT', /Tokenizer/);
      await expectCode(() => sharedPrefixSavings(tiny, tokenizer, { ...ok, requests: 0 }), 'INVALID_INPUT', /requests/);
      await expectCode(() => sharedPrefixSavings(tiny, tokenizer, { ...ok, systemPromptTokens: 2000, questionTokens: 100 }), 'INVALID_INPUT', /maxContext/);
      await expectCode(() => sharedPrefixSavings(tiny, tokenizer, { ...ok, questionTokens: 0 }), 'INVALID_INPUT', /questionTokens/);
      await expectCode(() => sharedPrefixSavings(tiny, tokenizer, { ...ok, repeats: 0 }), 'INVALID_INPUT', /repeats/);
      await expectCode(() => sharedPrefixSavings(tiny, tokenizer, null as unknown as typeof ok), 'INVALID_INPUT', /options/);
    });
  });
});
