/**
 * Encoding and decoding of KV entries: one Buffer = the 160-byte header (header.ts) + the payload
 * (payload.ts), optionally compressed (codecs.ts). docs/format.md describes the bytes.
 *
 * Decoding checks everything before trusting anything, and throws CorruptEntryError (damaged or
 * inconsistent bytes) or UnsupportedFormatError (a version, dtype, codec or flag this build does
 * not know) — it never returns values from an entry that failed a check.
 */
import { InvalidInputError, KVLabError, ModelMismatchError, describeValue } from '../runtime';
import { CODECS, type KVCodec, compressPayload, decompressPayload, isCodec } from './codecs';
import { xxh64 } from './xxh64';
import { assertLittleEndianHost } from './endian';
import {
  DEFAULT_HEADER_READ_OPTIONS,
  FORMAT_VERSION,
  HEADER_BYTES,
  PAYLOAD_CHECKSUM_SEED,
  type EntryIdentity,
  type HeaderReadOptions,
  checkEntryIdentity,
  checkPayloadChecksum,
  checkIdentity,
  readKVHeader,
  signEntry,
  verifyEntryMac,
  writeHeader,
} from './header';
import { BF16_DECODE } from './bf16';
import { FP16_DECODE } from './fp16';
import { stagePayload } from './kernels';
import type { EntryKey } from './mac';
import { type ScaleDtype, payloadBytes } from './layout';
import { FP16_SCALE_SAFE_ABSMAX } from './lowbit';
import { type TokenSpan, readPayload, validatePayload, writePayload } from './payload';
import { scratchBytes } from './scratch';
import {
  DTYPES,
  type KVArrays,
  type KVBlockData,
  type KVDtype,
  type KVShape,
  checkArrays,
  isDtype,
  isQuantized,
  tensorElements,
  validateBlock,
  validateShape,
  valueWidth,
} from './types';

// Re-exported for modules that import the whole container API from here.
export { FORMAT_VERSION, HEADER_BYTES, MAGIC, type EntryIdentity, type KVBlobHeader, readKVHeader, verifyKV } from './header';

/**
 * The library's default codec: `none`. Measured on this project's machines (results/serde.json,
 * `npm run bench:serde`): deflate shrinks fp16 KV by only ≈ 7–15 % (floats' low mantissa bits are
 * noise) and runs at tens of MB/s — orders of magnitude below a loopback Redis (≈ 1.5 GB/s). It
 * pays only on links slower than the benchmark's break-even speed (a few MB/s). Quantization
 * (int8, kivi4, kivi2) is the way to make entries smaller.
 */
export const DEFAULT_CODEC: KVCodec = 'none';

/** Default quantization group sizes. int8: values along head_dim; kivi: KIVI's 32. */
export const DEFAULT_GROUP_SIZES: Readonly<Record<'int8' | 'kivi4' | 'kivi2', number>> = { int8: 64, kivi4: 32, kivi2: 32 };

/** How `encodeKV` stores a block: value encoding, codec, quantization groups, identity and MAC. */
export interface EncodeOptions {
  /**
   * How values are stored. fp16 halves fp32 at a relative error ≤ 2^-11 in its normal range
   * (the precision serving stacks keep KV in); fp32 is exact; int8/kivi trade accuracy for size.
   * @default 'fp16'
   */
  dtype?: KVDtype;
  /**
   * Codec after encoding. See {@link DEFAULT_CODEC} for why the default is no compression.
   * @default 'none'
   */
  codec?: KVCodec;
  /**
   * Quantization group size (int8: values along head_dim; kivi: tokens per K group, channels per
   * V group). Ignored for fp32/fp16/bf16.
   * @default 64 for int8, 32 for kivi4/kivi2 (DEFAULT_GROUP_SIZES)
   */
  groupSize?: number;
  /** Deflate level 0–9 for the compressing codecs. @default 6 (zlib's own default) */
  level?: number;
  /**
   * Precision of kivi mins and scales: fp16 as KIVI stores them (smaller), fp32, or `auto` =
   * fp16 unless some |value| exceeds 32752 (where fp16 mins/scales could overflow), then fp32.
   * int8 always stores fp32 scales.
   * @default 'auto'
   */
  scaleStorage?: 'auto' | 'fp16' | 'fp32';
  /**
   * Which block this is (its chain hash, first token, model): written into the header so that a
   * reader can tell an entry stored under the wrong key. @default undefined (an unbound entry)
   */
  identity?: EntryIdentity;
  /** Sign the entry with this key (a MAC over header and payload). @default undefined (no MAC) */
  key?: EntryKey;
}

