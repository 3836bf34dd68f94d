import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../runtime/backend';
import { ConfigError, InvalidInputError, ModelMismatchError, describeValue } from '../runtime/errors';
import { validateModelConfig, type ModelConfig } from './config';
import { readCheckpoint, weightsFromSafetensors, weightsToSafetensors, writeCheckpoint } from './checkpoint';
import { configFromHuggingFace } from './hf-config';
import { argmax, checkTokenId, checkTokenIds } from './inputs';
import { KVCache } from './kv-cache';
import { getPreset, isPresetName, isSizeOnlyPreset, type PresetName } from './presets';
import { applyRope, ropeTables } from './rope';
import { keepAttention, readAttention, type AttentionTap, type AttentionTrace, type KeptAttention } from './attention-trace';
import { computeFingerprint, initWeights, weightSpecs, type LlamaWeights } from './weights';

/** Options of a {@link LlamaModel} however it is built (created, loaded or from weights): how prefill is chunked. */
export interface ModelOptions {
  /**
   * Prompt tokens processed per forward pass in `prefill`. Bounds the attention score matrix to
   * chunk × context instead of prompt × context; results equal an unchunked prefill within float error.
   * @default 512
   */
  prefillChunkSize?: number;
}

/** Options of {@link LlamaModel.create}: the {@link ModelOptions} plus the seed of the random weights. */
export interface CreateModelOptions extends ModelOptions {
  /** Seed of the weights: same (config, seed) → bit-identical weights and fingerprint everywhere. @default 0 */
  seed?: number;
}

/** The defaults of {@link CreateModelOptions}: seed 0, prefill in chunks of 512 tokens. */
export const DEFAULT_MODEL_OPTIONS: Readonly<Required<CreateModelOptions>> = Object.freeze({ seed: 0, prefillChunkSize: 512 });

/** Options of {@link LlamaModel.generate}: decode with or without the KV cache, and whether to return the logits. */
export interface GenerateOptions {
  /** Decode with the KV cache (prefill once, then one token per step) or recompute the whole sequence each step. @default true */
  useCache?: boolean;
  /** Also return the logits each generated token was chosen from. @default false */
  returnLogits?: boolean;
}

/** The defaults of {@link GenerateOptions}: use the KV cache, return no logits. */
export const DEFAULT_GENERATE_OPTIONS: Readonly<Required<GenerateOptions>> = Object.freeze({ useCache: true, returnLogits: false });

/** What `prefill` and `decodeStep` return: the logits for the next token and the KV cache extended by the new tokens. */
export interface ForwardResult {
  /** Logits for the token after the last input token, length vocabSize. */
  logits: Float32Array;
  /** Keys and values of every token so far (past + new). The caller owns it: dispose it when done. */
  kv: KVCache;
}

/** What {@link LlamaModel.generate} returns: the generated token ids (and, if asked for, each step's logits). */
export interface GenerateResult {
  /** Generated token ids (the prompt not included). */
  tokens: number[];
  /** With `returnLogits`: the logits each generated token was the argmax of. */
  logits?: Float32Array[];
}

/** Additive attention bias for masked (future) positions: exp underflows to exactly 0 in float32. */
const MASKED_SCORE = -1e9;

interface LayerTensors {
  inputNorm: tf.Tensor1D;
  // Projections are kept [in, out] (transposed from HF's [out, in]): the wasm backend's matMul is
  // ~10× slower with transposeB than on pre-transposed weights.
  q: tf.Tensor2D;
  k: tf.Tensor2D;
  v: tf.Tensor2D;
  o: tf.Tensor2D;
  postNorm: tf.Tensor1D;
  gate: tf.Tensor2D;
  up: tf.Tensor2D;
  down: tf.Tensor2D;
}

interface ModelTensors {
  /** [vocab, hidden], for the lookup. */
  embedding: tf.Tensor2D;
  layers: LayerTensors[];
  finalNorm: tf.Tensor1D;
  /** [hidden, vocab]: the output head, transposed (a separate transposed copy of the embedding when tied). */
  headT: tf.Tensor2D;
  ropeCos: tf.Tensor3D;
  ropeSignedSin: tf.Tensor3D;
}

