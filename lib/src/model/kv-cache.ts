import * as tf from '@tensorflow/tfjs-core';
import { InvalidInputError, ModelMismatchError, describeValue } from '../runtime/errors';

/** Bytes of one cached value: the cache lives in float32 tensors. */
export const KV_BYTES_PER_VALUE = 4;

/**
 * A KV cache as plain arrays — what the serialization layer stores. Per layer, `keys` and
 * `values` are contiguous row-major Float32Arrays of shape [numKvHeads, tokens, headDim].
 */
export interface KVCacheArrays {
  /** Fingerprint of the model that computed these keys and values. */
  fingerprint: string;
  /** Position of the first cached token (keys carry their RoPE rotation, so positions matter). */
  startPosition: number;
  tokens: number;
  numKvHeads: number;
  headDim: number;
  layers: { keys: Float32Array; values: Float32Array }[];
}

export interface KVCacheInit {
  fingerprint: string;
  startPosition: number;
  /** Per layer, shape [numKvHeads, tokens, headDim]. The cache takes ownership (disposes them). */
  keys: tf.Tensor3D[];
  values: tf.Tensor3D[];
}

const FINGERPRINT_PATTERN = /^[0-9a-f]{64}$/;

/**
 * The keys and values a model computed for a run of consecutive tokens, per layer, as tensors of
 * shape [numKvHeads, tokens, headDim]. It remembers which model made it (fingerprint) and where the
 * run starts, so it cannot be fed to another model or spliced at the wrong place.
 *
 * Ownership: every method that returns a KVCache returns new tensors; the caller disposes each
 * cache it holds (`dispose()`), including ones passed to `prefill` / `decodeStep`, which never
 * dispose their input.
 */
export class KVCache {
  readonly fingerprint: string;
  readonly startPosition: number;
  /** Number of cached tokens. */
  readonly tokens: number;
  readonly numLayers: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  private readonly keyTensors: tf.Tensor3D[];
  private readonly valueTensors: tf.Tensor3D[];
  private disposed = false;

  constructor(init: KVCacheInit) {
    if (typeof init.fingerprint !== 'string' || !FINGERPRINT_PATTERN.test(init.fingerprint)) {
      throw InvalidInputError.at('init.fingerprint', 'a model fingerprint: 64 lowercase hex characters', init.fingerprint);
    }
    checkNonNegativeInteger('init.startPosition', init.startPosition);
    if (!Array.isArray(init.keys) || init.keys.length === 0 || !Array.isArray(init.values) || init.values.length !== init.keys.length) {
      throw new InvalidInputError({
        path: 'init.keys, init.values',
        expected: 'the same positive number of key and value tensors (one per layer)',
        received: `${describeValue(init.keys)} and ${describeValue(init.values)}`,
      });
    }
    const first = init.keys[0] as tf.Tensor3D;
    if (first.rank !== 3) {
      throw new InvalidInputError({ path: 'init.keys[0]', expected: 'a tensor of rank 3 [kvHeads, tokens, headDim]', received: `shape [${first.shape.join(', ')}]` });
    }
    const [heads, tokens, headDim] = first.shape;
    for (const [kind, list] of [['key', init.keys], ['value', init.values]] as const) {
      list.forEach((t, layer) => {
        if (t.rank !== 3 || t.shape[0] !== heads || t.shape[1] !== tokens || t.shape[2] !== headDim || t.dtype !== 'float32') {
          throw new InvalidInputError({
            path: `init.${kind}s[${layer}]`,
            expected: `float32 [${heads}, ${tokens}, ${headDim}] (the shape of layer 0)`,
            received: `${t.dtype} [${t.shape.join(', ')}]`,
          });
        }
      });
    }
    if (tokens === 0) throw new InvalidInputError({ path: 'init.keys[0]', expected: 'at least one token', received: '0 tokens' });
    this.fingerprint = init.fingerprint;
    this.startPosition = init.startPosition;
    this.tokens = tokens;
    this.numLayers = init.keys.length;
    this.numKvHeads = heads;
    this.headDim = headDim;
    this.keyTensors = init.keys.slice();
    this.valueTensors = init.values.slice();
  }

  /** Position just after the last cached token (where the next token goes). */
  get endPosition(): number {
    return this.startPosition + this.tokens;
  }

