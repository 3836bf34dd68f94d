import { sized } from '../runtime/env';
import { SeededRng } from '../runtime/rng';
import { assertInt } from './checks';
import { DEFAULT_BLOCK_SIZE } from './block-size';
import { hashBlocks } from './block-hash';
import { createNamespace } from './namespace';

const WARMUP_NS = 30_000_000n;
const MIN_SAMPLE_NS = 2_000_000n;

/** Options of {@link measureHashingCost}: how many tokens to hash, with which block size, and how many timed samples. */
export interface HashingCostOptions {
  /** Tokens hashed per run (a multiple of the block size is used). @default 16 384 in KVLAB_FAST mode, else 262 144 */
  tokens?: number;
  /** Block size to measure. @default DEFAULT_BLOCK_SIZE (16) */
  blockSize?: number;
  /** Timed samples (each ≥ 2 ms, after ≥ 30 ms of warm-up); the median is reported. @default 5 */
  repeats?: number;
  /** Seed of the random token ids. @default 1 */
  seed?: number;
}

export const DEFAULT_HASHING_COST_OPTIONS: Readonly<Required<Omit<HashingCostOptions, 'tokens'>>> = Object.freeze({
  blockSize: DEFAULT_BLOCK_SIZE,
  repeats: 5,
  seed: 1,
});

/**
 * What {@link measureHashingCost} measured on this machine: the median cost of prefix hashing per
 * token and per block, with every sample.
 */
export interface HashingCost {
  /** Median nanoseconds per token of `hashBlocks` on a plain number[] (what a tokenizer returns), validation included. */
  nsPerToken: number;
  /** The same per block. */
  nsPerBlock: number;
  /** ns/token of every timed run, in order. */
  samplesNsPerToken: number[];
  tokens: number;
  blockSize: number;
  repeats: number;
}

/**
 * Measure the cost of chained block hashing on this machine. Wall-clock numbers are noisy on shared
 * machines: compare block sizes measured in one run, not against numbers from elsewhere.
 */
export function measureHashingCost(options: HashingCostOptions = {}): HashingCost {
  const blockSize = options.blockSize ?? DEFAULT_HASHING_COST_OPTIONS.blockSize;
  const repeats = options.repeats ?? DEFAULT_HASHING_COST_OPTIONS.repeats;
  const seed = options.seed ?? DEFAULT_HASHING_COST_OPTIONS.seed;
  const wanted = options.tokens ?? sized(16_384, 262_144);
  assertInt(wanted, 'tokens', 1, 1 << 26);
  assertInt(repeats, 'repeats', 1, 1000);
  // A placeholder namespace: hashing costs the same whatever model, dtype or format it names.
  const ns = createNamespace({ modelFingerprint: '00'.repeat(32), kvDtype: 'fp16', kvFormatVersion: 1, blockSize });
  const blocks = Math.max(1, Math.floor(wanted / blockSize));
  const tokens = blocks * blockSize;
  const rng = new SeededRng(seed);
  const ids: number[] = new Array<number>(tokens);
  for (let i = 0; i < tokens; i++) ids[i] = rng.int(128_256); // Llama-3-sized vocabulary
  // Warm-up until the JIT has settled (≥ 2 runs and ≥ 30 ms): cold numbers are 3–4× too high.
  const warmStart = process.hrtime.bigint();
  for (let i = 0; i < 2 || process.hrtime.bigint() - warmStart < WARMUP_NS; i++) hashBlocks(ids, ns);
  const samples: number[] = [];
  for (let r = 0; r < repeats; r++) {
    // Each sample repeats the input until ≥ 2 ms have passed, so small (fast-mode) inputs are timed reliably.
    let hashed = 0;
    const t0 = process.hrtime.bigint();
    let elapsed = 0n;
    do {
      hashBlocks(ids, ns);
      hashed += tokens;
      elapsed = process.hrtime.bigint() - t0;
    } while (elapsed < MIN_SAMPLE_NS);
    samples.push(Number(elapsed) / hashed);
  }
  const sorted = [...samples].sort((a, b) => a - b);
  const nsPerToken = sorted[Math.floor((sorted.length - 1) / 2)]!;
  return { nsPerToken, nsPerBlock: nsPerToken * blockSize, samplesNsPerToken: samples, tokens, blockSize, repeats };
}
