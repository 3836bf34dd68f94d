/**
 * Values ⇄ payload bytes for every dtype (no header, no codec). The writers fill a caller-given
 * byte range — normally the final output Buffer, so an uncompressed entry is encoded in place
 * with no intermediate copy.
 */
import { CorruptEntryError } from '../runtime';
import { bf16ToFp32, fp32ToBf16 } from './bf16';
import { fp16ToFp32, fp32ToFp16 } from './fp16';
import { dequantizeInt8, quantizeInt8 } from './int8';
import { type TensorLayout, type ScaleDtype, tensorLayout } from './layout';
import { dequantizeKeys, dequantizeValues, packCodes, quantizeKeys, quantizeValues, unpackCodes } from './lowbit';
import type { StagedPayload } from './kernels';
import { scratchBytes, scratchF32, scratchU16 } from './scratch';
import { type KVArrays, type KVBlockData, type KVDtype, type KVShape, codeBits, isQuantized } from './types';

/** The bytes of a typed array, as a view (no copy). */
function bytesOf(a: Float32Array | Uint16Array | Int8Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Write the payload of `block` into `dst` (exactly payloadBytes(...) long). */
export function writePayload(block: KVBlockData, dtype: KVDtype, groupSize: number, scaleDtype: ScaleDtype, dst: Uint8Array): void {
  const kLayout = tensorLayout(block, dtype, 'k', groupSize, scaleDtype);
  const vLayout = tensorLayout(block, dtype, 'v', groupSize, scaleDtype);
  let off = 0;
  for (let l = 0; l < block.layers; l++) {
    writeTensor(block, block.k[l]!, 'k', dtype, groupSize, scaleDtype, kLayout, dst, off);
    off += kLayout.bytes;
    writeTensor(block, block.v[l]!, 'v', dtype, groupSize, scaleDtype, vLayout, dst, off);
    off += vLayout.bytes;
  }
}

function writeTensor(
  shape: KVShape,
  src: Float32Array,
  kind: 'k' | 'v',
  dtype: KVDtype,
  groupSize: number,
  scaleDtype: ScaleDtype,
  layout: TensorLayout,
  dst: Uint8Array,
  off: number,
): void {
  const n = layout.elements;
  switch (dtype) {
    case 'fp32':
      dst.set(bytesOf(src), off);
      return;
    case 'fp16':
    case 'bf16': {
      const convert = dtype === 'fp16' ? fp32ToFp16 : fp32ToBf16;
      const at = dst.byteOffset + off;
      if ((at & 1) === 0) {
        convert(src, new Uint16Array(dst.buffer, at, n));
      } else {
        // An odd address cannot hold a Uint16Array view: convert in scratch, then copy.
        const tmp = scratchU16('half', n);
        convert(src, tmp);
        dst.set(bytesOf(tmp), off);
      }
      return;
    }
    case 'int8': {
      const scales = scratchF32('scales', layout.groups);
      quantizeInt8(src, shape.headDim, groupSize, new Int8Array(dst.buffer, dst.byteOffset + off + layout.scaleBytes, n), scales);
      dst.set(bytesOf(scales), off);
      return;
    }
    case 'kivi4':
    case 'kivi2': {
      const bits = codeBits(dtype);
      const storage = scaleDtype === 'fp16' ? 'fp16' : 'fp32';
      const codes = scratchBytes('codes', n);
      const scales = scratchF32('scales', layout.groups);
      const mins = scratchF32('mins', layout.groups);
      if (kind === 'k') quantizeKeys(src, shape.kvHeads, shape.tokens, shape.headDim, groupSize, bits, storage, codes, mins, scales);
      else quantizeValues(src, shape.headDim, groupSize, bits, storage, codes, mins, scales);
      writeScales(scales, storage, dst, off);
      writeScales(mins, storage, dst, off + layout.scaleBytes);
      packCodes(codes, n, bits, dst.subarray(off + layout.scaleBytes + layout.minBytes, off + layout.bytes));
      return;
    }
  }
}

/** Store fp32 values (already exactly representable in `storage`) as fp32 or fp16 bytes. */
function writeScales(values: Float32Array, storage: 'fp16' | 'fp32', dst: Uint8Array, off: number): void {
  if (storage === 'fp32') {
    dst.set(bytesOf(values), off);
    return;
  }
  const h = scratchU16('scales16', values.length);
  fp32ToFp16(values, h);
  dst.set(bytesOf(h), off);
}

/**
 * Check what a CRC cannot vouch for — a blob with valid checksums may still come from a buggy or
 * hostile writer: stored scales must be finite and ≥ 0, kivi mins finite, kivi padding bits zero.
 * Run before {@link readPayload} so that a failure leaves decode targets untouched.
 * @throws CorruptEntryError
 */
export function validatePayload(raw: Uint8Array, shape: KVShape, dtype: KVDtype, groupSize: number, scaleDtype: ScaleDtype): void {
  if (!isQuantized(dtype)) return;
  const storage = scaleDtype === 'fp16' ? 'fp16' : 'fp32';
  const layouts = { k: tensorLayout(shape, dtype, 'k', groupSize, scaleDtype), v: tensorLayout(shape, dtype, 'v', groupSize, scaleDtype) };
  let off = 0;
  for (let l = 0; l < shape.layers; l++) {
    for (const kind of ['k', 'v'] as const) {
      const layout = layouts[kind];
      const what = `payload.layers[${l}].${kind}`;
      checkScales(readScales(raw, off, layout.groups, storage, 'scales'), what);
      if (dtype !== 'int8') {
        checkMins(readScales(raw, off + layout.scaleBytes, layout.groups, storage, 'mins'), what);
        const bits = codeBits(dtype);
        const usedBits = (layout.elements * bits) % 8;
        const last = raw[off + layout.bytes - 1]!;
        if (usedBits !== 0 && last >>> usedBits !== 0) {
          throw new CorruptEntryError({
            path: `${what}.codes`,
            expected: 'zero padding bits after the last code',
            received: `0x${last.toString(16).padStart(2, '0')} in the last byte (${8 - usedBits} padding bits)`,
          });
        }
      }
      off += layout.bytes;
    }
  }
}

/**
 * Where a block's tokens go in decode targets that hold more than the block: the arrays are
 * [kvHeads, tokens, headDim] per layer and the block fills positions [start, start + its tokens) —
 * how a prefix of many blocks is decoded straight into the prefix's arrays, one block at a time.
 */
export interface TokenSpan {
  /** Positions the target arrays hold. */
  tokens: number;
  /** First position the block fills. */
  start: number;
  /**
   * The number of tokens the entry must hold: another count is a MODEL_MISMATCH error, as a block of
   * another shape is (a prefix is made of whole blocks). @default any count that fits the span
   */
  blockTokens?: number;
}

/** How {@link readPayload} reads: from a staged copy of the payload, into a span of larger arrays. */
export interface ReadPayloadOptions {
  /** The payload already copied into the WebAssembly kernels' memory (fp16/bf16 without a codec). */
  staged?: StagedPayload;
  /** @default the arrays hold exactly the block */
  span?: TokenSpan;
}

/**
 * Decode a payload (checked by {@link validatePayload}) into `out`: arrays of the block's shape, or
 * of `options.span`'s when given.
 */
export function readPayload(raw: Uint8Array, shape: KVShape, dtype: KVDtype, groupSize: number, scaleDtype: ScaleDtype, out: KVArrays, options: ReadPayloadOptions = {}): void {
  const kLayout = tensorLayout(shape, dtype, 'k', groupSize, scaleDtype);
  const vLayout = tensorLayout(shape, dtype, 'v', groupSize, scaleDtype);
  const span = options.span;
  const whole = span === undefined || (span.start === 0 && span.tokens === shape.tokens);
  const rowValues = shape.tokens * shape.headDim;
  const n = kLayout.elements;
  let off = 0;
  for (let l = 0; l < shape.layers; l++) {
    for (const [kind, layout, dst] of [['k', kLayout, out.k[l]!], ['v', vLayout, out.v[l]!]] as const) {
      if (options.staged !== undefined && (dtype === 'fp16' || dtype === 'bf16')) {
        options.staged.halvesToFp32(dtype, off, n, whole ? (values, first) => dst.set(values, first) : spanWriter(dst, rowValues, shape.headDim, span));
      } else if (whole) {
        readTensor(raw, off, shape, kind, dtype, groupSize, scaleDtype, layout, dst);
      } else {
        const tmp = scratchF32('span', n);
        readTensor(raw, off, shape, kind, dtype, groupSize, scaleDtype, layout, tmp);
        spanWriter(dst, rowValues, shape.headDim, span)(tmp, 0);
      }
      off += layout.bytes;
    }
  }
}

/**
 * A writer of a block tensor's values (in [kvHeads, block tokens, headDim] order, a chunk at a time)
 * into the rows of `span` in `dst` ([kvHeads, span.tokens, headDim]): each head's rows are contiguous
 * on both sides, so a chunk is one copy per head it touches.
 */
function spanWriter(dst: Float32Array, rowValues: number, headDim: number, span: TokenSpan): (values: Float32Array, first: number) => void {
  const headStride = span.tokens * headDim;
  const startAt = span.start * headDim;
  return (values, first) => {
    let j = 0;
    while (j < values.length) {
      const at = first + j;
      const head = Math.floor(at / rowValues);
      const within = at - head * rowValues;
      const take = Math.min(values.length - j, rowValues - within);
      dst.set(take === values.length ? values : values.subarray(j, j + take), head * headStride + startAt + within);
      j += take;
    }
  };
}

function readTensor(
  raw: Uint8Array,
  off: number,
  shape: KVShape,
  kind: 'k' | 'v',
  dtype: KVDtype,
  groupSize: number,
  scaleDtype: ScaleDtype,
  layout: TensorLayout,
  dst: Float32Array,
): void {
  const n = layout.elements;
  switch (dtype) {
    case 'fp32':
      bytesOf(dst).set(raw.subarray(off, off + layout.bytes));
      return;
    case 'fp16':
    case 'bf16': {
      const convert = dtype === 'fp16' ? fp16ToFp32 : bf16ToFp32;
      const at = raw.byteOffset + off;
      if ((at & 1) === 0) {
        convert(new Uint16Array(raw.buffer, at, n), dst);
      } else {
        const tmp = scratchU16('half', n);
        bytesOf(tmp).set(raw.subarray(off, off + layout.bytes));
        convert(tmp, dst);
      }
      return;
    }
    case 'int8': {
      const scales = readScales(raw, off, layout.groups, 'fp32', 'scales');
      dequantizeInt8(new Int8Array(raw.buffer, raw.byteOffset + off + layout.scaleBytes, n), scales, shape.headDim, groupSize, dst);
      return;
    }
    case 'kivi4':
    case 'kivi2': {
      const storage = scaleDtype === 'fp16' ? 'fp16' : 'fp32';
      const scales = readScales(raw, off, layout.groups, storage, 'scales');
      const mins = readScales(raw, off + layout.scaleBytes, layout.groups, storage, 'mins');
      const codes = scratchBytes('codes', n);
      unpackCodes(raw.subarray(off + layout.scaleBytes + layout.minBytes, off + layout.bytes), n, codeBits(dtype), codes);
      if (kind === 'k') dequantizeKeys(codes, shape.kvHeads, shape.tokens, shape.headDim, groupSize, mins, scales, dst);
      else dequantizeValues(codes, shape.headDim, groupSize, mins, scales, dst);
      return;
    }
  }
}

/** Read `count` stored scales (fp32 or fp16 bytes, any alignment) as fp32 values in scratch. */
function readScales(raw: Uint8Array, off: number, count: number, storage: 'fp16' | 'fp32', purpose: string): Float32Array {
  const out = scratchF32(purpose, count);
  if (storage === 'fp32') {
    bytesOf(out).set(raw.subarray(off, off + 4 * count));
  } else {
    const h = scratchU16('scales16', count);
    bytesOf(h).set(raw.subarray(off, off + 2 * count));
    fp16ToFp32(h, out);
  }
  return out;
}

function checkScales(scales: Float32Array, what: string): void {
  for (let i = 0; i < scales.length; i++) {
    const s = scales[i]!;
    // `!(s >= 0)` is also true for NaN; s − s ≠ 0 catches +Infinity.
    if (!(s >= 0) || s - s !== 0) throw new CorruptEntryError({ path: `${what}.scales[${i}]`, expected: 'a finite scale ≥ 0', received: String(s) });
  }
}

function checkMins(mins: Float32Array, what: string): void {
  for (let i = 0; i < mins.length; i++) {
    const m = mins[i]!;
    if (m - m !== 0) throw new CorruptEntryError({ path: `${what}.mins[${i}]`, expected: 'a finite min', received: String(m) });
  }
}