/**
 * A Llama-architecture decoder-only transformer running on TensorFlow.js, with an explicit KV cache.
 * Inputs are unbatched token-id sequences. Create it with {@link LlamaModel.create} (seeded weights
 * from a preset or config) or {@link LlamaModel.load} (a Hugging Face checkpoint folder).
 */
export class LlamaModel {
  readonly config: Readonly<ModelConfig>;
  /** SHA-256 hex of config + weights; KV caches carry it so they are never mixed between models. */
  readonly fingerprint: string;
  private readonly tensors: ModelTensors;
  private readonly prefillChunkSize: number;
  private disposed = false;

  private constructor(config: Readonly<ModelConfig>, weights: LlamaWeights, options: ModelOptions) {
    this.config = config;
    this.fingerprint = computeFingerprint(config, weights);
    this.prefillChunkSize = checkChunkSize(options.prefillChunkSize ?? DEFAULT_MODEL_OPTIONS.prefillChunkSize);
    this.tensors = buildTensors(config, weights);
  }

  /** A model with seeded weights from a runnable preset (`tiny`, `default`) or a config. */
  static async create(presetOrConfig: PresetName | ModelConfig, options: CreateModelOptions = {}): Promise<LlamaModel> {
    const config = resolveConfig(presetOrConfig);
    const seed = options.seed ?? DEFAULT_MODEL_OPTIONS.seed;
    await initBackend();
    return new LlamaModel(config, initWeights(config, seed), options);
  }

  /** A model from HF-layout weights (e.g. from {@link LlamaModel.getWeights} or your own code). Shapes are checked. */
  static async fromWeights(config: ModelConfig, weights: LlamaWeights, options: ModelOptions = {}): Promise<LlamaModel> {
    const valid = validateModelConfig(config);
    for (const spec of weightSpecs(valid)) {
      const data = weights.get(spec.name);
      const size = spec.shape.reduce((a, b) => a * b, 1);
      if (!(data instanceof Float32Array) || data.length !== size) {
        throw new ModelMismatchError({
          path: `weights[${JSON.stringify(spec.name)}]`,
          expected: `a Float32Array of ${size} values [${spec.shape.join(', ')}]`,
          received: describeValue(data),
        });
      }
    }
    await initBackend();
    return new LlamaModel(valid, weights, options);
  }

  /** A model from safetensors bytes and a parsed Hugging Face config.json object. */
  static async fromSafetensors(bytes: Uint8Array, huggingFaceConfig: unknown, options: ModelOptions = {}): Promise<LlamaModel> {
    const config = configFromHuggingFace(huggingFaceConfig);
    const weights = weightsFromSafetensors(bytes, config);
    await initBackend();
    return new LlamaModel(config, weights, options);
  }

  /** A model from a Hugging Face checkpoint folder (`config.json` + `model.safetensors`; F32, F16 or BF16). */
  static async load(dir: string, options: ModelOptions = {}): Promise<LlamaModel> {
    const { config, weights } = await readCheckpoint(dir);
    await initBackend();
    return new LlamaModel(config, weights, options);
  }

  /** Save as a Hugging Face checkpoint folder (F32). Loading it back gives bit-identical weights. */
  async save(dir: string): Promise<void> {
    await writeCheckpoint(dir, this.config, this.getWeights(), { kvcache_lab_fingerprint: this.fingerprint });
  }

  /** The weights as safetensors bytes (F32, HF Llama names). */
  toSafetensors(): Uint8Array {
    return weightsToSafetensors(this.config, this.getWeights(), { kvcache_lab_fingerprint: this.fingerprint });
  }

