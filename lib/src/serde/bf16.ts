/**
 * bfloat16 ⇄ fp32. bf16 is the top half of an fp32 (same 8-bit exponent, 7 mantissa bits), so
 * decoding is a 16-bit shift and encoding is a shift after round-to-nearest-even on the dropped
 * 16 bits. Finite values may round up to ±Infinity (as in every RNE implementation); NaN stays a
 * (quiet) NaN — without the special case a NaN whose payload sits in the low bits could round to
 * Infinity or truncate to it. Both directions run the WebAssembly SIMD kernels (kernels.wat, bit-
 * identical to the JavaScript here) where they load and measure faster (path-choice.ts).
 */
import { decodeSample, encodeSample } from './fp16';
import { fp32ToHalves, halvesToFp32, wasmKernelsInUse } from './kernels';
import { type HalfPath, PathChoice } from './path-choice';

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** bf16 bits of a value given by its fp32 bit pattern `x` (an unsigned 32-bit integer). */
export function bf16BitsFromFp32Bits(x: number): number {
  if ((x & 0x7fffffff) > 0x7f800000) return ((x >>> 16) | 0x0040) & 0xffff;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** bf16 bits of `x` after rounding x to float32. */
export function fp32ToBf16Bits(x: number): number {
  F32[0] = x;
  return bf16BitsFromFp32Bits(U32[0]!);
}

/** The value of bf16 bits `h`, as a JS number (exact). */
export function bf16BitsToFp32(h: number): number {
  U32[0] = (h & 0xffff) << 16;
  return F32[0]!;
}

/** The loop body of {@link fp32ToBf16}: small enough for V8 to inline. */
function round(x: number): number {
  // x + 0x7FFF (+1 when the kept LSB is odd) carries into bit 16 exactly when RNE rounds up.
  // For finite x the sum stays below 2^32, so `>>> 16` cannot wrap.
  return (x & 0x7fffffff) > 0x7f800000 ? (x >>> 16) | 0x0040 : (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
}

/** The JavaScript encoder: {@link round} on the integer bits. */
function encodeJs(src: Float32Array, dst: Uint16Array): void {
  const n = src.length;
  const u = new Uint32Array(src.buffer, src.byteOffset, n);
  if ((dst.byteOffset & 2) !== 0) {
    for (let i = 0; i < n; i++) dst[i] = round(u[i]!);
    return;
  }
  // Two values per 32-bit store, as in fp16.ts, and two stores per iteration.
  const m = n >>> 1;
  const d32 = new Uint32Array(dst.buffer, dst.byteOffset, m);
  const m2 = m & ~1;
  for (let j = 0, i = 0; j < m2; j += 2, i += 4) {
    d32[j] = ((round(u[i]!) & 0xffff) | (round(u[i + 1]!) << 16)) >>> 0;
    d32[j + 1] = ((round(u[i + 2]!) & 0xffff) | (round(u[i + 3]!) << 16)) >>> 0;
  }
  for (let j = m2; j < m; j++) d32[j] = ((round(u[2 * j]!) & 0xffff) | (round(u[2 * j + 1]!) << 16)) >>> 0;
  if ((n & 1) !== 0) dst[n - 1] = round(u[n - 1]!);
}

function encodeWasm(src: Float32Array, dst: Uint16Array): void {
  const n = src.length;
  const done = fp32ToHalves('bf16', src, dst);
  if (done < n) {
    const u = new Uint32Array(src.buffer, src.byteOffset, n);
    for (let i = done; i < n; i++) dst[i] = round(u[i]!) & 0xffff;
  }
}

function decodeJs(src: Uint16Array, dst: Float32Array): void {
  const n = src.length;
  const out = new Uint32Array(dst.buffer, dst.byteOffset, n);
  if ((src.byteOffset & 2) !== 0) {
    for (let i = 0; i < n; i++) out[i] = src[i]! << 16;
    return;
  }
  // One 32-bit load per two values (the low half is value i, the high half value i + 1), two
  // loads per iteration: ≈ 1.2× faster than one.
  const m = n >>> 1;
  const s32 = new Uint32Array(src.buffer, src.byteOffset, m);
  const m2 = m & ~1;
  for (let j = 0, i = 0; j < m2; j += 2, i += 4) {
    const w = s32[j]!;
    const x = s32[j + 1]!;
    out[i] = w << 16;
    out[i + 1] = w & 0xffff0000;
    out[i + 2] = x << 16;
    out[i + 3] = x & 0xffff0000;
  }
  for (let j = m2; j < m; j++) {
    const w = s32[j]!;
    out[2 * j] = w << 16;
    out[2 * j + 1] = w & 0xffff0000;
  }
  if ((n & 1) !== 0) out[n - 1] = src[n - 1]! << 16;
}

function decodeWasm(src: Uint16Array, dst: Float32Array): void {
  const n = src.length;
  const done = halvesToFp32('bf16', src, dst);
  if (done < n) {
    const out = new Uint32Array(dst.buffer, dst.byteOffset, n);
    for (let i = done; i < n; i++) out[i] = src[i]! << 16;
  }
}

const wasmOn = (): boolean => wasmKernelsInUse();

/** Which bf16 encoder runs: timed at first use (see path-choice.ts). */
export const BF16_ENCODE = new PathChoice<Float32Array, Uint16Array>(
  'bf16Encode',
  [
    { path: 'wasm', available: wasmOn, run: encodeWasm, exact: true },
    { path: 'js', available: () => true, run: encodeJs, exact: true },
  ],
  encodeSample,
);

/** Which bf16 decoder runs: timed at first use (see path-choice.ts). */
export const BF16_DECODE = new PathChoice<Uint16Array, Float32Array>(
  'bf16Decode',
  [
    { path: 'wasm', available: wasmOn, run: decodeWasm, exact: true },
    { path: 'js', available: () => true, run: decodeJs, exact: true },
  ],
  decodeSample(encodeJs),
);

/** The bf16 paths in use (deciding them first if needed). */
export function bf16Paths(): { encode: HalfPath; decode: HalfPath } {
  return { encode: BF16_ENCODE.path(), decode: BF16_DECODE.path() };
}

/** Convert `src` to bf16 bits in `dst[0, src.length)`, round-to-nearest-even. */
export function fp32ToBf16(src: Float32Array, dst: Uint16Array): void {
  const n = src.length;
  if (dst.length < n) throw new RangeError(`fp32ToBf16: dst holds ${dst.length} values, src has ${n}`);
  BF16_ENCODE.run()(src, dst);
}

/** Convert bf16 bits `src` to fp32 values in `dst[0, src.length)` (exact). */
export function bf16ToFp32(src: Uint16Array, dst: Float32Array): void {
  const n = src.length;
  if (dst.length < n) throw new RangeError(`bf16ToFp32: dst holds ${dst.length} values, src has ${n}`);
  BF16_DECODE.run()(src, dst);
}
