import type { KVCacheArrays } from '../model/kv-cache';
import { DEFAULT_ENCODE_OPTIONS, DEFAULT_GROUP_SIZES, FORMAT_VERSION, decodeKV, encodeKV, formatId, readKVHeader, type EncodeOptions, type EntryIdentity } from '../serde/container';
import { EntryKey } from '../serde/mac';
import type { TokenSpan } from '../serde/payload';
import type { BlockHash } from '../hashing/types';
import { isQuantized, type KVArrays, type KVDtype } from '../serde/types';
import { InvalidInputError, UnsupportedFormatError } from '../runtime/errors';

/**
 * Turns one block of KV (all layers, a token range) into bytes and back. The serde layer provides
 * the real one ({@link serdeBlockCodec}); the engine only needs this much.
 */
export interface BlockCodec {
  /** The stored format, as `formatId` of the serde layer names it (e.g. `kvlb3-fp16`, `kvlb3-int8-g32`). */
  readonly formatId: string;
  /** The value encoding (`fp32`, `fp16`, `bf16`, `int8`, `kivi4`, `kivi2`). */
  readonly dtype: KVDtype;
  /** Values per quantization group; 0 for the unquantized encodings. */
  readonly groupSize: number;
  /**
   * The encoding as namespaces name it: the dtype, plus `-g<groupSize>` when quantized — so entries of
   * two group sizes live under different hashes and never mix.
   */
  readonly namespaceDtype: string;
  /** The container format version (part of every namespace, so versions never mix either). */
  readonly formatVersion: number;
  /** Whether entries are signed and checked with the cache's secret (a MAC). */
  readonly authenticated: boolean;
  /** Serialize one block, naming it in the entry: the key it is stored under (a chain hash). */
  encode(block: KVCacheArrays, blockHash: BlockHash): Buffer;
  /**
   * Bytes back to a block, refusing anything that is not the block asked for: a typed error
   * (CORRUPT_ENTRY, UNSUPPORTED_FORMAT, MISPLACED_ENTRY, UNAUTHENTICATED_ENTRY), which connectors
   * turn into a miss.
   */
  decode(bytes: Buffer, expect: EntryIdentity): KVCacheArrays;
  /**
   * The same checks as `decode`, writing the values into `into` instead of new arrays: no
   * allocation. `into` holds per layer K and V of exactly one block's shape, or with `span` a longer
   * run of positions of which the block fills [span.start, span.start + block tokens) — how a
   * connector decodes each block of a prefix straight into the prefix's arrays. Another shape is a
   * MODEL_MISMATCH error; nothing is written unless every check passed.
   */
  decodeInto(bytes: Buffer, expect: EntryIdentity, into: KVArrays, span?: TokenSpan): void;
}

/** Options of {@link serdeBlockCodec}: the encoding, and the cache's secret. */
export interface BlockCodecOptions extends Omit<EncodeOptions, 'identity' | 'key'> {
  /**
   * The cache's secret (≥ 16 bytes). With it every entry carries a MAC and only entries with a valid
   * MAC are accepted: a party that can write to the store but lacks the secret cannot inject KV.
   * Never logged. `null` turns it off even when the environment variable is set.
   * @default process.env.KVLAB_CACHE_SECRET (none when unset)
   */
  secret?: string | Uint8Array | null;
}

/** The cache secret from the environment (`KVLAB_CACHE_SECRET`), if set. */
export function secretFromEnv(): string | undefined {
  const s = process.env.KVLAB_CACHE_SECRET;
  return s === undefined || s === '' ? undefined : s;
}

/**
 * Cut a run of KV arrays into blocks of `blockSize` tokens starting at token `fromToken`
 * ([heads, tokens, dim] layout: a token range is strided per head, so copy head by head).
 */
export function sliceArrays(kv: KVCacheArrays, from: number, to: number): KVCacheArrays {
  const { numKvHeads: heads, headDim: dim, tokens } = kv;
  const n = to - from;
  const cut = (src: Float32Array): Float32Array => {
    const out = new Float32Array(heads * n * dim);
    for (let h = 0; h < heads; h++) out.set(src.subarray((h * tokens + from) * dim, (h * tokens + to) * dim), h * n * dim);
    return out;
  };
  return {
    fingerprint: kv.fingerprint,
    startPosition: kv.startPosition + from,
    tokens: n,
    numKvHeads: heads,
    headDim: dim,
    layers: kv.layers.map((l) => ({ keys: cut(l.keys), values: cut(l.values) })),
  };
}

