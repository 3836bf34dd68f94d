/**
 * The 160-byte header of a KV entry: writing it, and reading it back with every check that does
 * not need the payload. docs/format.md §1 and §6 describe the bytes and the checks.
 *
 *   0  4  magic 0x89 'K' 'V' 'B'
 *   4  2  format version (3)
 *   6  1  dtype id            7  1  codec id
 *   8  4  layers             12  4  kvHeads
 *  16  4  headDim            20  4  tokens
 *  24  4  groupSize (0 for fp32/fp16/bf16)
 *  28  1  scale dtype id (0 none, 1 fp32, 2 fp16)   29  1  flags (bit 0: MAC)   30  2  reserved, zero
 *  32  8  raw payload length (before the codec)
 *  40  8  stored payload length (after the codec; the bytes that follow the header)
 *  48  8  XXH64 of the stored payload
 *  56  4  start position (index of the block's first token in its prompt)   60  4  reserved, zero
 *  64 32  block key: the 32-byte chain hash the entry was written under (zero: unbound)
 *  96 16  model fingerprint (its first 16 bytes; zero: unbound)
 * 112 12  MAC nonce              124  4  reserved, zero
 * 128 16  MAC tag: GMAC over bytes 0–127 and the stored payload (zero without MAC)
 * 144  8  reserved, zero
 * 152  8  XXH64 of header bytes 0–151
 */
import { CorruptEntryError, InvalidInputError, MisplacedEntryError, UnauthenticatedEntryError, UnsupportedFormatError } from '../runtime/errors';
import { CODEC_IDS, type KVCodec, codecFromId } from './codecs';
import { xxh64 } from './xxh64';
import { type ScaleDtype, SCALE_DTYPE_IDS, payloadBytes, scaleDtypeFromId } from './layout';
import { DTYPE_IDS, type KVDtype, type KVShape, dtypeFromId, isQuantized, tensorElements } from './types';
import { MAC_NONCE_BYTES, MAC_TAG_BYTES, type EntryKey } from './mac';

/**
 * Version of the container layout. Bump on any change to the bytes; old readers then refuse.
 * 1: 56-byte header, CRC-32C. 2: 64 bytes, XXH64 (~7× faster checksum). 3: 160 bytes — each entry
 * names the block it holds (chain hash, start position, model) and may carry a MAC. This build
 * reads version 3 only; the version is part of every namespace, so older entries are never asked for.
 */
export const FORMAT_VERSION = 3;

/** The first four bytes of every entry. 0x89 (not ASCII) catches text-mode mangling early. */
export const MAGIC: readonly number[] = [0x89, 0x4b, 0x56, 0x42];

/** Bytes before the payload. A multiple of 32, so the payload of a fresh Buffer is aligned. */
export const HEADER_BYTES = 160;

/** Bytes of the header covered by the header checksum (everything before it). */
const HEADER_CHECKED_BYTES = 152;
/** Bytes of the header covered by the MAC (everything before the tag). */
const MAC_COVERED_BYTES = 128;
const OFF = { start: 56, key: 64, model: 96, nonce: 112, tag: 128 } as const;
const FLAG_MAC = 1;
/** Bytes of the block key (a SHA-256 chain hash) and of the model fingerprint kept in the header. */
const KEY_BYTES = 32;
const MODEL_BYTES = 16;

/**
 * Which block an entry holds: what `decodeKV` checks against the key it was asked for. A valid
 * entry of another block, token range or model is a MisplacedEntryError — a miss, never KV.
 */
export interface EntryIdentity {
  /** The block's chain hash (64 lowercase hex), i.e. the key it is stored under. */
  blockHash: string;
  /** Index of the block's first token in its prompt. */
  startPosition: number;
  /** The model's fingerprint (64 lowercase hex); the header keeps its first 16 bytes. */
  fingerprint: string;
}

