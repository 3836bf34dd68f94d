import { ConfigError, UnsupportedFormatError, describeValue } from '../runtime/errors';
import { validateModelConfig, type ModelConfig } from './config';

/** The subset of a Hugging Face `LlamaConfig` (config.json) this library reads and writes. */
export interface HuggingFaceLlamaConfig {
  architectures?: string[];
  model_type?: string;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads?: number;
  head_dim?: number;
  hidden_act?: string;
  max_position_embeddings?: number;
  rms_norm_eps?: number;
  rope_theta?: number;
  rope_scaling?: unknown;
  vocab_size: number;
  tie_word_embeddings?: boolean;
  attention_bias?: boolean;
  mlp_bias?: boolean;
  torch_dtype?: string;
  [other: string]: unknown;
}

// Hugging Face LlamaConfig's defaults for fields a config.json may leave out.
const HF_DEFAULTS = { rms_norm_eps: 1e-6, rope_theta: 10000, max_position_embeddings: 2048, tie_word_embeddings: false } as const;

/**
 * Read a parsed Hugging Face `config.json` of a Llama-architecture model.
 * Missing optional fields take LlamaConfig's defaults (`num_key_value_heads` = heads,
 * `head_dim` = hidden / heads). Features this model does not implement (rope scaling, biases,
 * other activations, other architectures) are refused with `UnsupportedFormatError` rather than
 * silently computing something else; malformed values throw `ConfigError`.
 */
export function configFromHuggingFace(json: unknown, name = 'checkpoint'): Readonly<ModelConfig> {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new ConfigError({ path: 'config.json', expected: 'a JSON object', received: describeValue(json) });
  }
  const hf = json as Record<string, unknown>;
  const unsupported = (key: string, expected: string): UnsupportedFormatError =>
    new UnsupportedFormatError({ path: `config.json.${key}`, expected, received: shown(hf[key]) });
  if (hf.model_type !== undefined && hf.model_type !== 'llama') throw unsupported('model_type', '"llama" (the only architecture supported)');
  if (hf.rope_scaling !== undefined && hf.rope_scaling !== null) throw unsupported('rope_scaling', 'null (only plain RoPE is implemented)');
  if (hf.hidden_act !== undefined && hf.hidden_act !== 'silu') throw unsupported('hidden_act', '"silu" (SwiGLU, the only activation implemented)');
  for (const flag of ['attention_bias', 'mlp_bias'] as const) {
    if (hf[flag] !== undefined && hf[flag] !== false) throw unsupported(flag, 'false (only bias-free projections are implemented)');
  }
  const hidden = requireNumber(hf, 'hidden_size');
  const heads = requireNumber(hf, 'num_attention_heads');
  const headDim = optionalNumber(hf, 'head_dim') ?? hidden / heads;
  if (!Number.isInteger(headDim)) {
    throw new ConfigError({
      path: 'config.json.hidden_size',
      expected: `a multiple of num_attention_heads (${heads}) when there is no head_dim`,
      received: String(hidden),
    });
  }
  return validateModelConfig({
    name,
    vocabSize: requireNumber(hf, 'vocab_size'),
    hiddenSize: hidden,
    intermediateSize: requireNumber(hf, 'intermediate_size'),
    numLayers: requireNumber(hf, 'num_hidden_layers'),
    numHeads: heads,
    numKvHeads: optionalNumber(hf, 'num_key_value_heads') ?? heads,
    headDim,
    rmsNormEps: optionalNumber(hf, 'rms_norm_eps') ?? HF_DEFAULTS.rms_norm_eps,
    ropeTheta: optionalNumber(hf, 'rope_theta') ?? HF_DEFAULTS.rope_theta,
    maxContext: optionalNumber(hf, 'max_position_embeddings') ?? HF_DEFAULTS.max_position_embeddings,
    tieWordEmbeddings: optionalBoolean(hf, 'tie_word_embeddings') ?? HF_DEFAULTS.tie_word_embeddings,
  });
}

/** A Hugging Face `config.json` object for this model, loadable by `LlamaForCausalLM.from_pretrained`. */
export function configToHuggingFace(config: ModelConfig): HuggingFaceLlamaConfig {
  const c = validateModelConfig(config);
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    num_key_value_heads: c.numKvHeads,
    head_dim: c.headDim,
    hidden_act: 'silu',
    max_position_embeddings: c.maxContext,
    rms_norm_eps: c.rmsNormEps,
    rope_theta: c.ropeTheta,
    rope_scaling: null,
    vocab_size: c.vocabSize,
    tie_word_embeddings: c.tieWordEmbeddings,
    attention_bias: false,
    mlp_bias: false,
    torch_dtype: 'float32',
  };
}

function requireNumber(hf: Record<string, unknown>, key: string): number {
  const v = hf[key];
  if (v === undefined) throw new ConfigError({ path: `config.json.${key}`, expected: 'a number (a required field)', received: 'no such field' });
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError({ path: `config.json.${key}`, expected: 'a number', received: shown(v) });
  return v;
}

function optionalNumber(hf: Record<string, unknown>, key: string): number | undefined {
  const v = hf[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError({ path: `config.json.${key}`, expected: 'a number', received: shown(v) });
  return v;
}

function optionalBoolean(hf: Record<string, unknown>, key: string): boolean | undefined {
  const v = hf[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new ConfigError({ path: `config.json.${key}`, expected: 'true or false', received: shown(v) });
  return v;
}

/** A JSON value as it appears in config.json, cut short. */
function shown(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 60)}…` : s;
}