/** The defaults of {@link EncodeOptions}: fp16 values, no compression. */
export const DEFAULT_ENCODE_OPTIONS: Readonly<Required<Omit<EncodeOptions, 'groupSize' | 'identity' | 'key'>>> = {
  dtype: 'fp16',
  codec: DEFAULT_CODEC,
  level: 6,
  scaleStorage: 'auto',
};

/** How `decodeKV` reads an entry: size limits, a target to decode into, the block expected, the cache key. */
export interface DecodeOptions extends HeaderReadOptions {
  /**
   * Decode into these arrays instead of allocating new ones (each exactly kvHeads·tokens·headDim
   * long; a shape mismatch is a ModelMismatchError). Saves an allocation and its page faults.
   * @default undefined (allocate)
   */
  into?: KVArrays;
  /**
   * The arrays in `into` hold more positions than the entry: [kvHeads, span.tokens, headDim] per
   * layer, and the entry's tokens go to positions [span.start, span.start + tokens) — a prefix of many
   * blocks decoded straight into its arrays, with no copy per block. Needs `into`.
   * @default undefined (the arrays hold exactly the entry)
   */
  intoSpan?: TokenSpan;
  /**
   * The block that was asked for: the entry must name the same chain hash, start position and
   * model, else MisplacedEntryError. @default undefined (not checked)
   */
  expect?: EntryIdentity;
  /**
   * The cache's key: the entry's MAC is checked before anything else of it is used, and an entry
   * without a valid MAC is an UnauthenticatedEntryError. @default undefined (not checked)
   */
  key?: EntryKey;
}

/** The defaults of {@link DecodeOptions}: those of reading a header (entries decode to at most 1 GiB). */
export const DEFAULT_DECODE_OPTIONS: Readonly<Required<Omit<DecodeOptions, 'into' | 'intoSpan' | 'expect' | 'key'>>> = DEFAULT_HEADER_READ_OPTIONS;

/** What an unknown dtype should have been, for error details. */
const ONE_OF_DTYPES = `one of ${DTYPES.join(', ')}`;

/**
 * A string naming the stored representation, for the hashing namespace: entries written with a
 * different format id hold different numbers and must not be served to each other.
 * e.g. `kvlb3-fp16`, `kvlb3-int8-g64`, `kvlb3-kivi2-g32`. The codec is not part of it (it is
 * lossless); neither is kivi's fp16/fp32 scale choice (recorded per entry, read transparently).
 */
export function formatId(dtype: KVDtype, options: Pick<EncodeOptions, 'groupSize'> = {}): string {
  if (!isDtype(dtype)) throw InvalidInputError.at('dtype', ONE_OF_DTYPES, dtype);
  const base = `kvlb${FORMAT_VERSION}-${dtype}`;
  if (!isQuantized(dtype)) return base;
  return `${base}-g${resolveGroupSize(dtype, options.groupSize)}`;
}

function resolveGroupSize(dtype: KVDtype, groupSize: number | undefined): number {
  if (!isQuantized(dtype)) return 0;
  const g = groupSize ?? DEFAULT_GROUP_SIZES[dtype];
  if (!Number.isInteger(g) || g < 1 || g > 0xffffffff) throw InvalidInputError.at('options.groupSize', 'an integer in [1, 2^32)', g);
  return g;
}

/**
 * Bytes of an uncompressed entry (codec `none`) of this shape: header + payload. For kivi with
 * scaleStorage 'auto' this assumes fp16 scales (blocks with |values| > 32752 get fp32 ones).
 */
export function encodedSize(shape: KVShape, options: Pick<EncodeOptions, 'dtype' | 'groupSize' | 'scaleStorage'> = {}): number {
  validateShape(shape);
  const dtype = options.dtype ?? DEFAULT_ENCODE_OPTIONS.dtype;
  if (!isDtype(dtype)) throw InvalidInputError.at('options.dtype', ONE_OF_DTYPES, dtype);
  const scale = options.scaleStorage === 'fp32' ? 'fp32' : 'fp16';
  const scaleDtype: ScaleDtype = dtype === 'int8' ? 'fp32' : isQuantized(dtype) ? scale : 'none';
  return HEADER_BYTES + payloadBytes(shape, dtype, resolveGroupSize(dtype, options.groupSize), scaleDtype);
}

/** Largest |x| over a block, or Infinity when any value is NaN or ±Infinity (integer-bit scan). */
function blockAbsMax(block: KVBlockData): number {
  let m = 0;
  for (const list of [block.k, block.v]) {
    for (const a of list) {
      const bits = new Int32Array(a.buffer, a.byteOffset, a.length);
      for (let i = 0; i < bits.length; i++) {
        const x = bits[i]! & 0x7fffffff;
        m = x > m ? x : m;
      }
    }
  }
  if (m >= 0x7f800000) return Infinity;
  const f = new Float32Array(new Uint32Array([m]).buffer);
  return f[0]!;
}

