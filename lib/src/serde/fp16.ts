/**
 * IEEE 754 binary16 ("fp16", "half") ⇄ binary32 conversion, bit-exact with round-to-nearest-even:
 * subnormals, signed zeros, ±Infinity, overflow to ±Infinity (|x| ≥ 65520), NaN stays NaN (with
 * its sign and top payload bits; a native Float16Array writes its own NaN bits instead).
 *
 * Each direction has up to three paths, and the fastest one here is chosen by timing them at first
 * use (path-choice.ts; `halfPrecisionPaths()` tells which):
 * - the WebAssembly SIMD kernels (kernels.wat), bit-identical to the JavaScript below;
 * - a native `Float16Array` (Node 24+): `set()` converts in C++;
 * - JavaScript: encoding on the integer bits (a Uint32Array view of the input; `Math.f16round` in
 *   a loop is ~10× slower), decoding by one lookup per value in a 65 536-entry table.
 */
import { fp32ToHalves, halvesToFp32, wasmKernelsInUse } from './kernels';
import { type HalfPath, PATH_CALIBRATION, PathChoice } from './path-choice';

/** The part of the Float16Array API used here (not in the ES2022 lib typings). */
interface Float16ArrayLike extends ArrayLike<number> {
  set(array: ArrayLike<number>, offset?: number): void;
}
type Float16ArrayCtor = new (buffer: ArrayBufferLike, byteOffset?: number, length?: number) => Float16ArrayLike;

const NATIVE_F16: Float16ArrayCtor | undefined = (globalThis as { Float16Array?: Float16ArrayCtor }).Float16Array;
let nativeEnabled = NATIVE_F16 !== undefined;

/** True when the runtime provides `Float16Array` (Node 24+, or 22 with a flag). */
export function hasNativeFloat16(): boolean {
  return NATIVE_F16 !== undefined;
}

/**
 * Allow or forbid the native `Float16Array` paths (for tests and benchmarks that compare paths).
 * Allowed, they are used only where they measured fastest. Ignored when the runtime has no
 * `Float16Array`. @returns whether the native paths are now allowed.
 */
export function useNativeFloat16(enabled: boolean): boolean {
  nativeEnabled = enabled && NATIVE_F16 !== undefined;
  return nativeEnabled;
}

// Scratch for scalar conversions.
const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/**
 * fp16 bits of |x| for |x| below the smallest normal fp16 (2^-14), from the fp32 magnitude bits `a`.
 * The value is m·2^(e−150) (m with its implicit bit); in units of the fp16 subnormal step 2^-24 that
 * is m / 2^(126−e), rounded to nearest even. A carry out of 1023 gives 0x400, the smallest normal.
 */
function subnormalBits(a: number): number {
  // Below 2^-25 everything rounds to 0; exactly 2^-25 (0x33000000) is a tie that rounds to even 0.
  if (a <= 0x33000000) return 0;
  const e = a >>> 23;
  const m = (a & 0x7fffff) | 0x800000;
  const shift = 126 - e; // 14 … 24
  const q = m >>> shift;
  const rem = m & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return rem > half || (rem === half && (q & 1) === 1) ? q + 1 : q;
}

/** fp16 bits of a value given by its fp32 bit pattern `x` (an unsigned 32-bit integer). */
export function fp16BitsFromFp32Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const a = x & 0x7fffffff;
  if (a < 0x38800000) return sign | subnormalBits(a);
  // Normal range: rebias the exponent (127 → 15, i.e. −0x38000000) and round the 13 dropped
  // mantissa bits to nearest even (+0xFFF, +1 more when the kept LSB is odd). A carry rolls into
  // the exponent; values from 65520 up to 2^16 carry into 0x7C00 = Infinity, as RNE demands.
  if (a < 0x47800000) return sign | ((a - 0x37fff001 + ((a >>> 13) & 1)) >>> 13);
  // NaN: keep the top payload bits and force the quiet bit, so a NaN can never become Infinity.
  if (a > 0x7f800000) return sign | 0x7e00 | ((a >>> 13) & 0x3ff);
  return sign | 0x7c00; // Infinity, or finite overflow (|x| ≥ 2^16) → Infinity
}

/** fp16 bits of `x` after rounding x to float32 (the format's input type). */
export function fp32ToFp16Bits(x: number): number {
  F32[0] = x;
  return fp16BitsFromFp32Bits(U32[0]!);
}

/** fp32 bit pattern of the fp16 value with bits `h` (exact: every fp16 value is an fp32 value). */
function fp32BitsOfFp16(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0; // ±Infinity, NaN (payload kept)
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
  if (mant === 0) return sign >>> 0;
  // Subnormal: value = mant·2^-24, exact in fp32; let the FPU normalise it.
  F32[0] = mant * 5.9604644775390625e-8;
  return (sign | U32[0]!) >>> 0;
}

