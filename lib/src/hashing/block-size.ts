import { InvalidInputError, describeValue } from '../runtime/errors';
import { assertInt } from './checks';

/**
 * Tokens per hashed block, and so per stored value (the store puts one block per key): **16**.
 *
 * Why 16 and not 256 (LMCache's chunk size):
 * - **Value sizes.** A block's value is `blockSize × KV bytes per token`. For real models in fp16 that is
 *   128 KiB/token (Llama-3-8B), 320 KiB (Llama-3-70B), 512 KiB (Llama-2-7B): 16 tokens give 2–8 MiB
 *   values, inside the 1–8 MiB range where Redis moves bytes fastest; 256 tokens give 32–128 MiB values,
 *   where every client drops to well under 1 GB/s and users report trouble.
 * - **Hit granularity.** A match is cut down to a whole block, and prompts shorter than one block never
 *   hit: with 16 at most 15 tokens of a shared prefix are recomputed (7.5 on average); with 256 up to
 *   255, so a 200-token system prompt would never hit at all — and neither would this lab's short
 *   fast-mode prompts.
 * - **Key count and per-key overhead.** 16 makes 16× more keys: ~62 500 per million cached tokens.
 *   Redis spends on the order of 100 bytes per key (dict entry, object header, a ~90-byte key), which
 *   is < 0.01 % of a 2 MiB value and a few MB in total — cheap. Lookups stay one round trip whatever
 *   the count ({@link longestPrefix} sends one batched `has`), and a 4k-token prompt is 256 hashes.
 * - **Hashing cost.** SHA-256 per block has a fixed per-call cost, so 16 costs about 5× more per
 *   token than 256 (measured side by side with `measureHashingCost`: ≈ 25 vs 5 ns/token on a 2-core
 *   Node 20 machine) — still tens of nanoseconds, noise next to one token of prefill.
 *
 * The lab's own small model has far fewer KV bytes per token, so its 16-token values are small
 * (tens to hundreds of KiB); a deployment that cares more about value size than hit granularity sets
 * `blockSize` (see {@link recommendBlockSize}). Block size is part of the namespace, so two settings
 * never share — or silently miss on — each other's entries.
 */
export const DEFAULT_BLOCK_SIZE = 16;

/** Largest accepted block size (the per-block work buffer is `32 + 4 × blockSize` bytes). */
export const MAX_BLOCK_SIZE = 65_536;

/** Throw unless `blockSize` is an integer in [1, {@link MAX_BLOCK_SIZE}]. */
export function assertBlockSize(blockSize: unknown, what = 'blockSize'): asserts blockSize is number {
  assertInt(blockSize, what, 1, MAX_BLOCK_SIZE);
}

/** Number of full blocks in `tokenCount` tokens: only full blocks are hashed and cached. */
export function fullBlocks(tokenCount: number, blockSize: number): number {
  assertInt(tokenCount, 'tokenCount', 0, Number.MAX_SAFE_INTEGER);
  assertBlockSize(blockSize);
  return Math.floor(tokenCount / blockSize);
}

/**
 * Full blocks of a prompt that a cache may serve: `floor((n − 1) / B)`. At least one prompt token is
 * always computed, because generating the next token needs the logits of the last prompt token —
 * so a prompt of exactly k·B tokens can load only k − 1 blocks.
 */
export function loadableBlocks(promptTokens: number, blockSize: number): number {
  assertInt(promptTokens, 'promptTokens', 0, Number.MAX_SAFE_INTEGER);
  assertBlockSize(blockSize);
  return Math.floor(Math.max(0, promptTokens - 1) / blockSize);
}

/** Tokens after the last full block: they can never be a cache hit, whatever the store holds. */
export function uncacheableTokens(tokenCount: number, blockSize: number): number {
  return tokenCount - fullBlocks(tokenCount, blockSize) * blockSize;
}

/** Options of {@link recommendBlockSize}: the value sizes a store handles well and the block sizes to choose from. */
export interface RecommendBlockSizeOptions {
  /** Smallest value worth a key of its own, in bytes. @default 1 MiB */
  minValueBytes?: number;
  /** Largest value the store should hold, in bytes. @default 8 MiB */
  maxValueBytes?: number;
  /** Block sizes to choose from, any order. @default [16, 32, 64, 128, 256] */
  candidates?: readonly number[];
}

export const DEFAULT_RECOMMEND_BLOCK_SIZE_OPTIONS: Required<RecommendBlockSizeOptions> = {
  minValueBytes: 1 << 20,
  maxValueBytes: 8 << 20,
  candidates: [16, 32, 64, 128, 256],
};

/**
 * The smallest candidate block size whose value (`blockSize × kvBytesPerToken`) reaches `minValueBytes`
 * without passing `maxValueBytes` — smallest, because finer blocks hit more tokens. If every candidate
 * is too big, the smallest; if every one is too small, the largest.
 */
export function recommendBlockSize(kvBytesPerToken: number, options: RecommendBlockSizeOptions = {}): number {
  const o = { ...DEFAULT_RECOMMEND_BLOCK_SIZE_OPTIONS, ...options };
  if (typeof kvBytesPerToken !== 'number' || !Number.isFinite(kvBytesPerToken) || kvBytesPerToken <= 0) {
    throw InvalidInputError.at('kvBytesPerToken', 'a positive number', kvBytesPerToken);
  }
  if (!(o.minValueBytes > 0 && o.maxValueBytes >= o.minValueBytes)) {
    throw new InvalidInputError({
      path: 'options.minValueBytes, options.maxValueBytes',
      expected: '0 < minValueBytes ≤ maxValueBytes',
      received: `${describeValue(o.minValueBytes)} and ${describeValue(o.maxValueBytes)}`,
    });
  }
  if (!Array.isArray(o.candidates) || o.candidates.length === 0) {
    throw InvalidInputError.at('options.candidates', 'a non-empty array of block sizes', o.candidates);
  }
  const sorted = [...o.candidates].sort((a, b) => a - b);
  sorted.forEach((c, i) => assertBlockSize(c, `candidates[${i}]`));
  for (const c of sorted) {
    const bytes = c * kvBytesPerToken;
    if (bytes > o.maxValueBytes) return c === sorted[0] ? c : sorted[sorted.indexOf(c) - 1]!;
    if (bytes >= o.minValueBytes) return c;
  }
  return sorted[sorted.length - 1]!;
}