  /** Bytes held by the tensors: 2 × layers × kvHeads × tokens × headDim × 4 (float32). */
  get bytes(): number {
    return 2 * this.numLayers * this.numKvHeads * this.tokens * this.headDim * KV_BYTES_PER_VALUE;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Keys of one layer, [numKvHeads, tokens, headDim]. Owned by the cache: do not dispose. */
  layerKeys(layer: number): tf.Tensor3D {
    this.assertUsable();
    return this.keyTensors[this.checkLayer(layer)] as tf.Tensor3D;
  }

  /** Values of one layer, [numKvHeads, tokens, headDim]. Owned by the cache: do not dispose. */
  layerValues(layer: number): tf.Tensor3D {
    this.assertUsable();
    return this.valueTensors[this.checkLayer(layer)] as tf.Tensor3D;
  }

  /** Tokens `from` … `to-1` of this cache (indices relative to it) as a new cache; `startPosition` moves accordingly. */
  slice(from: number, to: number): KVCache {
    this.assertUsable();
    checkNonNegativeInteger('from', from);
    checkNonNegativeInteger('to', to);
    if (!(from < to && to <= this.tokens)) {
      throw new InvalidInputError({
        path: 'from, to',
        expected: `a non-empty range inside a KV cache of ${this.tokens} tokens (from < to ≤ ${this.tokens})`,
        received: `slice(${from}, ${to})`,
        limit: this.tokens,
        actual: to,
      });
    }
    const cut = (t: tf.Tensor3D): tf.Tensor3D => tf.slice(t, [0, from, 0], [this.numKvHeads, to - from, this.headDim]);
    return new KVCache({
      fingerprint: this.fingerprint,
      startPosition: this.startPosition + from,
      keys: this.keyTensors.map(cut),
      values: this.valueTensors.map(cut),
    });
  }

  /** This cache followed by `other`, which must come from the same model and start where this one ends. */
  concat(other: KVCache): KVCache {
    return KVCache.concatAll([this, other]);
  }

  /** Join consecutive caches in one copy (cheaper than repeated `concat` when assembling many blocks). */
  static concatAll(parts: readonly KVCache[]): KVCache {
    if (!Array.isArray(parts) || parts.length === 0) throw InvalidInputError.at('parts', 'at least one KV cache', parts);
    const first = parts[0] as KVCache;
    parts.forEach((p, i) => {
      if (!(p instanceof KVCache)) throw InvalidInputError.at(`parts[${i}]`, 'a KVCache', p);
      p.assertUsable(`parts[${i}]`);
      if (p.fingerprint !== first.fingerprint) {
        throw new ModelMismatchError({
          message: `cannot join KV caches of different models (fingerprints ${first.fingerprint.slice(0, 12)}… and ${p.fingerprint.slice(0, 12)}…)`,
          path: `parts[${i}].fingerprint`,
          expected: `${first.fingerprint.slice(0, 12)}… (the model of parts[0])`,
          received: `${p.fingerprint.slice(0, 12)}…`,
        });
      }
      if (p.numLayers !== first.numLayers || p.numKvHeads !== first.numKvHeads || p.headDim !== first.headDim) {
        throw new ModelMismatchError({
          message: `cannot join KV caches of different shapes (${first.numLayers}×${first.numKvHeads}×${first.headDim} and ${p.numLayers}×${p.numKvHeads}×${p.headDim})`,
          path: `parts[${i}]`,
          expected: `layers×kvHeads×headDim ${first.numLayers}×${first.numKvHeads}×${first.headDim} (the shape of parts[0])`,
          received: `${p.numLayers}×${p.numKvHeads}×${p.headDim}`,
        });
      }
      if (i > 0) {
        const prev = parts[i - 1] as KVCache;
        if (p.startPosition !== prev.endPosition) {
          throw new InvalidInputError({
            message: `KV caches are not consecutive: part ${i} starts at position ${p.startPosition}, the previous part ends at ${prev.endPosition}`,
            path: `parts[${i}].startPosition`,
            expected: `${prev.endPosition} (where parts[${i - 1}] ends)`,
            received: String(p.startPosition),
          });
        }
      }
    });
    if (parts.length === 1) return first.clone();
    const join = (pick: (p: KVCache) => tf.Tensor3D[], layer: number): tf.Tensor3D => tf.concat(parts.map((p) => pick(p)[layer] as tf.Tensor3D), 1);
    const layers = [...Array(first.numLayers).keys()];
    return new KVCache({
      fingerprint: first.fingerprint,
      startPosition: first.startPosition,
      keys: layers.map((l) => join((p) => p.keyTensors, l)),
      values: layers.map((l) => join((p) => p.valueTensors, l)),
    });
  }

  /** An independent copy (its own tensors). */
  clone(): KVCache {
    this.assertUsable();
    return new KVCache({
      fingerprint: this.fingerprint,
      startPosition: this.startPosition,
      keys: this.keyTensors.map((t) => tf.clone(t)),
      values: this.valueTensors.map((t) => tf.clone(t)),
    });
  }

  /** Free the tensors. Safe to call twice; any later use throws `InvalidInputError`. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of this.keyTensors) t.dispose();
    for (const t of this.valueTensors) t.dispose();
  }

  /** Copy out to plain arrays (fresh Float32Arrays, [numKvHeads, tokens, headDim] each). */
  toArrays(): KVCacheArrays {
    this.assertUsable();
    return {
      fingerprint: this.fingerprint,
      startPosition: this.startPosition,
      tokens: this.tokens,
      numKvHeads: this.numKvHeads,
      headDim: this.headDim,
      // slice(): some backends hand out their internal buffer from dataSync; the caller must own its copy.
      layers: this.keyTensors.map((k, i) => ({
        keys: (k.dataSync() as Float32Array).slice(),
        values: ((this.valueTensors[i] as tf.Tensor3D).dataSync() as Float32Array).slice(),
      })),
    };
  }

  /** Rebuild a cache from {@link toArrays} output (validated; throws `InvalidInputError` naming the bad field). */
  static fromArrays(arrays: KVCacheArrays): KVCache {
    if (arrays === null || typeof arrays !== 'object') throw InvalidInputError.at('arrays', 'an object from toArrays()', arrays);
    const { tokens, numKvHeads, headDim, layers } = arrays;
    // Checked here as well as in the constructor so that nothing is allocated for invalid input.
    if (typeof arrays.fingerprint !== 'string' || !FINGERPRINT_PATTERN.test(arrays.fingerprint)) {
      throw InvalidInputError.at('arrays.fingerprint', 'a model fingerprint: 64 lowercase hex characters', arrays.fingerprint);
    }
    checkNonNegativeInteger('arrays.startPosition', arrays.startPosition);
    for (const [name, v] of [['tokens', tokens], ['numKvHeads', numKvHeads], ['headDim', headDim]] as const) {
      if (!Number.isSafeInteger(v) || v <= 0) throw InvalidInputError.at(`arrays.${name}`, 'a positive integer', v);
    }
    if (!Array.isArray(layers) || layers.length === 0) throw InvalidInputError.at('arrays.layers', 'a non-empty array', layers);
    const size = numKvHeads * tokens * headDim;
    layers.forEach((layer, i) => {
      for (const kind of ['keys', 'values'] as const) {
        const a = (layer as Record<string, unknown> | null)?.[kind];
        if (!(a instanceof Float32Array) || a.length !== size) {
          throw InvalidInputError.at(`arrays.layers[${i}].${kind}`, `a Float32Array of ${size} values (${numKvHeads}×${tokens}×${headDim})`, a);
        }
      }
    });
    const shape: [number, number, number] = [numKvHeads, tokens, headDim];
    return new KVCache({
      fingerprint: arrays.fingerprint,
      startPosition: arrays.startPosition,
      // Copies: the cpu backend would otherwise keep the caller's array as its storage.
      keys: layers.map((l) => tf.tensor3d(l.keys.slice(), shape, 'float32')),
      values: layers.map((l) => tf.tensor3d(l.values.slice(), shape, 'float32')),
    });
  }

  private assertUsable(what = 'this'): void {
    if (this.disposed) throw new InvalidInputError({ path: what, expected: 'a live KV cache', received: 'a KV cache that has been disposed' });
  }

  private checkLayer(layer: number): number {
    if (!Number.isInteger(layer) || layer < 0 || layer >= this.numLayers) throw InvalidInputError.at('layer', `an integer in [0, ${this.numLayers})`, layer);
    return layer;
  }
}

function checkNonNegativeInteger(name: string, v: unknown): void {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw InvalidInputError.at(name, 'a non-negative integer', v);
}
