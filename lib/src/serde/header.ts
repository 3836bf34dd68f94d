/**
 * The 64-byte header of a KV entry: writing it, and reading it back with every check that does
 * not need the payload. docs/format.md §1 and §6 describe the bytes and the checks.
 *
 *   0  4  magic 0x89 'K' 'V' 'B'
 *   4  2  format version (2)
 *   6  1  dtype id            7  1  codec id
 *   8  4  layers             12  4  kvHeads
 *  16  4  headDim            20  4  tokens
 *  24  4  groupSize (0 for fp32/fp16/bf16)
 *  28  1  scale dtype id (0 none, 1 fp32, 2 fp16)       29  3  reserved, zero
 *  32  8  raw payload length (before the codec)
 *  40  8  stored payload length (after the codec; the bytes that follow the header)
 *  48  8  XXH64 of the stored payload
 *  56  8  XXH64 of header bytes 0–55
 */
import { CorruptEntryError, InvalidInputError, UnsupportedFormatError, describeValue } from '../runtime';
import { CODEC_IDS, type KVCodec, codecFromId } from './codecs';
import { xxh64 } from './xxh64';
import { type ScaleDtype, SCALE_DTYPE_IDS, payloadBytes, scaleDtypeFromId } from './layout';
import { DTYPE_IDS, type KVDtype, type KVShape, dtypeFromId, isQuantized, tensorElements } from './types';

/**
 * Version of the container layout. Bump on any change to the bytes; old readers then refuse.
 * Version 1 (56-byte header, CRC-32C checksums) was replaced by 2 (64 bytes, XXH64), whose checksum
 * is ~7× faster to compute; this build reads version 2 only.
 */
export const FORMAT_VERSION = 2;

/** The first four bytes of every entry. 0x89 (not ASCII) catches text-mode mangling early. */
export const MAGIC: readonly number[] = [0x89, 0x4b, 0x56, 0x42];

/** Bytes before the payload. A multiple of 16, so the payload of a fresh Buffer is aligned. */
export const HEADER_BYTES = 64;

/** Bytes of the header covered by the header checksum (everything before it). */
const HEADER_CHECKED_BYTES = 56;

/** Limits applied while reading a header. */
export interface HeaderReadOptions {
  /**
   * Refuse entries whose decoded fp32 size exceeds this many bytes (CorruptEntryError), so a
   * damaged or hostile header cannot make the decoder allocate without bound.
   * @default 1 GiB
   */
  maxDecodedBytes?: number;
}

export const DEFAULT_HEADER_READ_OPTIONS: Readonly<Required<HeaderReadOptions>> = {
  maxDecodedBytes: 1024 * 1024 * 1024,
};

/** Everything the header says, after validation. */
export interface KVBlobHeader extends KVShape {
  version: number;
  dtype: KVDtype;
  codec: KVCodec;
  /** 0 for fp32/fp16/bf16. */
  groupSize: number;
  scaleDtype: ScaleDtype;
  /** Payload bytes before the codec. */
  rawLength: number;
  /** Payload bytes stored after the header. */
  payloadLength: number;
  /** XXH64 of the stored payload bytes. */
  payloadChecksum: bigint;
  /** XXH64 of header bytes 0–55. */
  headerChecksum: bigint;
  /** Total size of the entry: HEADER_BYTES + payloadLength. */
  totalLength: number;
}

export interface HeaderFields {
  dtype: KVDtype;
  codec: KVCodec;
  shape: KVShape;
  groupSize: number;
  scaleDtype: ScaleDtype;
  rawLength: number;
  payloadLength: number;
  payloadChecksum: bigint;
}

export function writeHeader(out: Uint8Array, h: HeaderFields): void {
  const view = new DataView(out.buffer, out.byteOffset, HEADER_BYTES);
  for (let i = 0; i < 4; i++) view.setUint8(i, MAGIC[i]!);
  view.setUint16(4, FORMAT_VERSION, true);
  view.setUint8(6, DTYPE_IDS[h.dtype]);
  view.setUint8(7, CODEC_IDS[h.codec]);
  view.setUint32(8, h.shape.layers, true);
  view.setUint32(12, h.shape.kvHeads, true);
  view.setUint32(16, h.shape.headDim, true);
  view.setUint32(20, h.shape.tokens, true);
  view.setUint32(24, h.groupSize, true);
  view.setUint8(28, SCALE_DTYPE_IDS[h.scaleDtype]);
  view.setUint8(29, 0);
  view.setUint16(30, 0, true);
  setU64(view, 32, h.rawLength);
  setU64(view, 40, h.payloadLength);
  view.setBigUint64(48, h.payloadChecksum, true);
  view.setBigUint64(HEADER_CHECKED_BYTES, xxh64(out, 0n, 0, HEADER_CHECKED_BYTES), true);
}

function setU64(view: DataView, at: number, value: number): void {
  view.setUint32(at, value % 4294967296, true);
  view.setUint32(at + 4, Math.floor(value / 4294967296), true);
}

function getU64(view: DataView, at: number): number {
  return view.getUint32(at, true) + view.getUint32(at + 4, true) * 4294967296;
}

function asBytes(blob: unknown): Uint8Array {
  if (blob instanceof Uint8Array) return blob;
  if (typeof blob === 'string') {
    throw new InvalidInputError('a KV entry must be bytes (Buffer/Uint8Array), got a string — read it with getBuffer/mgetBuffer, not get');
  }
  throw new InvalidInputError(`a KV entry must be a Buffer or Uint8Array, got ${describeValue(blob)}`);
}

/**
 * Parse and validate the header of an entry (everything but the payload's checksum and contents).
 * @throws CorruptEntryError | UnsupportedFormatError | InvalidInputError (not bytes at all)
 */
