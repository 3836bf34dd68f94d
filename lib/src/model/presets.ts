import { ConfigError, describeValue } from '../runtime/errors';
import { validateModelConfig, type ModelConfig } from './config';

/** Presets that can be instantiated with seeded weights (`gpu-1b` only where a GPU backend runs it). */
export type RunnablePresetName = 'tiny' | 'default' | 'gpu-1b';
/** Published shapes of real models, for size arithmetic (KV bytes per token, parameter counts) only. */
export type SizeOnlyPresetName = 'llama2-7b' | 'llama3-8b' | 'llama3-70b';
/** The name of a model preset: a runnable one (`tiny`, `default`, `gpu-1b`) or a real model's shape for size arithmetic. */
export type PresetName = RunnablePresetName | SizeOnlyPresetName;

/** r50k_base (GPT-2) has 50 257 ids; both runnable presets cover it so any text can be fed to them. */
const TOKENIZER_VOCAB = 50257;

/** The config of every preset, by name (frozen). Use {@link getPreset} to look one up with a checked name. */
export const MODEL_PRESETS: Readonly<Record<PresetName, Readonly<ModelConfig>>> = Object.freeze({
  /**
   * For tests and KVLAB_FAST runs: two small layers, but the full tokenizer vocabulary, so it works
   * on real text. ~3.3 M parameters, almost all of them in the tied embedding.
   */
  tiny: validateModelConfig({
    name: 'tiny',
    vocabSize: TOKENIZER_VOCAB,
    hiddenSize: 64,
    intermediateSize: 176,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    headDim: 16,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    maxContext: 2048,
    tieWordEmbeddings: true,
  }),
  /**
   * For notebooks: big enough that prefill cost is visible and grows with prompt length, small
   * enough that a 2 000-token prompt prefills in a few seconds on 2 CPU cores with the wasm backend.
   * 28.6 M parameters (19.3 M of them the tied embedding), ~115 MB of float32 weights; KV cache 4.5 KiB/token in fp32.
   * Measured on a 2-core AMD EPYC, wasm backend (SIMD, no threads), Node 20:
   *   `npx tsx test/model/measure-default-prefill.ts 2000 3`
   *   → create (seeded init + fingerprint) ≈ 0.9 s; 2 000-token prefill ≈ 2.6–3.1 s on the first call
   *     (wasm heap growth), ≈ 1.7 s warm; one decode step at 2 000 tokens of context ≈ 20–35 ms.
   */
  default: validateModelConfig({
    name: 'default',
    vocabSize: TOKENIZER_VOCAB,
    hiddenSize: 384,
    intermediateSize: 1024,
    numLayers: 6,
    numHeads: 8,
    numKvHeads: 2,
    headDim: 48,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    maxContext: 4096,
    tieWordEmbeddings: true,
  }),
  /**
   * For a GPU (the webgpu backend): the shape of Llama 3.2 1B (hidden 2048, 16 layers, 32 query and
   * 8 KV heads of 64, MLP 8192) with this tokenizer’s vocabulary, 1.08 B parameters, 4.3 GB of
   * float32 weights; KV cache 64 KiB/token in fp32. Too big for the wasm backend (its heap stops at
   * 4 GB) and far too slow on the cpu one: `npm run bench:gpu` runs it.
   */
  'gpu-1b': validateModelConfig({
    name: 'gpu-1b',
    vocabSize: TOKENIZER_VOCAB,
    hiddenSize: 2048,
    intermediateSize: 8192,
    numLayers: 16,
    numHeads: 32,
    numKvHeads: 8,
    headDim: 64,
    rmsNormEps: 1e-5,
    ropeTheta: 500000,
    maxContext: 8192,
    tieWordEmbeddings: true,
  }),
  /** meta-llama/Llama-2-7b-hf config.json: multi-head attention (kv heads = heads). */
  'llama2-7b': validateModelConfig({
    name: 'llama2-7b',
    vocabSize: 32000,
    hiddenSize: 4096,
    intermediateSize: 11008,
    numLayers: 32,
    numHeads: 32,
    numKvHeads: 32,
    headDim: 128,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    maxContext: 4096,
    tieWordEmbeddings: false,
  }),
  /** meta-llama/Meta-Llama-3-8B config.json: GQA with 8 kv heads. */
  'llama3-8b': validateModelConfig({
    name: 'llama3-8b',
    vocabSize: 128256,
    hiddenSize: 4096,
    intermediateSize: 14336,
    numLayers: 32,
    numHeads: 32,
    numKvHeads: 8,
    headDim: 128,
    rmsNormEps: 1e-5,
    ropeTheta: 500000,
    maxContext: 8192,
    tieWordEmbeddings: false,
  }),
  /** meta-llama/Meta-Llama-3-70B config.json: GQA with 8 kv heads for 64 query heads. */
  'llama3-70b': validateModelConfig({
    name: 'llama3-70b',
    vocabSize: 128256,
    hiddenSize: 8192,
    intermediateSize: 28672,
    numLayers: 80,
    numHeads: 64,
    numKvHeads: 8,
    headDim: 128,
    rmsNormEps: 1e-5,
    ropeTheta: 500000,
    maxContext: 8192,
    tieWordEmbeddings: false,
  }),
});

const SIZE_ONLY: ReadonlySet<string> = new Set<SizeOnlyPresetName>(['llama2-7b', 'llama3-8b', 'llama3-70b']);

/** True when `name` is the name of a preset in {@link MODEL_PRESETS}. */
export function isPresetName(name: unknown): name is PresetName {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(MODEL_PRESETS, name);
}

/** True for presets that describe real models' shapes and are never instantiated here. */
export function isSizeOnlyPreset(name: PresetName): name is SizeOnlyPresetName {
  return SIZE_ONLY.has(name);
}

/** The config of a preset. Throws `ConfigError` for an unknown name. */
export function getPreset(name: PresetName): Readonly<ModelConfig> {
  if (!isPresetName(name)) {
    throw new ConfigError({
      message: `unknown model preset ${JSON.stringify(name)}; known presets: ${Object.keys(MODEL_PRESETS).join(', ')}`,
      path: 'name',
      expected: `a known preset: ${Object.keys(MODEL_PRESETS).join(', ')}`,
      received: describeValue(name),
    });
  }
  return MODEL_PRESETS[name];
}