/** Limits applied while reading a header. */
export interface HeaderReadOptions {
  /**
   * Refuse entries whose decoded fp32 size exceeds this many bytes (CorruptEntryError), so a
   * damaged or hostile header cannot make the decoder allocate without bound.
   * @default 1 GiB
   */
  maxDecodedBytes?: number;
}

/** The defaults of {@link HeaderReadOptions}: entries decode to at most 1 GiB. */
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
  /** XXH64 of header bytes 0–151. */
  headerChecksum: bigint;
  /** Index of the block's first token (0 for an unbound entry). */
  startPosition: number;
  /** The chain hash the entry was written under (hex), or undefined for an unbound entry. */
  blockHash?: string;
  /** The first 16 bytes of the writer's model fingerprint (hex), or undefined for an unbound entry. */
  modelPrefix?: string;
  /** Whether the entry carries a MAC. */
  authenticated: boolean;
  /** Total size of the entry: HEADER_BYTES + payloadLength. */
  totalLength: number;
}

/** What {@link writeHeader} writes: the entry's encoding, shape, sizes, payload checksum and identity. */
export interface HeaderFields {
  identity?: EntryIdentity;
  dtype: KVDtype;
  codec: KVCodec;
  shape: KVShape;
  groupSize: number;
  scaleDtype: ScaleDtype;
  rawLength: number;
  payloadLength: number;
  payloadChecksum: bigint;
}

const HEX64 = /^[0-9a-f]{64}$/;

/** Check an identity before anything is written (typed errors naming the field). */
export function checkIdentity(identity: EntryIdentity): void {
  if (identity === null || typeof identity !== 'object') throw InvalidInputError.at('identity', '{ blockHash, startPosition, fingerprint }', identity);
  if (typeof identity.blockHash !== 'string' || !HEX64.test(identity.blockHash)) throw InvalidInputError.at('identity.blockHash', 'a block hash (64 lowercase hex characters)', identity.blockHash);
  if (typeof identity.fingerprint !== 'string' || !HEX64.test(identity.fingerprint)) throw InvalidInputError.at('identity.fingerprint', 'a model fingerprint (64 lowercase hex characters)', identity.fingerprint);
  if (!Number.isInteger(identity.startPosition) || identity.startPosition < 0 || identity.startPosition > 0xffffffff) {
    throw InvalidInputError.at('identity.startPosition', 'an integer in [0, 2^32)', identity.startPosition);
  }
}

/** Write the header into `out[0, HEADER_BYTES)`; the MAC (if any) is added afterwards by {@link signEntry}. */
export function writeHeader(out: Uint8Array, h: HeaderFields): void {
  out.fill(0, 0, HEADER_BYTES);
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
  setU64(view, 32, h.rawLength);
  setU64(view, 40, h.payloadLength);
  view.setBigUint64(48, h.payloadChecksum, true);
  if (h.identity) {
    view.setUint32(OFF.start, h.identity.startPosition, true);
    out.set(Buffer.from(h.identity.blockHash, 'hex'), OFF.key);
    out.set(Buffer.from(h.identity.fingerprint, 'hex').subarray(0, MODEL_BYTES), OFF.model);
  }
  sealHeader(out);
}

function sealHeader(out: Uint8Array): void {
  const view = new DataView(out.buffer, out.byteOffset, HEADER_BYTES);
  view.setBigUint64(HEADER_CHECKED_BYTES, xxh64(out, 0n, 0, HEADER_CHECKED_BYTES), true);
}

/** The parts of an entry the MAC covers: the header before the tag, then the stored payload. */
function macParts(entry: Uint8Array): Uint8Array[] {
  return [entry.subarray(0, MAC_COVERED_BYTES), entry.subarray(HEADER_BYTES)];
}

/** Add a MAC to a freshly written entry (sets the flag, nonce and tag, then the header checksum). */
export function signEntry(entry: Uint8Array, key: EntryKey): void {
  entry[29] = (entry[29] ?? 0) | FLAG_MAC;
  key.sign(macParts(entry), entry.subarray(OFF.nonce, OFF.nonce + MAC_NONCE_BYTES), entry.subarray(OFF.tag, OFF.tag + MAC_TAG_BYTES));
  sealHeader(entry);
}

