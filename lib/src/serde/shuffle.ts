/**
 * Byte shuffle (as in Blosc / HDF5's shuffle filter): for elements of `width` bytes, write byte 0
 * of every element, then byte 1 of every element, and so on. Float exponents and sign bits change
 * slowly between neighbours while low mantissa bits look random; grouping the bytes by position
 * hands deflate long runs of similar high bytes, which is where the little compression that float
 * data allows comes from. Trailing bytes that do not fill an element are copied unchanged.
 */

/** Shuffle `src` into `dst` (same length, not overlapping). width 1 is a plain copy. */
export function byteShuffle(src: Uint8Array, dst: Uint8Array, width: number): void {
  const len = src.length;
  if (dst.length < len) throw new RangeError(`byteShuffle: dst has ${dst.length} bytes, src ${len}`);
  const n = Math.floor(len / width);
  if (width === 2) {
    for (let i = 0, j = 0; i < n; i++, j += 2) {
      dst[i] = src[j]!;
      dst[n + i] = src[j + 1]!;
    }
  } else if (width === 4) {
    const n2 = 2 * n;
    const n3 = 3 * n;
    for (let i = 0, j = 0; i < n; i++, j += 4) {
      dst[i] = src[j]!;
      dst[n + i] = src[j + 1]!;
      dst[n2 + i] = src[j + 2]!;
      dst[n3 + i] = src[j + 3]!;
    }
  } else if (width === 1) {
    dst.set(src);
    return;
  } else {
    for (let b = 0; b < width; b++) for (let i = 0; i < n; i++) dst[b * n + i] = src[i * width + b]!;
  }
  for (let k = n * width; k < len; k++) dst[k] = src[k]!;
}

/** Inverse of {@link byteShuffle}. */
export function byteUnshuffle(src: Uint8Array, dst: Uint8Array, width: number): void {
  const len = src.length;
  if (dst.length < len) throw new RangeError(`byteUnshuffle: dst has ${dst.length} bytes, src ${len}`);
  const n = Math.floor(len / width);
  if (width === 2) {
    for (let i = 0, j = 0; i < n; i++, j += 2) {
      dst[j] = src[i]!;
      dst[j + 1] = src[n + i]!;
    }
  } else if (width === 4) {
    const n2 = 2 * n;
    const n3 = 3 * n;
    for (let i = 0, j = 0; i < n; i++, j += 4) {
      dst[j] = src[i]!;
      dst[j + 1] = src[n + i]!;
      dst[j + 2] = src[n2 + i]!;
      dst[j + 3] = src[n3 + i]!;
    }
  } else if (width === 1) {
    dst.set(src);
    return;
  } else {
    for (let b = 0; b < width; b++) for (let i = 0; i < n; i++) dst[i * width + b] = src[b * n + i]!;
  }
  for (let k = n * width; k < len; k++) dst[k] = src[k]!;
}