/** Join consecutive blocks into one run (the inverse of cutting with {@link sliceArrays}). */
export function joinArrays(parts: readonly KVCacheArrays[]): KVCacheArrays {
  const first = parts[0];
  if (!first) throw InvalidInputError.at('parts', 'at least one block', parts);
  const { numKvHeads: heads, headDim: dim } = first;
  const total = parts.reduce((a, p) => a + p.tokens, 0);
  const layers = first.layers.map((_, li) => {
    const keys = new Float32Array(heads * total * dim);
    const values = new Float32Array(heads * total * dim);
    let offset = 0;
    for (const p of parts) {
      const l = p.layers[li]!;
      for (let h = 0; h < heads; h++) {
        keys.set(l.keys.subarray(h * p.tokens * dim, (h + 1) * p.tokens * dim), (h * total + offset) * dim);
        values.set(l.values.subarray(h * p.tokens * dim, (h + 1) * p.tokens * dim), (h * total + offset) * dim);
      }
      offset += p.tokens;
    }
    return { keys, values };
  });
  return { fingerprint: first.fingerprint, startPosition: first.startPosition, tokens: total, numKvHeads: heads, headDim: dim, layers };
}

/**
 * The real codec: the serde layer's checksummed container with the chosen value encoding, each entry
 * naming its block (chain hash, first token, model) and, with a secret, signed. Decoding checks the
 * MAC first (with a secret), then the checksums, that the entry is the block asked for and of this
 * codec's encoding, and that it has the model's shape; anything else is a typed error.
 */
export function serdeBlockCodec(options: BlockCodecOptions = {}): BlockCodec {
  const { secret, ...encode } = options;
  const dtype = encode.dtype ?? DEFAULT_ENCODE_OPTIONS.dtype;
  const id = formatId(dtype, encode);
  const groupSize = isQuantized(dtype) ? (encode.groupSize ?? DEFAULT_GROUP_SIZES[dtype]) : 0;
  const chosen = secret === null ? undefined : (secret ?? secretFromEnv());
  const key = chosen === undefined ? undefined : EntryKey.fromSecret(chosen);
  /** A valid entry of another encoding (e.g. int8 read by an fp32 connector) must not pass for ours. */
  const checkFormat = (bytes: Buffer): void => {
    const header = readKVHeader(bytes);
    const stored = formatId(header.dtype, { groupSize: header.groupSize || undefined });
    if (stored !== id) throw new UnsupportedFormatError({ path: 'header.dtype', expected: id, received: stored });
  };
  return {
    formatId: id,
    dtype,
    groupSize,
    namespaceDtype: groupSize ? `${dtype}-g${groupSize}` : dtype,
    formatVersion: FORMAT_VERSION,
    authenticated: key !== undefined,
    encode(block: KVCacheArrays, blockHash: BlockHash): Buffer {
      return encodeKV(
        {
          layers: block.layers.length,
          kvHeads: block.numKvHeads,
          headDim: block.headDim,
          tokens: block.tokens,
          k: block.layers.map((l) => l.keys),
          v: block.layers.map((l) => l.values),
        },
        { ...encode, identity: { blockHash, startPosition: block.startPosition, fingerprint: block.fingerprint }, ...(key ? { key } : {}) },
      );
    },
    decodeInto(bytes: Buffer, expect: EntryIdentity, into: KVArrays, span?: TokenSpan): void {
      checkFormat(bytes);
      decodeKV(bytes, { expect, into, ...(span ? { intoSpan: span } : {}), ...(key ? { key } : {}) });
    },
    decode(bytes: Buffer, expect: EntryIdentity): KVCacheArrays {
      checkFormat(bytes);
      const data = decodeKV(bytes, { expect, ...(key ? { key } : {}) });
      return {
        fingerprint: expect.fingerprint,
        startPosition: expect.startPosition,
        tokens: data.tokens,
        numKvHeads: data.kvHeads,
        headDim: data.headDim,
        layers: data.k.map((keys, i) => ({ keys, values: data.v[i] as Float32Array })),
      };
    },
  };
}