/**
 * Check an entry's MAC before anything else of it is used: only the magic, the version and the
 * fixed header size are read first. An entry without a MAC, or with a wrong one, is refused.
 * @throws UnauthenticatedEntryError | CorruptEntryError (not an entry) | UnsupportedFormatError
 */
export function verifyEntryMac(blob: Uint8Array, key: EntryKey): void {
  const bytes = asBytes(blob);
  checkMagicAndVersion(bytes);
  if (((bytes[29] ?? 0) & FLAG_MAC) === 0) {
    throw new UnauthenticatedEntryError({ path: 'header.flags', expected: 'an entry with a MAC (this reader holds the cache secret)', received: 'an entry without one' });
  }
  const ok = key.verify(macParts(bytes), bytes.subarray(OFF.nonce, OFF.nonce + MAC_NONCE_BYTES), bytes.subarray(OFF.tag, OFF.tag + MAC_TAG_BYTES));
  if (!ok) throw new UnauthenticatedEntryError({ path: 'header.mac', expected: 'the MAC of this entry under the cache secret', received: 'another tag (written without the secret, or changed since)' });
}

function checkMagicAndVersion(bytes: Uint8Array): void {
  const len = bytes.length;
  for (let i = 0; i < Math.min(4, len); i++) {
    if (bytes[i] !== MAGIC[i]) throw new CorruptEntryError({ path: 'header.magic', expected: '89 4b 56 42', received: 'other bytes (not a kvcache-lab KV entry)' });
  }
  if (len < 6) throw new CorruptEntryError({ path: 'entry', expected: `at least ${HEADER_BYTES} bytes (the header)`, received: `${len} bytes (truncated entry)` });
  const version = bytes[4]! | (bytes[5]! << 8);
  // Checked before the header checksum: another version lays out (and checksums) its header differently.
  if (version !== FORMAT_VERSION) throw new UnsupportedFormatError({ path: 'header.version', expected: `format version ${FORMAT_VERSION}`, received: String(version) });
  if (len < HEADER_BYTES) throw new CorruptEntryError({ path: 'entry', expected: `at least ${HEADER_BYTES} bytes (the header)`, received: `${len} bytes (truncated entry)` });
}

/**
 * Check that an entry holds the block that was asked for: same chain hash, start position and
 * model. An unbound entry (zero identity) never matches.
 * @throws MisplacedEntryError
 */
export function checkEntryIdentity(header: KVBlobHeader, expected: EntryIdentity): void {
  const want = {
    blockHash: expected.blockHash,
    startPosition: expected.startPosition,
    modelPrefix: expected.fingerprint.slice(0, 2 * MODEL_BYTES),
  };
  for (const field of ['blockHash', 'startPosition', 'modelPrefix'] as const) {
    if (header[field] !== want[field]) {
      throw new MisplacedEntryError({
        path: `header.${field}`,
        expected: String(want[field]),
        received: header[field] === undefined ? 'none (an unbound entry)' : String(header[field]),
        hint: 'a valid entry of another block, position or model was stored under this key',
      });
    }
  }
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
  // A string usually means the entry was read as text (ioredis `get`), which mangles its bytes.
  const hint = typeof blob === 'string' ? 'Read KV entries with getBuffer/mgetBuffer, not get.' : undefined;
  throw InvalidInputError.at('blob', 'a KV entry as bytes (a Buffer or Uint8Array)', blob, hint);
}

/**
 * Parse and validate the header of an entry (everything but the payload's checksum and contents).
 * @throws CorruptEntryError | UnsupportedFormatError | InvalidInputError (not bytes at all)
 */
