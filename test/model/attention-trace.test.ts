import { strict as assert } from 'node:assert';
import { LlamaModel, createModel, ropeTables, type AttentionTrace, type ModelConfig } from '../../lib/src/model';
import { tf } from '../../lib/src/runtime';
import { SAME_MODEL_TOLERANCE, assertClose, expectCode, smallConfig, tokenIds } from './helpers';
import { describeOnEachBackend } from './backends';

/** Float64 causal attention of every query head from the trace's own q, k, v: [heads, tokens, headDim]. */
function referenceOutput(t: AttentionTrace): Float64Array {
  const { numHeads, numKvHeads, tokens: T, headDim: d } = t;
  const out = new Float64Array(numHeads * T * d);
  for (let h = 0; h < numHeads; h++) {
    const kvh = Math.floor(h / (numHeads / numKvHeads));
    for (let i = 0; i < T; i++) {
      const scores: number[] = [];
      for (let j = 0; j <= i; j++) {
        let s = 0;
        for (let c = 0; c < d; c++) s += t.queries[(h * T + i) * d + c]! * t.keys[(kvh * T + j) * d + c]!;
        scores.push(s / Math.sqrt(d));
      }
      const top = Math.max(...scores);
      const e = scores.map((s) => Math.exp(s - top));
      const z = e.reduce((a, b) => a + b, 0);
      for (let j = 0; j <= i; j++) {
        for (let c = 0; c < d; c++) out[(h * T + i) * d + c]! += (e[j]! / z) * t.values[(kvh * T + j) * d + c]!;
      }
    }
  }
  return out;
}

/** Layer 0's queries recomputed in float64 from the HF weights: RMSNorm → q_proj → RoPE. */
function layer0Queries(model: LlamaModel, ids: number[]): Float64Array {
  const c = model.config;
  const w = model.getWeights();
  const emb = w.get('model.embed_tokens.weight')!;
  const gain = w.get('model.layers.0.input_layernorm.weight')!;
  const wq = w.get('model.layers.0.self_attn.q_proj.weight')!;
  const { hiddenSize: H, headDim: d, numHeads } = c;
  const T = ids.length;
  const rope = ropeTables(d, c.ropeTheta, T);
  const out = new Float64Array(numHeads * T * d);
  ids.forEach((id, i) => {
    const x = Array.from(emb.subarray(id * H, (id + 1) * H));
    const rms = Math.sqrt(x.reduce((s, v) => s + v * v, 0) / H + c.rmsNormEps);
    const xn = x.map((v, k) => (v / rms) * gain[k]!);
    for (let h = 0; h < numHeads; h++) {
      const q = Array.from({ length: d }, (_, r) => xn.reduce((s, v, k) => s + v * wq[(h * d + r) * H + k]!, 0));
      for (let r = 0; r < d; r++) {
        const swapped = r < d / 2 ? q[r + d / 2]! : q[r - d / 2]!;
        out[(h * T + i) * d + r] = q[r]! * rope.cos[i * d + r]! + swapped * rope.signedSin[i * d + r]!;
      }
    }
  });
  return out;
}

/** Rows 0 … n-1 of every head of a [heads, tokens, headDim] array. */
function firstRows(data: Float32Array, heads: number, tokens: number, n: number, d: number): Float32Array {
  const out = new Float32Array(heads * n * d);
  for (let h = 0; h < heads; h++) out.set(data.subarray(h * tokens * d, (h * tokens + n) * d), h * n * d);
  return out;
}

describeOnEachBackend('LlamaModel.traceAttention: one layer’s attention as the model computes it', () => {
  const configs: [string, Partial<ModelConfig>][] = [
    ['grouped-query (4 heads, 2 kv heads)', {}],
    ['multi-head (kv heads = heads)', { numKvHeads: 4 }],
    ['multi-query, head_dim ≠ hidden/heads', { numHeads: 6, numKvHeads: 1, headDim: 10 }],
  ];
  let tensorsBefore = 0;
  before(() => {
    tensorsBefore = tf.memory().numTensors;
  });
  after(() => assert.equal(tf.memory().numTensors, tensorsBefore, 'tensors leaked by traceAttention'));

  for (const [label, overrides] of configs) {
    it(`${label}: K, V are the cache's; each head's output is causal softmax(q·kᵀ/√d)·v of the traced q, k, v`, async () => {
      const model = await createModel(smallConfig({ numLayers: 3, ...overrides }), { seed: 3 });
      const ids = tokenIds(11, model.config.vocabSize, 2);
      const { kv } = await model.prefill(ids);
      try {
        for (let layer = 0; layer < model.config.numLayers; layer++) {
          const t = await model.traceAttention(ids, layer);
          const c = model.config;
          assert.deepEqual([t.layer, t.tokens, t.numHeads, t.numKvHeads, t.headDim], [layer, 11, c.numHeads, c.numKvHeads, c.headDim]);
          assert.equal(t.queries.length, c.numHeads * 11 * c.headDim);
          assertClose(t.keys, kv.layerKeys(layer).dataSync(), SAME_MODEL_TOLERANCE, `layer ${layer} keys`);
          assertClose(t.values, kv.layerValues(layer).dataSync(), SAME_MODEL_TOLERANCE, `layer ${layer} values`);
          assertClose(t.output, referenceOutput(t), 1e-5, `layer ${layer} output`);
        }
      } finally {
        kv.dispose();
        model.dispose();
      }
    });
  }

  it('layer 0 queries equal RMSNorm → q_proj → RoPE recomputed from the weights', async () => {
    const model = await createModel(smallConfig(), { seed: 9 });
    const ids = tokenIds(9, model.config.vocabSize, 4);
    try {
      const t = await model.traceAttention(ids, 0);
      assertClose(t.queries, layer0Queries(model, ids), 1e-5, 'layer 0 queries');
    } finally {
      model.dispose();
    }
  });

  it('is causal: tracing the first n tokens gives the first n rows of tracing all of them', async () => {
    const model = await createModel('tiny', { seed: 0 });
    const ids = tokenIds(14, model.config.vocabSize, 5);
    try {
      const all = await model.traceAttention(ids, 1);
      const part = await model.traceAttention(ids.slice(0, 6), 1);
      const { numHeads: H, numKvHeads: K, headDim: d } = all;
      assertClose(part.queries, firstRows(all.queries, H, 14, 6, d), SAME_MODEL_TOLERANCE, 'queries');
      assertClose(part.keys, firstRows(all.keys, K, 14, 6, d), SAME_MODEL_TOLERANCE, 'keys');
      assertClose(part.output, firstRows(all.output, H, 14, 6, d), SAME_MODEL_TOLERANCE, 'output');
    } finally {
      model.dispose();
    }
  });

  it('refuses a bad layer, bad tokens and a disposed model with typed errors', async () => {
    const model = await createModel(smallConfig(), { seed: 1 });
    await expectCode(() => model.traceAttention([1, 2, 3], 2), 'INVALID_INPUT', /layer/);
    await expectCode(() => model.traceAttention([1, 2, 3], -1), 'INVALID_INPUT', /layer/);
    await expectCode(() => model.traceAttention([1, 2, 3], 0.5), 'INVALID_INPUT', /layer/);
    await expectCode(() => model.traceAttention([1, 500], 0), 'INVALID_INPUT');
    await expectCode(() => model.traceAttention(tokenIds(300, 97), 0), 'INVALID_INPUT', /maxContext/);
    model.dispose();
    await expectCode(() => model.traceAttention([1, 2], 0), 'INVALID_INPUT', /disposed/);
  });
});
