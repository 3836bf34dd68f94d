/**
 * Widening IEEE half (F16) and bfloat16 (BF16) to float32, bit-exactly (every F16 and BF16 value,
 * including subnormals, infinities and NaN payloads, has an exact float32 counterpart).
 * tfjs has no 16-bit float dtype, so checkpoints stored in half precision are widened on load.
 */

let f16ToF32Bits: Uint32Array | undefined;

/** Float32 bit pattern of one F16 bit pattern. */
export function float16BitsToFloat32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exponent = (h >>> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0x1f) return (sign | 0x7f800000 | (mantissa << 13)) >>> 0; // inf / NaN
  if (exponent !== 0) return (sign | ((exponent - 15 + 127) << 23) | (mantissa << 13)) >>> 0;
  if (mantissa === 0) return sign >>> 0; // ±0
  // Subnormal: mantissa × 2^-24 is a normal float32; shift it until the implicit bit appears.
  let e = -14;
  let m = mantissa;
  while ((m & 0x400) === 0) {
    m <<= 1;
    e -= 1;
  }
  return (sign | ((e + 127) << 23) | ((m & 0x3ff) << 13)) >>> 0;
}

function table(): Uint32Array {
  // 256 KiB, built once: a lookup beats per-element branching on multi-megabyte tensors.
  if (f16ToF32Bits === undefined) {
    f16ToF32Bits = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) f16ToF32Bits[h] = float16BitsToFloat32Bits(h);
  }
  return f16ToF32Bits;
}

/** Decode `count` little-endian F16 values starting at `bytes[offset]`. */
export function decodeFloat16(bytes: Uint8Array, offset: number, count: number): Float32Array {
  const lut = table();
  const out = new Float32Array(count);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0, o = offset; i < count; i++, o += 2) bits[i] = lut[(bytes[o] as number) | ((bytes[o + 1] as number) << 8)] as number;
  return out;
}

/** Decode `count` little-endian BF16 values starting at `bytes[offset]`: BF16 is the top half of a float32. */
export function decodeBfloat16(bytes: Uint8Array, offset: number, count: number): Float32Array {
  const out = new Float32Array(count);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0, o = offset; i < count; i++, o += 2) bits[i] = (((bytes[o] as number) | ((bytes[o + 1] as number) << 8)) << 16) >>> 0;
  return out;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Decode `count` little-endian F32 values starting at `bytes[offset]` (copied: the result owns its memory). */
export function decodeFloat32(bytes: Uint8Array, offset: number, count: number): Float32Array {
  if (LITTLE_ENDIAN) {
    // slice() copies into a fresh, 4-byte-aligned buffer, whatever the alignment of `offset`.
    return new Float32Array(bytes.buffer.slice(bytes.byteOffset + offset, bytes.byteOffset + offset + count * 4));
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, count * 4);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

/** Little-endian bytes of a Float32Array (a view when the platform is little-endian, else a copy). */
export function float32ToBytes(values: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i] as number, true);
  return out;
}