/** The error for a block with NaN or ±Infinity, naming the first such value. */
function nonFinite(block: KVBlockData, dtype: KVDtype): InvalidInputError {
  const expected = `a finite value (${dtype} quantization)`;
  for (const kind of ['k', 'v'] as const) {
    for (let l = 0; l < block.layers; l++) {
      const a = block[kind][l]!;
      for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) return InvalidInputError.at(`block.${kind}[${l}][${i}]`, expected, a[i]);
    }
  }
  return new InvalidInputError({ path: 'block', expected, received: 'a non-finite value' });
}

/**
 * Encode a KV block into one Buffer (header + payload). With codec `none` the values are written
 * straight into the returned Buffer. Pass the Buffer to ioredis as is (a bare Uint8Array would be
 * stored as text).
 * @throws InvalidInputError for a malformed block or options, or NaN/±Infinity with int8/kivi
 *   (they have no quantization scale; fp32/fp16/bf16 carry them faithfully).
 */
export function encodeKV(block: KVBlockData, options: EncodeOptions = {}): Buffer {
  assertLittleEndianHost();
  const dtype = options.dtype ?? DEFAULT_ENCODE_OPTIONS.dtype;
  const codec = options.codec ?? DEFAULT_ENCODE_OPTIONS.codec;
  const level = options.level ?? DEFAULT_ENCODE_OPTIONS.level;
  const scaleStorage = options.scaleStorage ?? DEFAULT_ENCODE_OPTIONS.scaleStorage;
  if (!isDtype(dtype)) throw InvalidInputError.at('options.dtype', ONE_OF_DTYPES, dtype);
  if (!isCodec(codec)) throw InvalidInputError.at('options.codec', `one of ${CODECS.join(', ')}`, codec);
  if (!Number.isInteger(level) || level < 0 || level > 9) throw InvalidInputError.at('options.level', 'an integer in [0, 9]', level);
  if (scaleStorage !== 'auto' && scaleStorage !== 'fp16' && scaleStorage !== 'fp32') {
    throw InvalidInputError.at('options.scaleStorage', 'auto, fp16 or fp32', scaleStorage);
  }
  const groupSize = resolveGroupSize(dtype, options.groupSize);
  validateBlock(block);
  if (options.identity !== undefined) checkIdentity(options.identity);

  let scaleDtype: ScaleDtype = 'none';
  if (dtype === 'int8') {
    if (scaleStorage === 'fp16') throw InvalidInputError.at('options.scaleStorage', 'auto or fp32 with int8 (it stores fp32 scales)', scaleStorage, 'Only kivi4/kivi2 store fp16 scales.');
    scaleDtype = 'fp32'; // int8's kernel checks finiteness per group itself
  } else if (dtype === 'kivi4' || dtype === 'kivi2') {
    const absmax = blockAbsMax(block);
    if (absmax === Infinity) throw nonFinite(block, dtype);
    if (scaleStorage === 'fp32' || (scaleStorage === 'auto' && absmax > FP16_SCALE_SAFE_ABSMAX)) scaleDtype = 'fp32';
    else if (absmax > FP16_SCALE_SAFE_ABSMAX) {
      throw new InvalidInputError({
        path: 'options.scaleStorage',
        expected: `fp32 or auto for |values| up to ${absmax} (fp16 scales overflow above ${FP16_SCALE_SAFE_ABSMAX})`,
        received: describeValue(scaleStorage),
        limit: FP16_SCALE_SAFE_ABSMAX,
        actual: absmax,
      });
    } else scaleDtype = 'fp16';
  }

  const rawLength = payloadBytes(block, dtype, groupSize, scaleDtype);
  let out: Buffer;
  let payloadChecksum: bigint;
  if (codec === 'none') {
    out = Buffer.allocUnsafe(HEADER_BYTES + rawLength);
    writePayload(block, dtype, groupSize, scaleDtype, out.subarray(HEADER_BYTES));
    payloadChecksum = xxh64(out, PAYLOAD_CHECKSUM_SEED, HEADER_BYTES, out.length);
  } else {
    const raw = scratchBytes('raw', rawLength);
    writePayload(block, dtype, groupSize, scaleDtype, raw);
    const stored = compressPayload(codec, raw, valueWidth(dtype), level);
    out = Buffer.allocUnsafe(HEADER_BYTES + stored.length);
    out.set(stored, HEADER_BYTES);
    payloadChecksum = xxh64(stored, PAYLOAD_CHECKSUM_SEED);
  }
  writeHeader(out, { dtype, codec, shape: block, groupSize, scaleDtype, rawLength, payloadLength: out.length - HEADER_BYTES, payloadChecksum, ...(options.identity ? { identity: options.identity } : {}) });
  if (options.key) signEntry(out, options.key);
  return out;
}