export function readKVHeader(blob: Uint8Array, options: HeaderReadOptions = {}): KVBlobHeader {
  const bytes = asBytes(blob);
  const maxDecoded = options.maxDecodedBytes ?? DEFAULT_HEADER_READ_OPTIONS.maxDecodedBytes;
  const len = bytes.length;
  checkMagicAndVersion(bytes);
  const view = new DataView(bytes.buffer, bytes.byteOffset, len);
  const version = view.getUint16(4, true);
  const headerChecksum = view.getBigUint64(HEADER_CHECKED_BYTES, true);
  const actualHeaderChecksum = xxh64(bytes, 0n, 0, HEADER_CHECKED_BYTES);
  if (headerChecksum !== actualHeaderChecksum) {
    throw new CorruptEntryError({ path: 'header.headerChecksum', expected: `${hex(actualHeaderChecksum)} (computed over bytes 0–151)`, received: `${hex(headerChecksum)} (stored)` });
  }

  const dtypeId = view.getUint8(6);
  const dtype = dtypeFromId(dtypeId);
  if (dtype === undefined) throw unknownId('header.dtype', 'a dtype id', DTYPE_IDS, dtypeId);
  const codecId = view.getUint8(7);
  const codec = codecFromId(codecId);
  if (codec === undefined) throw unknownId('header.codec', 'a codec id', CODEC_IDS, codecId);
  const scaleId = view.getUint8(28);
  const scaleDtype = scaleDtypeFromId(scaleId);
  if (scaleDtype === undefined) throw unknownId('header.scaleDtype', 'a scale dtype id', SCALE_DTYPE_IDS, scaleId);
  const flags = view.getUint8(29);
  if ((flags & ~FLAG_MAC) !== 0) throw new UnsupportedFormatError({ path: 'header.flags', expected: 'only bit 0 (MAC) set', received: `0x${flags.toString(16)} (written by a newer encoder?)` });
  for (const [at, size] of [[30, 2], [60, 4], [124, 4], [144, 8]] as const) {
    if (bytes.subarray(at, at + size).some((b) => b !== 0)) {
      throw new UnsupportedFormatError({ path: `header bytes ${at}–${at + size - 1}`, expected: 'zero (reserved)', received: 'set (written by a newer encoder?)' });
    }
  }
  const macBytes = bytes.subarray(OFF.nonce, OFF.tag + MAC_TAG_BYTES);
  if ((flags & FLAG_MAC) === 0 && macBytes.some((b) => b !== 0)) {
    throw new CorruptEntryError({ path: 'header.mac', expected: 'zero nonce and tag (the MAC flag is not set)', received: 'non-zero bytes' });
  }
  const keyBytes = bytes.subarray(OFF.key, OFF.key + KEY_BYTES);
  const modelBytes = bytes.subarray(OFF.model, OFF.model + MODEL_BYTES);
  const bound = keyBytes.some((b) => b !== 0);
  const startPosition = view.getUint32(OFF.start, true);
  if (!bound && (startPosition !== 0 || modelBytes.some((b) => b !== 0))) {
    throw new CorruptEntryError({ path: 'header.blockKey', expected: 'a block key, or an all-zero identity', received: 'a zero key with a position or model set' });
  }

  const shape: KVShape = {
    layers: view.getUint32(8, true),
    kvHeads: view.getUint32(12, true),
    headDim: view.getUint32(16, true),
    tokens: view.getUint32(20, true),
  };
  for (const key of ['layers', 'kvHeads', 'headDim', 'tokens'] as const) {
    if (shape[key] === 0) throw new CorruptEntryError({ path: `header.${key}`, expected: 'at least 1', received: '0' });
  }
  const groupSize = view.getUint32(24, true);
  if (isQuantized(dtype)) {
    if (groupSize === 0) throw new CorruptEntryError({ path: 'header.groupSize', expected: `at least 1 (${dtype} is quantized)`, received: '0' });
    const allowed: ScaleDtype[] = dtype === 'int8' ? ['fp32'] : ['fp16', 'fp32'];
    if (!allowed.includes(scaleDtype)) throw new CorruptEntryError({ path: 'header.scaleDtype', expected: `${allowed.join(' or ')} (for ${dtype})`, received: scaleDtype });
  } else if (groupSize !== 0 || scaleDtype !== 'none') {
    throw new CorruptEntryError({
      path: groupSize !== 0 ? 'header.groupSize' : 'header.scaleDtype',
      expected: `group size 0 and scale dtype none (${dtype} carries no scales)`,
      received: `group size ${groupSize}, scale dtype ${scaleDtype}`,
    });
  }

  // Sizes, in doubles (exact below 2^53; far larger claims fail the limit check anyway).
  const decodedBytes = 2 * shape.layers * tensorElements(shape) * 4;
  if (decodedBytes > maxDecoded) {
    throw new CorruptEntryError({
      path: 'header.shape',
      expected: `a shape of at most ${maxDecoded} decoded bytes (maxDecodedBytes)`,
      received: `${shape.layers}×[${shape.kvHeads}, ${shape.tokens}, ${shape.headDim}]: ${decodedBytes} bytes`,
      limit: maxDecoded,
      actual: decodedBytes,
    });
  }
  const rawLength = getU64(view, 32);
  const payloadLength = getU64(view, 40);
  const expectedRaw = payloadBytes(shape, dtype, groupSize, scaleDtype);
  if (rawLength !== expectedRaw) {
    throw new CorruptEntryError({ path: 'header.rawLength', expected: `${expectedRaw} (what the shape and dtype need)`, received: String(rawLength) });
  }
  if (codec === 'none' && payloadLength !== rawLength) {
    throw new CorruptEntryError({ path: 'header.payloadLength', expected: `${rawLength} (the raw length: codec none)`, received: String(payloadLength) });
  }
  const declared = HEADER_BYTES + payloadLength;
  if (len !== declared) {
    throw new CorruptEntryError({
      path: 'entry',
      expected: `${declared} bytes (header + declared payload)`,
      received: len < declared ? `${len} bytes (truncated entry)` : `${len} bytes (${len - declared} trailing)`,
      limit: declared,
      actual: len,
    });
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
    startPosition,
    ...(bound ? { blockHash: Buffer.from(keyBytes).toString('hex'), modelPrefix: Buffer.from(modelBytes).toString('hex') } : {}),
    authenticated: (flags & FLAG_MAC) !== 0,
  };
}