export function readKVHeader(blob: Uint8Array, options: HeaderReadOptions = {}): KVBlobHeader {
  const bytes = asBytes(blob);
  const maxDecoded = options.maxDecodedBytes ?? DEFAULT_HEADER_READ_OPTIONS.maxDecodedBytes;
  const len = bytes.length;
  for (let i = 0; i < Math.min(4, len); i++) {
    if (bytes[i] !== MAGIC[i]) throw new CorruptEntryError('not a kvcache-lab KV entry (bad magic bytes)');
  }
  if (len < 6) throw new CorruptEntryError(`truncated entry: ${len} bytes, the header alone is ${HEADER_BYTES}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, len);
  const version = view.getUint16(4, true);
  // Checked before the header checksum: another version lays out (and checksums) its header differently.
  if (version !== FORMAT_VERSION) throw new UnsupportedFormatError(`format version ${version}; this build reads version ${FORMAT_VERSION}`);
  if (len < HEADER_BYTES) throw new CorruptEntryError(`truncated entry: ${len} bytes, the header alone is ${HEADER_BYTES}`);
  const headerChecksum = view.getBigUint64(HEADER_CHECKED_BYTES, true);
  const actualHeaderChecksum = xxh64(bytes, 0n, 0, HEADER_CHECKED_BYTES);
  if (headerChecksum !== actualHeaderChecksum) {
    throw new CorruptEntryError(`header checksum mismatch (stored ${hex(headerChecksum)}, computed ${hex(actualHeaderChecksum)})`);
  }

  const dtypeId = view.getUint8(6);
  const dtype = dtypeFromId(dtypeId);
  if (dtype === undefined) throw new UnsupportedFormatError(`unknown dtype id ${dtypeId}`);
  const codecId = view.getUint8(7);
  const codec = codecFromId(codecId);
  if (codec === undefined) throw new UnsupportedFormatError(`unknown codec id ${codecId}`);
  const scaleId = view.getUint8(28);
  const scaleDtype = scaleDtypeFromId(scaleId);
  if (scaleDtype === undefined) throw new UnsupportedFormatError(`unknown scale dtype id ${scaleId}`);
  if (view.getUint8(29) !== 0 || view.getUint16(30, true) !== 0) throw new UnsupportedFormatError('reserved header bytes 29–31 are set (written by a newer encoder?)');

  const shape: KVShape = {
    layers: view.getUint32(8, true),
    kvHeads: view.getUint32(12, true),
    headDim: view.getUint32(16, true),
    tokens: view.getUint32(20, true),
  };
  for (const key of ['layers', 'kvHeads', 'headDim', 'tokens'] as const) {
    if (shape[key] === 0) throw new CorruptEntryError(`header: ${key} is 0`);
  }
  const groupSize = view.getUint32(24, true);
  if (isQuantized(dtype)) {
    if (groupSize === 0) throw new CorruptEntryError(`header: ${dtype} with group size 0`);
    const allowed: ScaleDtype[] = dtype === 'int8' ? ['fp32'] : ['fp16', 'fp32'];
    if (!allowed.includes(scaleDtype)) throw new CorruptEntryError(`header: ${dtype} with ${scaleDtype} scales`);
  } else if (groupSize !== 0 || scaleDtype !== 'none') {
    throw new CorruptEntryError(`header: ${dtype} carries no scales, but group size is ${groupSize} and scale dtype ${scaleDtype}`);
  }

  // Sizes, in doubles (exact below 2^53; far larger claims fail the limit check anyway).
  const decodedBytes = 2 * shape.layers * tensorElements(shape) * 4;
  if (decodedBytes > maxDecoded) {
    throw new CorruptEntryError(`entry claims ${decodedBytes} decoded bytes, over the ${maxDecoded}-byte limit (maxDecodedBytes)`);
  }
  const rawLength = getU64(view, 32);
  const payloadLength = getU64(view, 40);
  const expectedRaw = payloadBytes(shape, dtype, groupSize, scaleDtype);
  if (rawLength !== expectedRaw) throw new CorruptEntryError(`header: raw payload length ${rawLength}, but the shape and dtype need ${expectedRaw}`);
  if (codec === 'none' && payloadLength !== rawLength) {
    throw new CorruptEntryError(`header: uncompressed payload length ${payloadLength} differs from raw length ${rawLength}`);
  }
  if (len !== HEADER_BYTES + payloadLength) {
    throw new CorruptEntryError(
      len < HEADER_BYTES + payloadLength
        ? `truncated entry: ${len} bytes, header declares ${HEADER_BYTES + payloadLength}`
        : `${len - HEADER_BYTES - payloadLength} trailing bytes after the declared payload`,
    );
  }
  return {
    version,
    dtype,
    codec,
    ...shape,
    groupSize,
    scaleDtype,
    rawLength,
    payloadLength,
    payloadChecksum: view.getBigUint64(48, true),
    headerChecksum,
    totalLength: len,
  };
}

/**
 * Check an entry completely (header and payload checksum) without decoding its values.
 * @throws CorruptEntryError | UnsupportedFormatError
 */
export function verifyKV(blob: Uint8Array, options: HeaderReadOptions = {}): KVBlobHeader {
  const header = readKVHeader(blob, options);
  const actual = xxh64(blob, 0n, HEADER_BYTES, blob.length);
  if (actual !== header.payloadChecksum) {
    throw new CorruptEntryError(`payload checksum mismatch (stored ${hex(header.payloadChecksum)}, computed ${hex(actual)})`);
  }
  return header;
}

function hex(n: bigint): string {
  return `0x${n.toString(16).padStart(16, '0')}`;
}