  /** A copy of the weights in the HF layout (Linear weights [out, in]). */
  getWeights(): LlamaWeights {
    this.assertUsable();
    const t = this.tensors;
    const read = (x: tf.Tensor): Float32Array => (x.dataSync() as Float32Array).slice();
    const readTransposed = (x: tf.Tensor2D): Float32Array => {
      const back = tf.transpose(x);
      try {
        return read(back);
      } finally {
        back.dispose();
      }
    };
    const weights: LlamaWeights = new Map();
    weights.set('model.embed_tokens.weight', read(t.embedding));
    t.layers.forEach((l, i) => {
      const p = `model.layers.${i}`;
      weights.set(`${p}.input_layernorm.weight`, read(l.inputNorm));
      weights.set(`${p}.self_attn.q_proj.weight`, readTransposed(l.q));
      weights.set(`${p}.self_attn.k_proj.weight`, readTransposed(l.k));
      weights.set(`${p}.self_attn.v_proj.weight`, readTransposed(l.v));
      weights.set(`${p}.self_attn.o_proj.weight`, readTransposed(l.o));
      weights.set(`${p}.post_attention_layernorm.weight`, read(l.postNorm));
      weights.set(`${p}.mlp.gate_proj.weight`, readTransposed(l.gate));
      weights.set(`${p}.mlp.up_proj.weight`, readTransposed(l.up));
      weights.set(`${p}.mlp.down_proj.weight`, readTransposed(l.down));
    });
    weights.set('model.norm.weight', read(t.finalNorm));
    if (!this.config.tieWordEmbeddings) weights.set('lm_head.weight', readTransposed(t.headT));
    return weights;
  }

  /**
   * Run the prompt `tokens` (after the cached `past`, if given) through the model.
   * Returns the logits for the next token and a new KV cache covering past + tokens.
   * `past` must come from this model, start at position 0, and is left untouched (still yours to dispose).
   */
  async prefill(tokens: ArrayLike<number>, past?: KVCache): Promise<ForwardResult> {
    this.assertUsable();
    const ids = checkTokenIds(tokens, this.config.vocabSize, 'tokens');
    if (past !== undefined) this.checkPast(past, ids.length, 'past', 'tokens');
    else this.checkLength(0, ids.length, 'tokens');
    let kv = past;
    let logits: tf.Tensor2D | undefined;
    for (let start = 0; start < ids.length; start += this.prefillChunkSize) {
      const chunk = ids.subarray(start, start + this.prefillChunkSize);
      const isLast = start + this.prefillChunkSize >= ids.length;
      const next = this.forward(chunk, kv, isLast);
      if (kv !== past) kv?.dispose();
      kv = next.kv;
      if (next.logits !== undefined) logits = next.logits;
    }
    return { logits: await takeLogits(logits as tf.Tensor2D), kv: kv as KVCache };
  }

  /** Feed one token after the cached `kv` (left untouched): logits for the following token and the extended cache. */
  async decodeStep(token: number, kv: KVCache): Promise<ForwardResult> {
    this.assertUsable();
    const id = checkTokenId(token, this.config.vocabSize, 'token');
    if (kv === undefined) throw new InvalidInputError({ path: 'kv', expected: 'the KV cache returned by prefill or a previous decodeStep', received: 'undefined' });
    this.checkPast(kv, 1, 'kv', 'token');
    const next = this.forward(Int32Array.of(id), kv, true);
    return { logits: await takeLogits(next.logits as tf.Tensor2D), kv: next.kv };
  }

  /**
   * Greedy generation of `count` tokens after `prompt`. With `useCache: false` every step re-runs
   * the whole sequence — the baseline the KV cache is measured against; both give the same tokens.
   */
  async generate(prompt: ArrayLike<number>, count: number, options: GenerateOptions = {}): Promise<GenerateResult> {
    this.assertUsable();
    const { useCache, returnLogits } = { ...DEFAULT_GENERATE_OPTIONS, ...options };
    const ids = checkTokenIds(prompt, this.config.vocabSize, 'prompt');
    if (!Number.isSafeInteger(count) || count < 0) throw InvalidInputError.at('count', 'a non-negative integer', count);
    this.checkLength(0, ids.length + count, 'prompt, count');
    const tokens: number[] = [];
    const stepLogits: Float32Array[] = [];
    if (count === 0) return returnLogits ? { tokens, logits: stepLogits } : { tokens };
    if (useCache) {
      let { logits, kv } = await this.prefill(ids);
      try {
        for (let i = 0; i < count; i++) {
          const token = argmax(logits);
          tokens.push(token);
          if (returnLogits) stepLogits.push(logits);
          if (i === count - 1) break;
          const next = await this.decodeStep(token, kv);
          kv.dispose();
          ({ logits, kv } = next);
        }
      } finally {
        kv.dispose();
      }
    } else {
      const sequence = Array.from(ids);
      for (let i = 0; i < count; i++) {
        const { logits, kv } = await this.prefill(sequence);
        kv.dispose();
        const token = argmax(logits);
        tokens.push(token);
        if (returnLogits) stepLogits.push(logits);
        sequence.push(token);
      }
    }
    return returnLogits ? { tokens, logits: stepLogits } : { tokens };
  }