/**
 * The 65 536-entry fp16 → fp32 table (fp32 bit patterns, so NaN payloads survive the copy).
 * Built once at load (≈ 1 ms, 256 KiB); a module constant rather than a lazily filled variable
 * because the hot loop runs measurably faster on a constant V8 can embed (3.2 → 4 GB/s).
 */
const LUT: Uint32Array = buildTable();

function buildTable(): Uint32Array {
  const t = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) t[h] = fp32BitsOfFp16(h);
  return t;
}

/** The fp16 → fp32 lookup table (read-only by contract: it is shared). */
export function fp16ToFp32Table(): Uint32Array {
  return LUT;
}

/** The value of fp16 bits `h`, as a JS number. */
export function fp16BitsToFp32(h: number): number {
  U32[0] = LUT[h & 0xffff]!;
  return F32[0]!;
}

/** The loop body of {@link fp32ToFp16}: small enough for V8 to inline. */
function half(x: number): number {
  const a = x & 0x7fffffff;
  let h: number;
  if (a >= 0x38800000 && a < 0x47800000) h = (a - 0x37fff001 + ((a >>> 13) & 1)) >>> 13;
  else if (a < 0x38800000) h = subnormalBits(a);
  else if (a > 0x7f800000) h = 0x7e00 | ((a >>> 13) & 0x3ff);
  else h = 0x7c00;
  return ((x >>> 16) & 0x8000) | h;
}

/** The JavaScript encoder: {@link half} on the integer bits. */
function encodeJs(src: Float32Array, dst: Uint16Array): void {
  const n = src.length;
  const u = new Uint32Array(src.buffer, src.byteOffset, n);
  if ((dst.byteOffset & 2) !== 0) {
    // dst starts mid-word (only for odd views): the plain loop, one 16-bit store per value.
    for (let i = 0; i < n; i++) dst[i] = half(u[i]!);
    return;
  }
  // Two values per 32-bit store (≈ 1.3× faster than one 16-bit store per value), two stores per
  // iteration.
  const m = n >>> 1;
  const d32 = new Uint32Array(dst.buffer, dst.byteOffset, m);
  const m2 = m & ~1;
  for (let j = 0, i = 0; j < m2; j += 2, i += 4) {
    d32[j] = (half(u[i]!) | (half(u[i + 1]!) << 16)) >>> 0;
    d32[j + 1] = (half(u[i + 2]!) | (half(u[i + 3]!) << 16)) >>> 0;
  }
  for (let j = m2; j < m; j++) d32[j] = (half(u[2 * j]!) | (half(u[2 * j + 1]!) << 16)) >>> 0;
  if ((n & 1) !== 0) dst[n - 1] = half(u[n - 1]!);
}

function encodeWasm(src: Float32Array, dst: Uint16Array): void {
  const n = src.length;
  const done = fp32ToHalves('fp16', src, dst);
  if (done < n) {
    const u = new Uint32Array(src.buffer, src.byteOffset, n);
    for (let i = done; i < n; i++) dst[i] = half(u[i]!);
  }
}

function encodeNative(src: Float32Array, dst: Uint16Array): void {
  new NATIVE_F16!(dst.buffer, dst.byteOffset, src.length).set(src);
}

function decodeJs(src: Uint16Array, dst: Float32Array): void {
  const n = src.length;
  const t = LUT;
  const out = new Uint32Array(dst.buffer, dst.byteOffset, n);
  // A Uint16Array may start 2 bytes off a 4-byte boundary: do one value so the rest is aligned.
  const head = (src.byteOffset & 2) !== 0 && n > 0 ? 1 : 0;
  if (head === 1) out[0] = t[src[0]!]!;
  const pairs = (n - head) >>> 1;
  if (pairs > 0) decodePairs(new Uint32Array(src.buffer, src.byteOffset + 2 * head, pairs), out, head);
  const last = head + 2 * pairs;
  if (last < n) out[last] = t[src[last]!]!;
}

function decodeWasm(src: Uint16Array, dst: Float32Array): void {
  const n = src.length;
  const done = halvesToFp32('fp16', src, dst);
  if (done < n) {
    const out = new Uint32Array(dst.buffer, dst.byteOffset, n);
    for (let i = done; i < n; i++) out[i] = LUT[src[i]!]!;
  }
}

function decodeNative(src: Uint16Array, dst: Float32Array): void {
  dst.set(new NATIVE_F16!(src.buffer, src.byteOffset, src.length));
}

