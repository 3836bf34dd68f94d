/**
 * Seeded, KV-like test data, so that tests and benchmarks do not need the model. It mimics what
 * matters to a serializer:
 * - K has per-channel structure: each channel has its own offset and scale, and a few "outlier"
 *   channels are ~10× larger for every token (the pattern that makes per-channel K quantization
 *   necessary, KIVI §3);
 * - V is closer to plain normal noise with a per-token magnitude;
 * - magnitudes grow somewhat with depth; mantissas are full-entropy, as in real activations,
 *   which is why generic compressors gain little.
 */
import { InvalidInputError, SeededRng } from '../runtime';
import { type KVBlockData, type KVShape, tensorElements, validateShape } from './types';

/** Options of {@link syntheticKV}: the seed and how strong and frequent the outlier channels of K are. */
export interface SyntheticKVOptions {
  /** RNG seed. @default 1 */
  seed?: number;
  /** Fraction of K channels that are outliers, per head (at least one when > 0). @default 0.05 */
  outlierFraction?: number;
  /** How much larger outlier channels are. @default 10 */
  outlierScale?: number;
}

export const DEFAULT_SYNTHETIC_KV_OPTIONS: Readonly<Required<SyntheticKVOptions>> = { seed: 1, outlierFraction: 0.05, outlierScale: 10 };

/** A KV block of the given shape filled with seeded KV-like values. */
export function syntheticKV(shape: KVShape, options: SyntheticKVOptions = {}): KVBlockData {
  validateShape(shape);
  const opts = { ...DEFAULT_SYNTHETIC_KV_OPTIONS, ...options };
  if (!(opts.outlierFraction >= 0 && opts.outlierFraction <= 1)) throw InvalidInputError.at('options.outlierFraction', 'a number in [0, 1]', opts.outlierFraction);
  const rng = new SeededRng(opts.seed);
  const { layers, kvHeads, headDim, tokens } = shape;
  const n = tensorElements(shape);
  const k: Float32Array[] = [];
  const v: Float32Array[] = [];
  const chScale = new Float64Array(headDim);
  const chMean = new Float64Array(headDim);
  const channels = Array.from({ length: headDim }, (_, d) => d);
  const outlierCount = opts.outlierFraction > 0 ? Math.max(1, Math.round(opts.outlierFraction * headDim)) : 0;
  for (let l = 0; l < layers; l++) {
    const depth = 1 + (0.5 * l) / Math.max(1, layers - 1);
    const kl = new Float32Array(n);
    const vl = new Float32Array(n);
    for (let h = 0; h < kvHeads; h++) {
      const outliers = new Set(rng.shuffle(channels).slice(0, outlierCount));
      for (let d = 0; d < headDim; d++) {
        chScale[d] = depth * Math.exp(0.3 * rng.normal()) * (outliers.has(d) ? opts.outlierScale : 1);
        chMean[d] = 0.5 * chScale[d]! * rng.normal();
      }
      for (let t = 0; t < tokens; t++) {
        const row = (h * tokens + t) * headDim;
        const tokenScale = 0.5 * depth * Math.exp(0.25 * rng.normal());
        for (let d = 0; d < headDim; d++) {
          kl[row + d] = chMean[d]! + chScale[d]! * rng.normal();
          vl[row + d] = tokenScale * rng.normal();
        }
      }
    }
    k.push(kl);
    v.push(vl);
  }
  return { layers, kvHeads, headDim, tokens, k, v };
}