  /**
   * Layer `layer`'s attention on `tokens` (from position 0, no cache) exactly as this model computes
   * it: queries, keys, values and each head's output (see {@link AttentionTrace}). For inspection:
   * one unchunked forward pass, so keep the prompt short.
   */
  async traceAttention(tokens: ArrayLike<number>, layer: number): Promise<AttentionTrace> {
    this.assertUsable();
    const ids = checkTokenIds(tokens, this.config.vocabSize, 'traceAttention tokens');
    this.checkLength(0, ids.length, 'traceAttention');
    if (!Number.isSafeInteger(layer) || layer < 0 || layer >= this.config.numLayers) {
      throw new InvalidInputError(`traceAttention layer must be an integer in [0, ${this.config.numLayers}), got ${describeValue(layer)}`);
    }
    let kept: KeptAttention | undefined;
    this.forward(ids, undefined, false, (l, q, k, v, output) => {
      if (l === layer) kept = keepAttention(q, k, v, output);
    }).kv.dispose();
    return readAttention(layer, kept as KeptAttention);
  }

  /** Free the weight tensors. KV caches made by this model stay valid (they own their tensors). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    tf.dispose(this.tensors as unknown as tf.TensorContainer);
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** One forward pass over `ids` placed after `past`; returns the new cache and, if asked, last-position logits. */
  private forward(ids: Int32Array, past: KVCache | undefined, wantLogits: boolean, tap?: AttentionTap): { kv: KVCache; logits?: tf.Tensor2D } {
    const { numLayers, numHeads, numKvHeads, headDim, hiddenSize, rmsNormEps } = this.config;
    const t = this.tensors;
    const count = ids.length;
    const start = past?.endPosition ?? 0;
    const out = tf.tidy(() => {
      let x: tf.Tensor2D = tf.gather(t.embedding, tf.tensor1d(ids, 'int32'));
      const bias = count > 1 ? causalBias(count, start) : undefined;
      const keys: tf.Tensor3D[] = [];
      const values: tf.Tensor3D[] = [];
      for (let l = 0; l < numLayers; l++) {
        const w = t.layers[l] as LayerTensors;
        const h = rmsNorm(x, w.inputNorm, rmsNormEps);
        const q = applyRope(tf.reshape(tf.matMul(h, w.q), [count, numHeads, headDim]), t.ropeCos, t.ropeSignedSin, start);
        const kNew = applyRope(tf.reshape(tf.matMul(h, w.k), [count, numKvHeads, headDim]), t.ropeCos, t.ropeSignedSin, start);
        const vNew = tf.reshape(tf.matMul(h, w.v), [count, numKvHeads, headDim]);
        let k = tf.transpose(kNew, [1, 0, 2]) as tf.Tensor3D;
        let v = tf.transpose(vNew, [1, 0, 2]) as tf.Tensor3D;
        if (past !== undefined) {
          k = tf.concat([past.layerKeys(l), k], 1);
          v = tf.concat([past.layerValues(l), v], 1);
        }
        keys.push(k);
        values.push(v);
        const attended = attention(q, k, v, bias);
        tap?.(l, q, k, v, attended);
        x = tf.add(x, tf.matMul(attended, w.o));
        const h2 = rmsNorm(x, w.postNorm, rmsNormEps);
        const gated = tf.mul(silu(tf.matMul(h2, w.gate)), tf.matMul(h2, w.up));
        x = tf.add(x, tf.matMul(gated, w.down));
      }
      let logits: tf.Tensor2D | undefined;
      if (wantLogits) {
        const last = tf.slice(x, [count - 1, 0], [1, hiddenSize]);
        logits = tf.matMul(rmsNorm(last, t.finalNorm, rmsNormEps), t.headT) as tf.Tensor2D;
      }
      return { keys, values, logits } as unknown as tf.TensorContainer;
    }) as unknown as { keys: tf.Tensor3D[]; values: tf.Tensor3D[]; logits?: tf.Tensor2D };
    const kv = new KVCache({ fingerprint: this.fingerprint, startPosition: 0, keys: out.keys, values: out.values });
    return out.logits === undefined ? { kv } : { kv, logits: out.logits };
  }

