import type { KVCacheArrays } from '../model/kv-cache';
import { DEFAULT_ENCODE_OPTIONS, DEFAULT_GROUP_SIZES, FORMAT_VERSION, decodeKV, encodeKV, formatId, readKVHeader, type EncodeOptions } from '../serde/container';
import { isQuantized, type KVDtype } from '../serde/types';
import { UnsupportedFormatError } from '../runtime/errors';

/**
 * Turns one block of KV (all layers, a token range) into bytes and back. The serde layer provides
 * the real one ({@link serdeBlockCodec}); the engine only needs this much.
 */
export interface BlockCodec {
  /** The stored format, as `formatId` of the serde layer names it (e.g. `kvlb2-fp16`, `kvlb2-int8-g32`). */
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
  encode(block: KVCacheArrays): Buffer;
  /** Throws a typed error (CORRUPT_ENTRY, UNSUPPORTED_FORMAT) for bytes that do not decode. */
  decode(bytes: Buffer, fingerprint: string, startPosition: number): KVCacheArrays;
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
  if (!first) throw new Error('joinArrays needs at least one part');
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
 * The real codec: the serde layer's checksummed container with the chosen value encoding.
 * Decoding checks the checksum and that the block has the shape the model expects; anything else
 * is a typed error, which connectors turn into a miss.
 */
export function serdeBlockCodec(options: EncodeOptions = {}): BlockCodec {
  const dtype = options.dtype ?? DEFAULT_ENCODE_OPTIONS.dtype;
  const id = formatId(dtype, options);
  const groupSize = isQuantized(dtype) ? (options.groupSize ?? DEFAULT_GROUP_SIZES[dtype]) : 0;
  return {
    formatId: id,
    dtype,
    groupSize,
    namespaceDtype: groupSize ? `${dtype}-g${groupSize}` : dtype,
    formatVersion: FORMAT_VERSION,
    encode(block: KVCacheArrays): Buffer {
      return encodeKV(
        {
          layers: block.layers.length,
          kvHeads: block.numKvHeads,
          headDim: block.headDim,
          tokens: block.tokens,
          k: block.layers.map((l) => l.keys),
          v: block.layers.map((l) => l.values),
        },
        options,
      );
    },
    decode(bytes: Buffer, fingerprint: string, startPosition: number): KVCacheArrays {
      // A valid entry of another encoding (e.g. int8 read by an fp32 connector) must not pass for ours.
      const header = readKVHeader(bytes);
      const stored = formatId(header.dtype, { groupSize: header.groupSize || undefined });
      if (stored !== id) throw new UnsupportedFormatError(`stored block is ${stored}, this codec reads ${id}`);
      const data = decodeKV(bytes);
      return {
        fingerprint,
        startPosition,
        tokens: data.tokens,
        numKvHeads: data.kvHeads,
        headDim: data.headDim,
        layers: data.k.map((keys, i) => ({ keys, values: data.v[i] as Float32Array })),
      };
    },
  };
}
