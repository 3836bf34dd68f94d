import { ConfigError, describeValue } from '../runtime/errors';

/**
 * The shape of a decoder-only, Llama-style transformer: token embedding, `numLayers` blocks of
 * (RMSNorm → grouped-query attention with rotary positions → RMSNorm → SwiGLU MLP), a final RMSNorm
 * and an output head that is either tied to the embedding or a separate matrix.
 */
export interface ModelConfig {
  /** A label for people (preset name, checkpoint folder). Not part of the fingerprint. */
  name: string;
  /** Number of token ids the model knows; ids are `0 … vocabSize-1`. */
  vocabSize: number;
  /** Width of the residual stream (HF `hidden_size`). */
  hiddenSize: number;
  /** Width of the SwiGLU MLP (HF `intermediate_size`). */
  intermediateSize: number;
  /** Number of transformer blocks (HF `num_hidden_layers`). */
  numLayers: number;
  /** Query heads (HF `num_attention_heads`). */
  numHeads: number;
  /** Key/value heads; each serves `numHeads / numKvHeads` query heads (HF `num_key_value_heads`). */
  numKvHeads: number;
  /** Width of one head (HF `head_dim`); need not equal `hiddenSize / numHeads`. Must be even (RoPE rotates pairs). */
  headDim: number;
  /** Epsilon inside RMSNorm's square root (HF `rms_norm_eps`). */
  rmsNormEps: number;
  /** RoPE base θ: pair i of a head rotates at angle `position · θ^(-2i/headDim)` (HF `rope_theta`). */
  ropeTheta: number;
  /** Longest sequence (prompt + cached + generated tokens) the model accepts (HF `max_position_embeddings`). Not part of the fingerprint. */
  maxContext: number;
  /** True: the output head reuses the embedding matrix (no `lm_head.weight`). */
  tieWordEmbeddings: boolean;
}

/** The fields that decide what a model computes — exactly what the fingerprint covers (besides the weights). */
export const ARCHITECTURE_FIELDS = [
  'vocabSize',
  'hiddenSize',
  'intermediateSize',
  'numLayers',
  'numHeads',
  'numKvHeads',
  'headDim',
  'rmsNormEps',
  'ropeTheta',
  'tieWordEmbeddings',
] as const satisfies readonly (keyof ModelConfig)[];

const POSITIVE_INTEGER_FIELDS = [
  'vocabSize',
  'hiddenSize',
  'intermediateSize',
  'numLayers',
  'numHeads',
  'numKvHeads',
  'headDim',
  'maxContext',
] as const satisfies readonly (keyof ModelConfig)[];

/**
 * Check a config and return a frozen copy. Throws `ConfigError` naming the first bad field.
 * Every entry point that takes a config calls this, so the rest of the model can trust it.
 */
export function validateModelConfig(config: ModelConfig): Readonly<ModelConfig> {
  const bad = (field: string, expected: string, value: unknown): ConfigError => new ConfigError({ path: `config.${field}`, expected, received: describeValue(value) });
  if (config === null || typeof config !== 'object') throw new ConfigError({ path: 'config', expected: 'a model config object', received: describeValue(config) });
  for (const field of POSITIVE_INTEGER_FIELDS) {
    const v = config[field];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) throw bad(field, 'a positive integer', v);
  }
  if (typeof config.name !== 'string') throw bad('name', 'a string', config.name);
  if (typeof config.rmsNormEps !== 'number' || !Number.isFinite(config.rmsNormEps) || config.rmsNormEps <= 0) {
    throw bad('rmsNormEps', 'a positive finite number', config.rmsNormEps);
  }
  if (typeof config.ropeTheta !== 'number' || !Number.isFinite(config.ropeTheta) || config.ropeTheta <= 1) {
    throw bad('ropeTheta', 'a finite number > 1', config.ropeTheta);
  }
  if (typeof config.tieWordEmbeddings !== 'boolean') throw bad('tieWordEmbeddings', 'a boolean', config.tieWordEmbeddings);
  if (config.numKvHeads > config.numHeads || config.numHeads % config.numKvHeads !== 0) {
    throw bad('numHeads', `a multiple of numKvHeads (${config.numKvHeads})`, config.numHeads);
  }
  if (config.headDim % 2 !== 0) {
    throw new ConfigError({ path: 'config.headDim', expected: 'an even number (RoPE rotates pairs of channels)', received: String(config.headDim) });
  }
  const copy: ModelConfig = {
    name: config.name,
    vocabSize: config.vocabSize,
    hiddenSize: config.hiddenSize,
    intermediateSize: config.intermediateSize,
    numLayers: config.numLayers,
    numHeads: config.numHeads,
    numKvHeads: config.numKvHeads,
    headDim: config.headDim,
    rmsNormEps: config.rmsNormEps,
    ropeTheta: config.ropeTheta,
    maxContext: config.maxContext,
    tieWordEmbeddings: config.tieWordEmbeddings,
  };
  return Object.freeze(copy);
}

/** The shape fields a KV cache depends on. */
export type KVShapeConfig = Pick<ModelConfig, 'numLayers' | 'numKvHeads' | 'headDim'>;

/**
 * Bytes of KV cache one token occupies: K and V (2) × layers × kv_heads × head_dim × bytesPerValue.
 * E.g. Llama 3 8B in fp16: 2 × 32 × 8 × 128 × 2 = 131 072 bytes (128 KiB) per token.
 */
export function kvBytesPerToken(config: KVShapeConfig, bytesPerValue: number): number {
  if (!(typeof bytesPerValue === 'number' && bytesPerValue > 0 && Number.isFinite(bytesPerValue))) {
    throw new ConfigError({ path: 'bytesPerValue', expected: 'a positive number (4 for fp32, 2 for fp16, 1 for int8)', received: describeValue(bytesPerValue) });
  }
  return 2 * config.numLayers * config.numKvHeads * config.headDim * bytesPerValue;
}

/** Number of weights (scalars) in a model with this config. */
export function parameterCount(config: ModelConfig): number {
  const { vocabSize: v, hiddenSize: h, intermediateSize: m, numHeads, numKvHeads, headDim: d } = config;
  const attention = h * numHeads * d /* q */ + 2 * h * numKvHeads * d /* k, v */ + numHeads * d * h; /* o */
  const mlp = 3 * h * m;
  const norms = 2 * h;
  const perLayer = attention + mlp + norms;
  return v * h /* embedding */ + config.numLayers * perLayer + h /* final norm */ + (config.tieWordEmbeddings ? 0 : v * h);
}