  /** `path` names the past cache argument, `tokensPath` the new tokens (for the length check). */
  private checkPast(past: KVCache, newTokens: number, path: string, tokensPath: string): void {
    if (!(past instanceof KVCache)) throw InvalidInputError.at(path, 'a KVCache', past);
    if (past.isDisposed) throw new InvalidInputError({ path, expected: 'a live KV cache', received: 'a KV cache that has been disposed' });
    if (past.fingerprint !== this.fingerprint) {
      throw new ModelMismatchError({
        message: `${path}: the KV cache was made by another model (fingerprint ${past.fingerprint.slice(0, 12)}…, this model is ${this.fingerprint.slice(0, 12)}…)`,
        path: `${path}.fingerprint`,
        expected: `${this.fingerprint.slice(0, 12)}… (this model)`,
        received: `${past.fingerprint.slice(0, 12)}…`,
      });
    }
    const c = this.config;
    if (past.numLayers !== c.numLayers || past.numKvHeads !== c.numKvHeads || past.headDim !== c.headDim) {
      throw new ModelMismatchError({
        path,
        expected: `layers × kv heads × headDim of this model: ${c.numLayers} × ${c.numKvHeads} × ${c.headDim}`,
        received: `${past.numLayers} × ${past.numKvHeads} × ${past.headDim}`,
      });
    }
    if (past.startPosition !== 0) {
      throw new InvalidInputError({
        path: `${path}.startPosition`,
        expected: 'a KV cache that starts at position 0',
        received: String(past.startPosition),
        hint: 'Concat the earlier parts first.',
      });
    }
    this.checkLength(past.tokens, newTokens, tokensPath);
  }

  private checkLength(cached: number, added: number, path: string): void {
    const max = this.config.maxContext;
    if (cached + added > max) {
      throw new InvalidInputError({
        path,
        expected: `cached + new tokens ≤ the model's maxContext (${max})`,
        received: `${cached} cached + ${added} new tokens = ${cached + added}`,
        limit: max,
        actual: cached + added,
      });
    }
  }

  private assertUsable(): void {
    if (this.disposed) throw new InvalidInputError({ path: 'this', expected: 'a live model', received: 'a model that has been disposed' });
  }
}

/** Same as {@link LlamaModel.create}. */
export function createModel(presetOrConfig: PresetName | ModelConfig, options: CreateModelOptions = {}): Promise<LlamaModel> {
  return LlamaModel.create(presetOrConfig, options);
}

/** Same as {@link LlamaModel.load}. */
export function loadModel(dir: string, options: ModelOptions = {}): Promise<LlamaModel> {
  return LlamaModel.load(dir, options);
}

function resolveConfig(presetOrConfig: PresetName | ModelConfig): Readonly<ModelConfig> {
  if (typeof presetOrConfig === 'string') {
    if (!isPresetName(presetOrConfig)) return getPreset(presetOrConfig); // throws with the list of names
    if (isSizeOnlyPreset(presetOrConfig)) {
      throw new ConfigError({
        path: 'presetOrConfig',
        expected: "a preset that can run ('tiny', 'default' or 'gpu-1b') or a ModelConfig",
        received: JSON.stringify(presetOrConfig),
        hint: `Preset ${presetOrConfig} describes a real model's shape for size arithmetic only.`,
      });
    }
    return getPreset(presetOrConfig);
  }
  return validateModelConfig(presetOrConfig);
}

function checkChunkSize(n: unknown): number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n <= 0) throw new ConfigError({ path: 'options.prefillChunkSize', expected: 'a positive integer', received: describeValue(n) });
  return n;
}