/**
 * Calibration data: values spread over [-2, 2) like KV (no NaN), deterministic. 4 Ki of them
 * repeated: a fresh 64 Ki-iteration loop would run in V8's interpreter and cost milliseconds.
 */
export function calibrationValues(): Float32Array {
  const x = new Float32Array(PATH_CALIBRATION.values);
  const period = Math.min(4096, x.length);
  for (let i = 0; i < period; i++) x[i] = (Math.imul(i + 1, 0x9e3779b1) >>> 0) * 2 ** -30 - 2;
  for (let filled = period; filled < x.length; filled *= 2) x.copyWithin(filled, 0, Math.min(filled, x.length - filled));
  return x;
}

/** The sample an encoder is timed on: calibration values to 16-bit. */
export function encodeSample(): { src: Float32Array; dst: Uint16Array; fp32Bytes: number } {
  const src = calibrationValues();
  return { src, dst: new Uint16Array(src.length), fp32Bytes: src.byteLength };
}

/** The sample a decoder is timed on: calibration values encoded by `encode`, back to fp32. */
export function decodeSample(encode: (src: Float32Array, dst: Uint16Array) => void): () => { src: Uint16Array; dst: Float32Array; fp32Bytes: number } {
  return () => {
    const values = calibrationValues();
    const src = new Uint16Array(values.length);
    encode(values, src);
    return { src, dst: values, fp32Bytes: values.byteLength };
  };
}

const wasmOn = (): boolean => wasmKernelsInUse();
const nativeOn = (): boolean => nativeEnabled && NATIVE_F16 !== undefined;

/** Which fp16 encoder runs: timed at first use (see path-choice.ts). */
export const FP16_ENCODE = new PathChoice<Float32Array, Uint16Array>(
  'fp16Encode',
  [
    { path: 'wasm', available: wasmOn, run: encodeWasm, exact: true },
    { path: 'native', available: nativeOn, run: encodeNative, exact: false },
    { path: 'js', available: () => true, run: encodeJs, exact: true },
  ],
  encodeSample,
);

/** Which fp16 decoder runs: timed at first use (see path-choice.ts). */
export const FP16_DECODE = new PathChoice<Uint16Array, Float32Array>(
  'fp16Decode',
  [
    { path: 'wasm', available: wasmOn, run: decodeWasm, exact: true },
    { path: 'native', available: nativeOn, run: decodeNative, exact: false },
    { path: 'js', available: () => true, run: decodeJs, exact: true },
  ],
  decodeSample(encodeJs),
);

/** The fp16 paths in use (deciding them first if needed). */
export function fp16Paths(): { encode: HalfPath; decode: HalfPath } {
  return { encode: FP16_ENCODE.path(), decode: FP16_DECODE.path() };
}

/**
 * Convert `src` to fp16 bits in `dst[0, src.length)`, round-to-nearest-even.
 * `dst` may be a view into a larger buffer (it must be 2-byte aligned, as every Uint16Array is).
 */
export function fp32ToFp16(src: Float32Array, dst: Uint16Array): void {
  const n = src.length;
  if (dst.length < n) throw new RangeError(`fp32ToFp16: dst holds ${dst.length} values, src has ${n}`);
  FP16_ENCODE.run()(src, dst);
}

/** Convert fp16 bits `src` to fp32 values in `dst[0, src.length)` (exact). */
export function fp16ToFp32(src: Uint16Array, dst: Float32Array): void {
  const n = src.length;
  if (dst.length < n) throw new RangeError(`fp16ToFp32: dst holds ${dst.length} values, src has ${n}`);
  FP16_DECODE.run()(src, dst);
}

/**
 * The hot loop: one 32-bit load per two halves and 4 values per iteration — ≈ 1.7× faster than
 * one 16-bit load per value on Node 20. Kept in its own small function with plain local indices,
 * which V8 optimises more reliably than a loop inside the larger caller (measured 4.0 vs 2.4 GB/s).
 */
function decodePairs(s32: Uint32Array, out: Uint32Array, offset: number): void {
  const t = LUT;
  const m2 = s32.length & ~1;
  for (let j = 0, i = offset; j < m2; j += 2, i += 4) {
    const w = s32[j]!;
    const x = s32[j + 1]!;
    out[i] = t[w & 0xffff]!;
    out[i + 1] = t[w >>> 16]!;
    out[i + 2] = t[x & 0xffff]!;
    out[i + 3] = t[x >>> 16]!;
  }
  if (m2 < s32.length) {
    const w = s32[m2]!;
    const i = offset + 2 * m2;
    out[i] = t[w & 0xffff]!;
    out[i + 1] = t[w >>> 16]!;
  }
}
