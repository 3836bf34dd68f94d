/**
 * KIVI-style asymmetric low-bit quantization (Liu et al., 2024, "KIVI: a tuning-free asymmetric
 * 2bit quantization for KV cache"), for one [kvHeads, tokens, headDim] tensor:
 * - **keys per channel**: for each head and channel, groups of `groupSize` consecutive *tokens*
 *   share a (min, scale). K has outlier channels (a few channels with large magnitude for every
 *   token); grouping along tokens keeps each channel's range to itself.
 * - **values per token**: for each head and token, groups of `groupSize` consecutive *channels*
 *   share a (min, scale) — V has no channel outliers, and its error mixes per token in attention.
 * Each group: scale = (max − min) / (2^bits − 1), q = round((x − min) / scale) ∈ [0, 2^bits − 1],
 * x' = min + q·scale, so |x − x'| ≤ scale / 2. Mins are rounded DOWN and scales UP to their storage
 * precision (fp16, as KIVI stores them, or fp32), which keeps that bound without clamping.
 * KIVI also keeps the most recent tokens unquantized while they are still being generated; a
 * stored block is complete, so here every token is quantized.
 *
 * Codes are 1 byte each in the kernels' scratch and packed `8 / bits` to a byte by
 * {@link packCodes} (LSB first).
 */
import { fp16BitsToFp32, fp32ToFp16Bits } from './fp16';

/** Precision of the stored mins and scales. */
export type ScaleStorage = 'fp16' | 'fp32';

/** Largest |x| for which fp16 mins and scales cannot overflow (range ≤ 65504 = fp16 max). */
export const FP16_SCALE_SAFE_ABSMAX = 32752;

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** The largest value ≤ x representable in `storage` (x finite, |x| ≤ FP16_SCALE_SAFE_ABSMAX for fp16). */
function roundDown(x: number, storage: ScaleStorage): number {
  if (storage === 'fp32') {
    F32[0] = x;
    if (F32[0]! > x) U32[0] = F32[0]! > 0 ? U32[0]! - 1 : F32[0]! === 0 ? 0x80000001 : U32[0]! + 1;
    return F32[0]!;
  }
  let h = fp32ToFp16Bits(x);
  if (fp16BitsToFp32(h) > x) h = h === 0 ? 0x8001 : (h & 0x8000) !== 0 ? h + 1 : h - 1;
  return fp16BitsToFp32(h);
}

/** The smallest value ≥ x representable in `storage` (x ≥ 0, finite). */
function roundUp(x: number, storage: ScaleStorage): number {
  if (storage === 'fp32') {
    F32[0] = x;
    if (F32[0]! < x) U32[0] = U32[0]! + 1;
    return F32[0]!;
  }
  let h = fp32ToFp16Bits(x);
  if (fp16BitsToFp32(h) < x) h += 1;
  return fp16BitsToFp32(h);
}

/** Number of (min, scale) groups of one [kvHeads, tokens, headDim] K tensor (per channel). */
export function keyGroupCount(kvHeads: number, tokens: number, headDim: number, groupSize: number): number {
  return kvHeads * Math.ceil(tokens / groupSize) * headDim;
}

/** Number of (min, scale) groups of one [kvHeads, tokens, headDim] V tensor (per token). */
export function valueGroupCount(kvHeads: number, tokens: number, headDim: number, groupSize: number): number {
  return kvHeads * tokens * Math.ceil(headDim / groupSize);
}

/**
 * Quantize a K tensor per channel. `mins`/`scales` get one entry per (head, token group, channel),
 * in that order; `codes` one byte per element in the tensor's own order. Input must be finite.
 */
export function quantizeKeys(
  src: Float32Array,
  kvHeads: number,
  tokens: number,
  headDim: number,
  groupSize: number,
  bits: number,
  storage: ScaleStorage,
  codes: Uint8Array,
  mins: Float32Array,
  scales: Float32Array,
): void {
  const levels = (1 << bits) - 1;
  const lo = new Float64Array(headDim);
  const hi = new Float64Array(headDim);
  const inv = new Float64Array(headDim);
  const mn = new Float64Array(headDim);
  let g = 0;
  for (let h = 0; h < kvHeads; h++) {
    const headBase = h * tokens * headDim;
    for (let t0 = 0; t0 < tokens; t0 += groupSize) {
      const t1 = Math.min(tokens, t0 + groupSize);
      const first = headBase + t0 * headDim;
      for (let d = 0; d < headDim; d++) lo[d] = hi[d] = src[first + d]!;
      for (let t = t0 + 1; t < t1; t++) {
        const row = headBase + t * headDim;
        for (let d = 0; d < headDim; d++) {
          const x = src[row + d]!;
          if (x < lo[d]!) lo[d] = x;
          if (x > hi[d]!) hi[d] = x;
        }
      }
      for (let d = 0; d < headDim; d++, g++) {
        const m = roundDown(lo[d]!, storage);
        const s = roundUp((hi[d]! - m) / levels, storage);
        mins[g] = m;
        scales[g] = s;
        mn[d] = m;
        inv[d] = s > 0 ? 1 / s : 0;
      }
      for (let t = t0; t < t1; t++) {
        const row = headBase + t * headDim;
        // (x − min)·inv ∈ [0, levels]; + 0.5 and truncation round it (no Math.round call).
        for (let d = 0; d < headDim; d++) codes[row + d] = ((src[row + d]! - mn[d]!) * inv[d]! + 0.5) | 0;
      }
    }
  }
}