function buildTensors(config: Readonly<ModelConfig>, weights: LlamaWeights): ModelTensors {
  const get = (name: string): Float32Array => weights.get(name) as Float32Array;
  const h = config.hiddenSize;
  const vector = (name: string): tf.Tensor1D => tf.tensor1d(get(name), 'float32');
  // HF [out, in] → compute layout [in, out].
  const linear = (name: string, out: number, inp: number): tf.Tensor2D => tf.tidy(() => tf.transpose(tf.tensor2d(get(name), [out, inp], 'float32')));
  const { numHeads, numKvHeads, headDim: d, intermediateSize: m, vocabSize: vocab } = config;
  const layers: LayerTensors[] = [];
  for (let i = 0; i < config.numLayers; i++) {
    const p = `model.layers.${i}`;
    layers.push({
      inputNorm: vector(`${p}.input_layernorm.weight`),
      q: linear(`${p}.self_attn.q_proj.weight`, numHeads * d, h),
      k: linear(`${p}.self_attn.k_proj.weight`, numKvHeads * d, h),
      v: linear(`${p}.self_attn.v_proj.weight`, numKvHeads * d, h),
      o: linear(`${p}.self_attn.o_proj.weight`, h, numHeads * d),
      postNorm: vector(`${p}.post_attention_layernorm.weight`),
      gate: linear(`${p}.mlp.gate_proj.weight`, m, h),
      up: linear(`${p}.mlp.up_proj.weight`, m, h),
      down: linear(`${p}.mlp.down_proj.weight`, h, m),
    });
  }
  const rope = ropeTables(d, config.ropeTheta, config.maxContext);
  return {
    embedding: tf.tensor2d(get('model.embed_tokens.weight'), [vocab, h], 'float32'),
    layers,
    finalNorm: vector('model.norm.weight'),
    headT: linear(config.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight', vocab, h),
    ropeCos: tf.tensor3d(rope.cos, [rope.positions, 1, d], 'float32'),
    ropeSignedSin: tf.tensor3d(rope.signedSin, [rope.positions, 1, d], 'float32'),
  };
}

/** RMSNorm as in HF Llama: x / sqrt(mean(x²) + eps) · gain, over the last axis. */
function rmsNorm(x: tf.Tensor2D, gain: tf.Tensor1D, eps: number): tf.Tensor2D {
  const meanSquare = tf.mean(tf.square(x), -1, true);
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(meanSquare, eps))), gain);
}

function silu(x: tf.Tensor2D): tf.Tensor2D {
  return tf.mul(x, tf.sigmoid(x));
}

/** [count, start + count] bias: query i (at position start + i) may not see keys after it. */
function causalBias(count: number, start: number): tf.Tensor2D {
  const total = start + count;
  const bias = new Float32Array(count * total);
  for (let i = 0; i < count; i++) bias.fill(MASKED_SCORE, i * total + start + i + 1, (i + 1) * total);
  return tf.tensor2d(bias, [count, total], 'float32');
}

/**
 * Grouped-query attention. q: [T, heads, d]; k, v: [kvHeads, S, d]; returns [T, heads·d].
 * Query heads g·j … g·j+g-1 share kv head j (HF's repeat_kv order). Each kv head's group is one
 * 2-D matmul of [g·T, d] × [d, S] — the wasm backend runs batched (3-D) matmuls ~10× slower than 2-D.
 */
function attention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, bias: tf.Tensor2D | undefined): tf.Tensor2D {
  const [count, heads, d] = q.shape;
  const [kvHeads, span] = k.shape;
  const group = heads / kvHeads;
  const scaled = tf.mul(q, tf.scalar(1 / Math.sqrt(d)));
  const outputs: tf.Tensor2D[] = [];
  for (let j = 0; j < kvHeads; j++) {
    const qj = tf.reshape(tf.transpose(tf.slice(scaled, [0, j * group, 0], [count, group, d]), [1, 0, 2]), [group * count, d]);
    const kj = tf.reshape(tf.slice(k, [j, 0, 0], [1, span, d]), [span, d]);
    const vj = tf.reshape(tf.slice(v, [j, 0, 0], [1, span, d]), [span, d]);
    let scores: tf.Tensor2D = tf.matMul(qj, tf.transpose(kj));
    if (bias !== undefined) scores = tf.reshape(tf.add(tf.reshape(scores, [group, count, span]), bias), [group * count, span]);
    const mixed = tf.matMul(tf.softmax(scores), vj);
    outputs.push(tf.reshape(tf.transpose(tf.reshape(mixed, [group, count, d]), [1, 0, 2]), [count, group * d]));
  }
  return outputs.length === 1 ? (outputs[0] as tf.Tensor2D) : (tf.concat(outputs, 1) as tf.Tensor2D);
}

async function takeLogits(logits: tf.Tensor2D): Promise<Float32Array> {
  try {
    return (await logits.data()) as Float32Array;
  } finally {
    logits.dispose();
  }
}
