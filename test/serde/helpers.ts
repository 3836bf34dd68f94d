/**
 * Test helpers: slow, independent reference conversions and error assertions.
 * The references do not share code or tricks with the library: they list every finite
 * non-negative value of the target format in increasing order, binary-search the two neighbours
 * of |x| and take the nearer (ties to the even bit pattern), with IEEE's overflow rule.
 */
import * as assert from 'node:assert/strict';
import { KVLabError, type KVLabErrorCode } from '../../lib/src/runtime';
import { HEADER_BYTES, hasNativeFloat16, xxh64 } from '../../lib/src/serde';

/** A native Float16Array (Node 24+) may canonicalise NaN; the integer path keeps its sign. */
export const FP16_NAN_SIGN_KEPT = !hasNativeFloat16();

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

export function f32FromBits(bits: number): number {
  U32[0] = bits >>> 0;
  return F32[0]!;
}

/** The bits of a Float32Array's values, as a view (no copy). */
export const u32 = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);

export function bitsOfF32(x: number): number {
  F32[0] = x;
  return U32[0]!;
}

/** Value of fp16 bits, computed from the definition. */
export function fp16Value(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0x1f) return m === 0 ? sign * Infinity : NaN;
  if (e === 0) return sign * m * 2 ** -24;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

/** Value of bf16 bits, computed from the definition. */
export function bf16Value(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 7) & 0xff;
  const m = h & 0x7f;
  if (e === 0xff) return m === 0 ? sign * Infinity : NaN;
  if (e === 0) return sign * m * 2 ** -133;
  return sign * (1 + m / 128) * 2 ** (e - 127);
}

function table(maxBits: number, value: (h: number) => number): Float64Array {
  const t = new Float64Array(maxBits + 1);
  for (let h = 0; h <= maxBits; h++) t[h] = value(h);
  return t;
}

const FP16_POS = table(0x7bff, fp16Value);
const BF16_POS = table(0x7f7f, bf16Value);

function nearest(a: number, values: Float64Array, maxFiniteBits: number, overflowAt: number, infBits: number): number {
  if (a >= overflowAt) return infBits;
  let lo = 0;
  let hi = maxFiniteBits;
  if (a >= values[hi]!) return hi; // below overflowAt: rounds down to the largest finite value
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (values[mid]! <= a) lo = mid;
    else hi = mid;
  }
  const dLo = a - values[lo]!;
  const dHi = values[hi]! - a;
  if (dLo < dHi) return lo;
  if (dHi < dLo) return hi;
  return (lo & 1) === 0 ? lo : hi;
}

/** Reference fp16 bits of the fp32 value with bits `bits`; 'nan' / '-nan' for NaN input. */
export function refFp16(bits: number): number | 'nan' | '-nan' {
  const x = f32FromBits(bits);
  const neg = (bits & 0x80000000) !== 0;
  if (Number.isNaN(x)) return neg ? '-nan' : 'nan';
  const a = Math.abs(x);
  const sign = neg ? 0x8000 : 0;
  if (a === Infinity) return sign | 0x7c00;
  // Overflow: from max + half an ulp (65504 + 16) up, the rounded value is infinity.
  return sign | nearest(a, FP16_POS, 0x7bff, 65520, 0x7c00);
}

/** Reference bf16 bits of the fp32 value with bits `bits`. */
export function refBf16(bits: number): number | 'nan' | '-nan' {
  const x = f32FromBits(bits);
  const neg = (bits & 0x80000000) !== 0;
  if (Number.isNaN(x)) return neg ? '-nan' : 'nan';
  const a = Math.abs(x);
  const sign = neg ? 0x8000 : 0;
  if (a === Infinity) return sign | 0x7f80;
  return sign | nearest(a, BF16_POS, 0x7f7f, bf16Value(0x7f7f) + 2 ** 119, 0x7f80);
}

/** Does half-precision bits `h` match an expected value from a fixture or reference? */
export function halfMatches(h: number, expected: number | string, expBits: number): boolean {
  if (expected === 'nan' || expected === '-nan') {
    const isNaN = (h & 0x7fff) > (expBits === 5 ? 0x7c00 : 0x7f80);
    const signOk = ((h & 0x8000) !== 0) === (expected === '-nan') || (expBits === 5 && !FP16_NAN_SIGN_KEPT);
    return isNaN && signOk;
  }
  const e = typeof expected === 'string' ? parseInt(expected, 16) : expected;
  return h === e;
}

/** Assert that `fn` throws a KVLabError whose code is one of `codes`; returns the error. */
export function expectKVError(fn: () => unknown, codes: KVLabErrorCode | KVLabErrorCode[], context = ''): KVLabError {
  const allowed = Array.isArray(codes) ? codes : [codes];
  let result: unknown;
  try {
    result = fn();
  } catch (err) {
    if (!(err instanceof KVLabError)) {
      assert.fail(`${context}: expected a KVLabError (${allowed.join('|')}), got ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`);
    }
    assert.ok(allowed.includes(err.code), `${context}: expected code ${allowed.join('|')}, got ${err.code}: ${err.message}`);
    return err;
  }
  return assert.fail(`${context}: expected a ${allowed.join('|')} error, but it returned ${describe(result)}`);
}

function describe(v: unknown): string {
  if (v && typeof v === 'object' && 'layers' in v) return 'a KV block';
  return typeof v;
}

/** Bitwise CRC-32C, the textbook definition (one bit at a time), for cross-checks. */
export function crc32cBitwise(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of data) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

/** Recompute both checksums of an entry in place, so that a test reaches the checks behind them. */
export function reseal(blob: Buffer): Buffer {
  if (blob.length >= HEADER_BYTES) {
    blob.writeBigUInt64LE(xxh64(blob, 0n, HEADER_BYTES, blob.length), 48);
    blob.writeBigUInt64LE(xxh64(blob, 0n, 0, 152), 152);
  }
  return blob;
}
