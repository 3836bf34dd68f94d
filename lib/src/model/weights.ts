import { createHash } from 'node:crypto';
import { SeededRng } from '../runtime/rng';
import { ARCHITECTURE_FIELDS, type ModelConfig } from './config';
import { float32ToBytes } from './half';

/**
 * Model weights in the Hugging Face `LlamaForCausalLM` layout: tensor names as in HF checkpoints,
 * Linear weights stored [out_features, in_features], all float32. This is the interchange form —
 * checkpoints, seeded initialisation and the fingerprint all speak it; the transformer converts it
 * to its own compute layout once.
 */
export type LlamaWeights = Map<string, Float32Array>;

export interface WeightSpec {
  name: string;
  shape: [number] | [number, number];
  /** Linear layers only: the input width, which sets the init scale. */
  fanIn?: number;
  kind: 'embedding' | 'linear' | 'norm';
}

/** Names and shapes of every tensor, in the canonical order used for init, fingerprint and saving. */
export function weightSpecs(config: ModelConfig): WeightSpec[] {
  const { hiddenSize: h, intermediateSize: m, numHeads, numKvHeads, headDim: d, vocabSize: v } = config;
  const specs: WeightSpec[] = [{ name: 'model.embed_tokens.weight', shape: [v, h], kind: 'embedding' }];
  for (let i = 0; i < config.numLayers; i++) {
    const p = `model.layers.${i}`;
    specs.push(
      { name: `${p}.input_layernorm.weight`, shape: [h], kind: 'norm' },
      { name: `${p}.self_attn.q_proj.weight`, shape: [numHeads * d, h], fanIn: h, kind: 'linear' },
      { name: `${p}.self_attn.k_proj.weight`, shape: [numKvHeads * d, h], fanIn: h, kind: 'linear' },
      { name: `${p}.self_attn.v_proj.weight`, shape: [numKvHeads * d, h], fanIn: h, kind: 'linear' },
      { name: `${p}.self_attn.o_proj.weight`, shape: [h, numHeads * d], fanIn: numHeads * d, kind: 'linear' },
      { name: `${p}.post_attention_layernorm.weight`, shape: [h], kind: 'norm' },
      { name: `${p}.mlp.gate_proj.weight`, shape: [m, h], fanIn: h, kind: 'linear' },
      { name: `${p}.mlp.up_proj.weight`, shape: [m, h], fanIn: h, kind: 'linear' },
      { name: `${p}.mlp.down_proj.weight`, shape: [h, m], fanIn: m, kind: 'linear' },
    );
  }
  specs.push({ name: 'model.norm.weight', shape: [h], kind: 'norm' });
  if (!config.tieWordEmbeddings) specs.push({ name: 'lm_head.weight', shape: [v, h], fanIn: h, kind: 'linear' });
  return specs;
}

/** Half-width of the uniform range for RMSNorm gains around 1: non-trivial gains make norm bugs visible in tests. */
const NORM_GAIN_SPREAD = 0.2;

/**
 * Seeded weights: one {@link SeededRng} stream, consumed tensor by tensor in canonical order, so the
 * same (config, seed) gives bit-identical weights in every process on every machine (integer RNG,
 * one float multiply per value).
 *
 * Scales (uniform U(-a, a) has std a/√3, so a = √3·std):
 * - Linear layers: std 1/√fan_in, so each projection keeps its input's RMS.
 * - Embedding rows: std 1/√hidden (rows of norm ≈ 1). Kept small next to the blocks' outputs on
 *   purpose: with a tied head a large embedding would dominate the residual stream and greedy
 *   decoding would just repeat its input token. RMSNorm rescales the embedding before the first block anyway.
 * - RMSNorm gains: U(1-0.2, 1+0.2).
 */
export function initWeights(config: ModelConfig, seed: number): LlamaWeights {
  const rng = new SeededRng(seed);
  const weights: LlamaWeights = new Map();
  for (const spec of weightSpecs(config)) {
    const data = new Float32Array(spec.shape.reduce((a, b) => a * b, 1));
    if (spec.kind === 'norm') {
      rng.fillUniform(data, 1 - NORM_GAIN_SPREAD, 1 + NORM_GAIN_SPREAD);
    } else {
      const fanIn = spec.kind === 'embedding' ? config.hiddenSize : (spec.fanIn as number);
      const bound = Math.sqrt(3 / fanIn);
      rng.fillUniform(data, -bound, bound);
    }
    weights.set(spec.name, data);
  }
  return weights;
}

/** Version tag inside the fingerprint's input: bump it if the encoding below ever changes. */
const FINGERPRINT_DOMAIN = 'kvcache-lab/model-fingerprint/v1';

/**
 * SHA-256 (64 hex chars) over a canonical encoding of the architecture config and the weights:
 * domain tag, then the config's architecture fields as sorted-key JSON, then for each tensor in
 * canonical order its name, shape and little-endian float32 bytes, each piece length-prefixed.
 * `name` and `maxContext` are left out: they do not change what the model computes, so two
 * checkpoints that differ only there produce interchangeable KV caches.
 */
export function computeFingerprint(config: ModelConfig, weights: LlamaWeights): string {
  const hash = createHash('sha256');
  const lengthPrefixed = (bytes: Uint8Array): void => {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(bytes.byteLength));
    hash.update(len);
    hash.update(bytes);
  };
  const text = (s: string): void => lengthPrefixed(Buffer.from(s, 'utf8'));
  text(FINGERPRINT_DOMAIN);
  const arch: Record<string, unknown> = {};
  for (const field of [...ARCHITECTURE_FIELDS].sort()) arch[field] = config[field];
  text(JSON.stringify(arch));
  for (const spec of weightSpecs(config)) {
    const data = weights.get(spec.name);
    if (data === undefined) throw new Error(`internal: weight ${spec.name} missing when fingerprinting`);
    text(spec.name);
    text(JSON.stringify(spec.shape));
    lengthPrefixed(float32ToBytes(data));
  }
  return hash.digest('hex');
}