/**
 * Decode an entry written by {@link encodeKV}. Validates the header, both checksums, the codec
 * stream and the stored scales before returning anything.
 * With `key`, the MAC is checked first; with `expect`, the entry must name that block.
 * @throws CorruptEntryError | UnsupportedFormatError | UnauthenticatedEntryError | MisplacedEntryError;
 *   ModelMismatchError when `into` has another shape.
 */
export function decodeKV(blob: Uint8Array, options: DecodeOptions = {}): KVBlockData {
  assertLittleEndianHost();
  // The MAC covers every byte of the payload: once it verified, the payload checksum adds nothing.
  if (options.key) verifyEntryMac(blob, options.key);
  const header = readKVHeader(blob, options);
  // fp16/bf16 without a codec: the payload is copied into the kernels' memory once, checksummed and
  // converted there (a separate checksum pass and conversion pass would each copy it in again).
  const staged = stageable(header) ? stagePayload(blob.subarray(HEADER_BYTES)) : undefined;
  if (!options.key) checkPayloadChecksum(header, staged ? staged.xxh64(PAYLOAD_CHECKSUM_SEED) : xxh64(blob, PAYLOAD_CHECKSUM_SEED, HEADER_BYTES, blob.length));
  if (options.expect) checkEntryIdentity(header, options.expect);
  const shape: KVShape = { layers: header.layers, kvHeads: header.kvHeads, headDim: header.headDim, tokens: header.tokens };
  const span = options.intoSpan;
  if (span !== undefined) checkSpan(span, header.tokens, options.into);
  if (options.into !== undefined) {
    try {
      checkArrays(span ? { ...shape, tokens: span.tokens } : shape, options.into, 'options.into');
    } catch (err) {
      // Same path, expected and received as the check's error; the hint gives the entry's shape.
      const details = err instanceof KVLabError ? err.details : { path: 'options.into', received: String(err) };
      throw new ModelMismatchError({ ...details, hint: `The entry is ${header.layers} layers × [${header.kvHeads}, ${header.tokens}, ${header.headDim}].` }, { cause: err });
    }
  }
  const raw = decompressPayload(header.codec, blob.subarray(HEADER_BYTES), header.rawLength, valueWidth(header.dtype));
  validatePayload(raw, shape, header.dtype, header.groupSize, header.scaleDtype);
  // Every check has passed: only now allocate or touch the caller's arrays.
  let out: KVArrays;
  if (options.into !== undefined) {
    out = options.into;
  } else {
    const n = tensorElements(shape);
    out = { k: [], v: [] };
    for (let l = 0; l < shape.layers; l++) {
      out.k.push(new Float32Array(n));
      out.v.push(new Float32Array(n));
    }
  }
  readPayload(raw, shape, header.dtype, header.groupSize, header.scaleDtype, out, { ...(staged ? { staged } : {}), ...(span ? { span } : {}) });
  return { ...shape, k: out.k, v: out.v };
}

/** Whether decoding stages the payload (see stagePayload): fp16/bf16 stored as is, converted by the WebAssembly kernels. */
function stageable(header: { codec: KVCodec; dtype: KVDtype }): boolean {
  if (header.codec !== 'none') return false;
  if (header.dtype === 'fp16') return FP16_DECODE.path() === 'wasm';
  if (header.dtype === 'bf16') return BF16_DECODE.path() === 'wasm';
  return false;
}

function checkSpan(span: TokenSpan, tokens: number, into: KVArrays | undefined): void {
  if (into === undefined) throw new InvalidInputError({ path: 'options.intoSpan', expected: 'options.into as well (the arrays the span is in)', received: 'no options.into' });
  if (typeof span !== 'object' || span === null) throw InvalidInputError.at('options.intoSpan', '{ tokens, start }', span);
  if (!Number.isInteger(span.tokens) || span.tokens < 1) throw InvalidInputError.at('options.intoSpan.tokens', 'an integer ≥ 1', span.tokens);
  if (span.blockTokens !== undefined) {
    if (!Number.isInteger(span.blockTokens) || span.blockTokens < 1) throw InvalidInputError.at('options.intoSpan.blockTokens', 'an integer ≥ 1', span.blockTokens);
    if (tokens !== span.blockTokens) throw new ModelMismatchError({ path: 'entry.tokens', expected: `${span.blockTokens} tokens (options.intoSpan.blockTokens)`, received: `${tokens} tokens` });
  }
  if (!Number.isInteger(span.start) || span.start < 0 || span.start + tokens > span.tokens) {
    throw new InvalidInputError({ path: 'options.intoSpan.start', expected: `an integer in [0, ${span.tokens - tokens}] (the entry's ${tokens} tokens within ${span.tokens})`, received: describeValue(span.start) });
  }
}

