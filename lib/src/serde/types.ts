/**
 * The neutral data type the serializer works on, independent of the model code: one block of KV
 * = every layer's K and V for a run of tokens. The model's KVCache converts to and from it.
 */
import { InvalidInputError } from '../runtime';

/** The shape of a KV block. */
export interface KVShape {
  /** Transformer layers. */
  layers: number;
  /** Key/value heads per layer (fewer than query heads under GQA). */
  kvHeads: number;
  /** Channels per head. */
  headDim: number;
  /** Tokens in the block. */
  tokens: number;
}

/**
 * All layers' K and V for a token range. `k[l]` and `v[l]` hold layer l as
 * `[kvHeads, tokens, headDim]`, row-major and contiguous (length kvHeads·tokens·headDim).
 */
export interface KVBlockData extends KVShape {
  k: Float32Array[];
  v: Float32Array[];
}

/** Per-layer K and V arrays to decode into (each exactly kvHeads·tokens·headDim long). */
export interface KVArrays {
  k: Float32Array[];
  v: Float32Array[];
}

/** Every value encoding the KV entry format supports (see {@link KVDtype}). */
export const DTYPES = ['fp32', 'fp16', 'bf16', 'int8', 'kivi4', 'kivi2'] as const;
/**
 * How values are stored: `fp32` (exact), `fp16` / `bf16` (round-to-nearest-even), `int8`
 * (absmax per group along head_dim), `kivi4` / `kivi2` (KIVI-style 4- / 2-bit: K per channel,
 * V per token, asymmetric).
 */
export type KVDtype = (typeof DTYPES)[number];

/** Dtype ids as stored in the container header (byte 6). Never renumber: stored entries use them. */
export const DTYPE_IDS: Readonly<Record<KVDtype, number>> = { fp32: 1, fp16: 2, bf16: 3, int8: 4, kivi4: 5, kivi2: 6 };

export function dtypeFromId(id: number): KVDtype | undefined {
  return DTYPES.find((d) => DTYPE_IDS[d] === id);
}

/** True when `value` is one of the {@link DTYPES}. */
export function isDtype(value: unknown): value is KVDtype {
  return typeof value === 'string' && (DTYPES as readonly string[]).includes(value);
}

/** True for the dtypes that store per-group scales. */
export function isQuantized(dtype: KVDtype): dtype is 'int8' | 'kivi4' | 'kivi2' {
  return dtype === 'int8' || dtype === 'kivi4' || dtype === 'kivi2';
}

/** Bits per stored code of a quantized dtype. */
export function codeBits(dtype: 'int8' | 'kivi4' | 'kivi2'): number {
  return dtype === 'int8' ? 8 : dtype === 'kivi4' ? 4 : 2;
}

/** Bytes per value of the float dtypes, 1 for the quantized ones: the byte-shuffle width. */
export function valueWidth(dtype: KVDtype): number {
  return dtype === 'fp32' ? 4 : dtype === 'fp16' || dtype === 'bf16' ? 2 : 1;
}

/** Elements in one layer's K (or V) tensor. */
export function tensorElements(shape: KVShape): number {
  return shape.kvHeads * shape.tokens * shape.headDim;
}

const MAX_DIM = 0xffffffff;

/** Check that `shape` has four positive integer dimensions (each fits the header's u32); `what` is its path in errors. */
export function validateShape(shape: KVShape, what = 'block'): void {
  if (shape === null || typeof shape !== 'object') throw InvalidInputError.at(what, 'an object { layers, kvHeads, headDim, tokens }', shape);
  for (const key of ['layers', 'kvHeads', 'headDim', 'tokens'] as const) {
    const v = shape[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_DIM) throw InvalidInputError.at(`${what}.${key}`, 'an integer in [1, 2^32)', v);
  }
}

/** Check a block's shape and that k/v hold one Float32Array of the right length per layer. */
export function validateBlock(block: KVBlockData, what = 'block'): void {
  validateShape(block, what);
  checkArrays(block, block, what);
}

/** Check that `arrays` has one Float32Array of kvHeads·tokens·headDim values per layer for K and V; `what` is its path in errors. */
export function checkArrays(shape: KVShape, arrays: KVArrays, what: string): void {
  const n = tensorElements(shape);
  for (const kind of ['k', 'v'] as const) {
    const list = arrays[kind];
    if (!Array.isArray(list) || list.length !== shape.layers) {
      throw InvalidInputError.at(`${what}.${kind}`, `an array of ${shape.layers} Float32Arrays (one per layer)`, list);
    }
    for (let l = 0; l < shape.layers; l++) {
      const a = list[l];
      if (!(a instanceof Float32Array)) throw InvalidInputError.at(`${what}.${kind}[${l}]`, 'a Float32Array', a);
      if (a.length !== n) {
        throw new InvalidInputError({
          path: `${what}.${kind}[${l}]`,
          expected: `${n} values (shape [${shape.kvHeads}, ${shape.tokens}, ${shape.headDim}])`,
          received: `${a.length} values`,
        });
      }
    }
  }
}