/** Seed of the payload's XXH64 (`header.payloadChecksum`). */
export const PAYLOAD_CHECKSUM_SEED = 0n;

/**
 * Check an entry completely (header and payload checksum) without decoding its values.
 * @throws CorruptEntryError | UnsupportedFormatError
 */
export function verifyKV(blob: Uint8Array, options: HeaderReadOptions = {}): KVBlobHeader {
  const header = readKVHeader(blob, options);
  checkPayloadChecksum(header, xxh64(blob, PAYLOAD_CHECKSUM_SEED, HEADER_BYTES, blob.length));
  return header;
}

/**
 * Compare the payload's XXH64, computed by the caller (seed {@link PAYLOAD_CHECKSUM_SEED}, over every
 * byte after the header), with the header's.
 * @throws CorruptEntryError when they differ
 */
export function checkPayloadChecksum(header: KVBlobHeader, actual: bigint): void {
  if (actual !== header.payloadChecksum) {
    throw new CorruptEntryError({ path: 'header.payloadChecksum', expected: `${hex(actual)} (computed over the payload)`, received: `${hex(header.payloadChecksum)} (stored)` });
  }
}

/** The error for an id byte this build does not know: names the ids it does know. */
function unknownId(path: string, what: string, known: Readonly<Record<string, number>>, id: number): UnsupportedFormatError {
  const ids = Object.values(known);
  return new UnsupportedFormatError({ path, expected: `${what} this build knows (${Math.min(...ids)}–${Math.max(...ids)})`, received: String(id) });
}

function hex(n: bigint): string {
  return `0x${n.toString(16).padStart(16, '0')}`;
}
