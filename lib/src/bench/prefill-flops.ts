/** Floating-point operation counts for the prefill benchmark, from the model config alone. */
import type { ModelConfig } from '../model/config';

/** An [m, k] × [k, n] matrix product. */
export interface MatmulShape {
  m: number;
  k: number;
  n: number;
}

/** 2·m·k·n: one multiply and one add per term. */
export function matmulFlops({ m, k, n }: MatmulShape): number {
  return 2 * m * k * n;
}

/**
 * FLOPs of prefilling `tokens` prompt tokens (no cached past), counted as matrix products only:
 * - per token and layer, the projections: q (hidden → heads·headDim), k and v (hidden → kvHeads·headDim),
 *   o (heads·headDim → hidden), and the MLP's gate, up (hidden → intermediate) and down (back): 2 FLOPs a weight;
 * - causal attention: the token at position p attends to p + 1 keys, and each query head spends
 *   2·headDim on its score (q·k) and 2·headDim on mixing the value (p·v) per attended key;
 * - the output head (hidden → vocab) for the last position only, as `prefill` computes it.
 * Norms, RoPE, softmax and SiLU (O(tokens·hidden)) are left out. Masked (future) scores that the
 * implementation computes and discards are left out too: this counts the work a causal prefill
 * needs, so that GFLOP/s compares with any other implementation of the same model.
 */
export function prefillFlops(config: Readonly<ModelConfig>, tokens: number): number {
  const { hiddenSize: h, intermediateSize: m, numLayers, numHeads, numKvHeads, headDim: d, vocabSize } = config;
  const projectionsPerToken = 2 * h * (numHeads * d + 2 * numKvHeads * d) + 2 * numHeads * d * h + 3 * 2 * h * m;
  const attendedPairs = (tokens * (tokens + 1)) / 2;
  const attention = 4 * numHeads * d * attendedPairs;
  return numLayers * (tokens * projectionsPerToken + attention) + 2 * h * vocabSize;
}

/**
 * The model's own matrix products (distinct shapes), what a BLAS reference should time: those of one
 * prefill chunk of `chunk` tokens, and one decode step's (a single row: where threads cost most).
 */
export function modelMatmulShapes(config: Readonly<ModelConfig>, chunk: number): MatmulShape[] {
  const { hiddenSize: h, intermediateSize: m, numHeads, headDim: d } = config;
  return [
    { m: chunk, k: h, n: m }, // MLP gate and up
    { m: chunk, k: m, n: h }, // MLP down
    { m: chunk, k: h, n: numHeads * d }, // q projection
    { m: 1, k: h, n: numHeads * d }, // q projection of one decode step
  ];
}

/**
 * Products per timed sample, so that a tiny product is timed over a few milliseconds rather than
 * one call (about 50 MFLOP per sample, at most 200 products).
 */
export function productsPerSample(shape: MatmulShape): number {
  return Math.max(1, Math.min(200, Math.round(5e7 / matmulFlops(shape))));
}