/** Inverse of {@link quantizeKeys}. */
export function dequantizeKeys(
  codes: Uint8Array,
  kvHeads: number,
  tokens: number,
  headDim: number,
  groupSize: number,
  mins: Float32Array,
  scales: Float32Array,
  dst: Float32Array,
): void {
  const groupsPerHead = Math.ceil(tokens / groupSize) * headDim;
  for (let h = 0; h < kvHeads; h++) {
    const headBase = h * tokens * headDim;
    for (let t0 = 0, tg = 0; t0 < tokens; t0 += groupSize, tg++) {
      const t1 = Math.min(tokens, t0 + groupSize);
      const gBase = h * groupsPerHead + tg * headDim;
      for (let t = t0; t < t1; t++) {
        const row = headBase + t * headDim;
        for (let d = 0; d < headDim; d++) dst[row + d] = mins[gBase + d]! + codes[row + d]! * scales[gBase + d]!;
      }
    }
  }
}

/**
 * Quantize a V tensor per token: groups of `groupSize` channels within each (head, token) row.
 * `mins`/`scales` get one entry per (head, token, channel group). Input must be finite.
 */
export function quantizeValues(
  src: Float32Array,
  headDim: number,
  groupSize: number,
  bits: number,
  storage: ScaleStorage,
  codes: Uint8Array,
  mins: Float32Array,
  scales: Float32Array,
): void {
  const levels = (1 << bits) - 1;
  const n = src.length;
  let g = 0;
  for (let row = 0; row < n; row += headDim) {
    const rowEnd = row + headDim;
    for (let start = row; start < rowEnd; start += groupSize, g++) {
      const end = start + groupSize < rowEnd ? start + groupSize : rowEnd;
      let lo = src[start]!;
      let hi = lo;
      for (let i = start + 1; i < end; i++) {
        const x = src[i]!;
        lo = x < lo ? x : lo;
        hi = x > hi ? x : hi;
      }
      const m = roundDown(lo, storage);
      const s = roundUp((hi - m) / levels, storage);
      mins[g] = m;
      scales[g] = s;
      const inv = s > 0 ? 1 / s : 0;
      for (let i = start; i < end; i++) codes[i] = ((src[i]! - m) * inv + 0.5) | 0;
    }
  }
}

/** Inverse of {@link quantizeValues}. */
export function dequantizeValues(
  codes: Uint8Array,
  headDim: number,
  groupSize: number,
  mins: Float32Array,
  scales: Float32Array,
  dst: Float32Array,
): void {
  const n = dst.length;
  let g = 0;
  for (let row = 0; row < n; row += headDim) {
    const rowEnd = row + headDim;
    for (let start = row; start < rowEnd; start += groupSize, g++) {
      const end = start + groupSize < rowEnd ? start + groupSize : rowEnd;
      const m = mins[g]!;
      const s = scales[g]!;
      for (let i = start; i < end; i++) dst[i] = m + codes[i]! * s;
    }
  }
}

/** Bytes that `n` codes of `bits` bits occupy when packed. */
export function packedBytes(n: number, bits: number): number {
  return Math.ceil((n * bits) / 8);
}

/**
 * Pack `n` codes (each < 2^bits, bits ∈ {2, 4}) LSB-first: code i sits in byte ⌊i·bits/8⌋ at bit
 * (i·bits) mod 8. Unused high bits of the last byte are zero.
 */
export function packCodes(codes: Uint8Array, n: number, bits: number, out: Uint8Array): void {
  if (bits === 4) {
    const full = n >>> 1;
    for (let j = 0, i = 0; j < full; j++, i += 2) out[j] = codes[i]! | (codes[i + 1]! << 4);
    if ((n & 1) !== 0) out[full] = codes[n - 1]!;
    return;
  }
  if (bits === 2) {
    const full = n >>> 2;
    for (let j = 0, i = 0; j < full; j++, i += 4) {
      out[j] = codes[i]! | (codes[i + 1]! << 2) | (codes[i + 2]! << 4) | (codes[i + 3]! << 6);
    }
    const rest = n & 3;
    if (rest !== 0) {
      let b = 0;
      for (let r = 0; r < rest; r++) b |= codes[4 * full + r]! << (2 * r);
      out[full] = b;
    }
    return;
  }
  throw new RangeError(`packCodes: bits must be 2 or 4, got ${bits}`);
}

/**
 * Unpack `n` codes packed by {@link packCodes}.
 * @returns false if the unused bits of the last byte are not zero (a sign of a damaged entry).
 */
export function unpackCodes(packed: Uint8Array, n: number, bits: number, codes: Uint8Array): boolean {
  if (bits === 4) {
    const full = n >>> 1;
    for (let j = 0, i = 0; j < full; j++, i += 2) {
      const b = packed[j]!;
      codes[i] = b & 15;
      codes[i + 1] = b >>> 4;
    }
    if ((n & 1) !== 0) {
      const b = packed[full]!;
      codes[n - 1] = b & 15;
      return b >>> 4 === 0;
    }
    return true;
  }
  if (bits === 2) {
    const full = n >>> 2;
    for (let j = 0, i = 0; j < full; j++, i += 4) {
      const b = packed[j]!;
      codes[i] = b & 3;
      codes[i + 1] = (b >>> 2) & 3;
      codes[i + 2] = (b >>> 4) & 3;
      codes[i + 3] = b >>> 6;
    }
    const rest = n & 3;
    if (rest !== 0) {
      const b = packed[full]!;
      for (let r = 0; r < rest; r++) codes[4 * full + r] = (b >>> (2 * r)) & 3;
      return b >>> (2 * rest) === 0;
    }
    return true;
  }
  throw new RangeError(`unpackCodes: bits must be 2 or 4, got ${bits}`);
}
