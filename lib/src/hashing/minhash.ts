import { InvalidInputError, describeValue } from '../runtime/errors';
import { SeededRng } from '../runtime/rng';
import { assertInt, assertTokenArray, badToken } from './checks';
import type { TokenIds } from './types';

/*
 * Approximate prompt matching: MinHash signatures over token shingles, LSH banding to find
 * candidates without comparing against every stored prompt.
 *
 * SAFETY. KV computed for one token sequence is only valid for exactly that sequence: every K/V
 * vector depends on all tokens before it. Loading the KV of a *similar but different* prefix and
 * decoding from it changes the model's outputs (silently and unboundedly) — never do that.
 * Safe uses of similarity are advisory only:
 *   - routing: send a request to the worker whose cache likely holds a long shared prefix;
 *   - picking which cached prefix to extend or prefetch, where exact block hashes then decide what
 *     is actually reused.
 * (Systems that do reuse non-prefix KV, like CacheBlend, recompute a share of tokens to repair it.)
 *
 * Everything is deterministic: hash functions come from a SeededRng, no Math.random, no iteration
 * order that depends on the process.
 */

/** How MinHash signatures are made and banded for LSH: hash functions, bands, shingle size and seed. */
export interface MinHashOptions {
  /** Hash functions per signature; the estimate's standard error is ≈ sqrt(J(1−J)/numHashes). @default 128 */
  numHashes?: number;
  /**
   * LSH bands; `numHashes` must be a multiple. With r = numHashes / bands rows per band, a pair of
   * similarity s becomes a candidate with probability 1 − (1 − s^r)^bands (threshold ≈ (1/bands)^(1/r)).
   * @default 32 (r = 4: threshold ≈ 0.42)
   */
  bands?: number;
  /** Consecutive tokens per shingle (≈ 3 words of BPE text). @default 4 */
  shingleSize?: number;
  /** Seed of the hash functions: the same seed gives the same signatures in every process. @default 0x6b766c62 */
  seed?: number;
}

/** The defaults of {@link MinHashOptions}: 128 hash functions in 32 bands, shingles of 4 tokens, a fixed seed. */
export const DEFAULT_MINHASH_OPTIONS: Readonly<Required<MinHashOptions>> = Object.freeze({
  numHashes: 128,
  bands: 32,
  shingleSize: 4,
  seed: 0x6b766c62,
});

/** murmur3's 32-bit finalizer: a bijection on uint32 with full avalanche. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const SHINGLE_SEED = 0x9e3779b9;

function resolve(options: MinHashOptions): Required<MinHashOptions> {
  const o = { ...DEFAULT_MINHASH_OPTIONS, ...options };
  assertInt(o.numHashes, 'numHashes', 1, 4096);
  assertInt(o.bands, 'bands', 1, o.numHashes);
  if (o.numHashes % o.bands !== 0) {
    throw new InvalidInputError({
      path: 'options.numHashes',
      expected: `a multiple of bands (${o.bands})`,
      received: String(o.numHashes),
      hint: 'Every band takes numHashes / bands rows of the signature.',
    });
  }
  assertInt(o.shingleSize, 'shingleSize', 1, 1024);
  assertInt(o.seed, 'seed', 0, 0xffffffff);
  return o;
}

/**
 * The set of shingle hashes of `tokens`, sorted ascending, no duplicates. A shingle is `shingleSize`
 * consecutive tokens hashed to 32 bits; a sequence shorter than that is one shingle of all of it.
 */
export function shingleSet(tokens: TokenIds, shingleSize: number = DEFAULT_MINHASH_OPTIONS.shingleSize): Uint32Array {
  assertTokenArray(tokens);
  assertInt(shingleSize, 'shingleSize', 1, 1024);
  const n = tokens.length;
  if (n === 0) throw new InvalidInputError({ path: 'tokens', expected: 'at least one token (an empty sequence has no shingles)', received: 'an empty sequence' });
  for (let i = 0; i < n; i++) {
    const t = tokens[i] as number;
    if ((t >>> 0) !== t) throw badToken(i, t);
  }
  const k = Math.min(shingleSize, n);
  const out = new Uint32Array(n - k + 1);
  for (let i = 0; i + k <= n; i++) {
    let h = (SHINGLE_SEED ^ k) >>> 0;
    for (let j = 0; j < k; j++) h = fmix32((h ^ (tokens[i + j] as number)) >>> 0);
    out[i] = h;
  }
  out.sort();
  let w = 0;
  for (let i = 0; i < out.length; i++) if (i === 0 || out[i] !== out[w - 1]) out[w++] = out[i]!;
  return out.slice(0, w);
}

/** Hash-function parameters: h_i(x) = fmix32(x · mul_i + add_i), mul_i odd, so each h_i permutes uint32. */
function hashParams(numHashes: number, seed: number): { mul: Uint32Array; add: Uint32Array } {
  const rng = new SeededRng(seed);
  const mul = new Uint32Array(numHashes);
  const add = new Uint32Array(numHashes);
  for (let i = 0; i < numHashes; i++) {
    mul[i] = (rng.nextU32() | 1) >>> 0;
    add[i] = rng.nextU32();
  }
  return { mul, add };
}

function signatureOf(shingles: Uint32Array, mul: Uint32Array, add: Uint32Array): Uint32Array {
  const sig = new Uint32Array(mul.length).fill(0xffffffff);
  for (let i = 0; i < mul.length; i++) {
    const m = mul[i]!;
    const a = add[i]!;
    let min = 0xffffffff;
    for (let s = 0; s < shingles.length; s++) {
      const v = fmix32((Math.imul(shingles[s]!, m) + a) >>> 0);
      if (v < min) min = v;
    }
    sig[i] = min;
  }
  return sig;
}

/** MinHash signature of `tokens`: per hash function, the minimum over the shingle set. */
export function minhashSignature(tokens: TokenIds, options: MinHashOptions = {}): Uint32Array {
  const o = resolve(options);
  const { mul, add } = hashParams(o.numHashes, o.seed);
  return signatureOf(shingleSet(tokens, o.shingleSize), mul, add);
}

/** Estimated Jaccard similarity: the share of positions where two signatures agree. */
export function estimateJaccard(a: Uint32Array, b: Uint32Array): number {
  if (!(a instanceof Uint32Array) || !(b instanceof Uint32Array) || a.length !== b.length || a.length === 0) {
    throw new InvalidInputError({
      path: 'a, b',
      expected: 'two signatures: non-empty Uint32Arrays of equal length',
      received: `${describeValue(a)} and ${describeValue(b)}`,
    });
  }
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / a.length;
}

/** |A ∩ B| / |A ∪ B| of two sorted, duplicate-free shingle sets. */
export function jaccardOfSets(a: Uint32Array, b: Uint32Array): number {
  let i = 0;
  let j = 0;
  let inter = 0;
  while (i < a.length && j < b.length) {
    const x = a[i]!;
    const y = b[j]!;
    if (x === y) {
      inter++;
      i++;
      j++;
    } else if (x < y) i++;
    else j++;
  }
  const union = a.length + b.length - inter;
  return union === 0 ? 1 : inter / union;
}

/** Exact Jaccard similarity of the shingle sets of two token sequences (what MinHash estimates). */
export function exactJaccard(a: TokenIds, b: TokenIds, shingleSize: number = DEFAULT_MINHASH_OPTIONS.shingleSize): number {
  return jaccardOfSets(shingleSet(a, shingleSize), shingleSet(b, shingleSize));
}

/** Probability that LSH makes a pair of Jaccard similarity `s` a candidate: 1 − (1 − s^rows)^bands. */
export function lshCandidateProbability(s: number, bands: number, rows: number): number {
  if (typeof s !== 'number' || !(s >= 0 && s <= 1)) throw InvalidInputError.at('s', 'a similarity in [0, 1]', s);
  assertInt(bands, 'bands', 1, 1 << 20);
  assertInt(rows, 'rows', 1, 1 << 20);
  return 1 - Math.pow(1 - Math.pow(s, rows), bands);
}

export interface MinHashQueryOptions {
  /** Most candidates to return. @default 10 */
  limit?: number;
  /** Drop candidates whose estimated Jaccard is below this. @default 0 */
  minSimilarity?: number;
  /** Also compute the exact Jaccard of each returned candidate (from stored shingle sets), to verify. @default true */
  exact?: boolean;
}

export const DEFAULT_MINHASH_QUERY_OPTIONS: Readonly<Required<MinHashQueryOptions>> = Object.freeze({
  limit: 10,
  minSimilarity: 0,
  exact: true,
});

/**
 * A stored prompt similar to a query, as {@link MinHashIndex.query} returns it: its id, estimated
 * (and optionally exact) similarity and shared bands.
 */
export interface MinHashCandidate {
  id: string;
  /** Estimated Jaccard similarity of shingle sets, from the signatures. */
  estimatedJaccard: number;
  /** Exact Jaccard similarity (when `exact` was asked for). */
  exactJaccard?: number;
  /** LSH bands the two signatures share (≥ 1 for every candidate). */
  sharedBands: number;
  /** Token count of the stored prompt. */
  tokens: number;
}

interface Entry {
  seq: number;
  signature: Uint32Array;
  shingles: Uint32Array;
  bandKeys: Uint32Array;
  tokens: number;
}

/**
 * An index of prompts for approximate lookup. `add` stores a prompt's signature under an id and files
 * it in one bucket per band; `query` returns the stored prompts sharing at least one band bucket,
 * scored by estimated (and optionally exact) Jaccard. Advisory only — see the safety note above.
 */
export class MinHashIndex {
  readonly options: Readonly<Required<MinHashOptions>>;
  readonly rows: number;
  private readonly mul: Uint32Array;
  private readonly add_: Uint32Array;
  private readonly buckets: Map<number, Set<string>>[];
  private readonly entries = new Map<string, Entry>();
  private seq = 0;

  constructor(options: MinHashOptions = {}) {
    this.options = Object.freeze(resolve(options));
    this.rows = this.options.numHashes / this.options.bands;
    const p = hashParams(this.options.numHashes, this.options.seed);
    this.mul = p.mul;
    this.add_ = p.add;
    this.buckets = Array.from({ length: this.options.bands }, () => new Map<number, Set<string>>());
  }

  get size(): number {
    return this.entries.size;
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  /** Signature of `tokens` under this index's hash functions. */
  signature(tokens: TokenIds): Uint32Array {
    return signatureOf(shingleSet(tokens, this.options.shingleSize), this.mul, this.add_);
  }

  /** Store a prompt under `id` (a new id: remove it first to replace). */
  add(id: string, tokens: TokenIds): void {
    if (typeof id !== 'string' || id.length === 0) throw InvalidInputError.at('id', 'a non-empty string', id);
    if (this.entries.has(id)) throw InvalidInputError.at('id', 'an id not already in the index', id, 'Remove it first to replace it.');
    const shingles = shingleSet(tokens, this.options.shingleSize);
    const signature = signatureOf(shingles, this.mul, this.add_);
    const bandKeys = this.bandKeys(signature);
    for (let b = 0; b < bandKeys.length; b++) {
      const bucket = this.buckets[b]!;
      const key = bandKeys[b]!;
      let set = bucket.get(key);
      if (set === undefined) bucket.set(key, (set = new Set()));
      set.add(id);
    }
    this.entries.set(id, { seq: this.seq++, signature, shingles, bandKeys, tokens: tokens.length });
  }

  /** Forget `id`; false if it was not there. */
  remove(id: string): boolean {
    const e = this.entries.get(id);
    if (e === undefined) return false;
    for (let b = 0; b < e.bandKeys.length; b++) {
      const bucket = this.buckets[b]!;
      const set = bucket.get(e.bandKeys[b]!);
      set?.delete(id);
      if (set !== undefined && set.size === 0) bucket.delete(e.bandKeys[b]!);
    }
    this.entries.delete(id);
    return true;
  }

  /** Stored prompts similar to `tokens`, best first (ties: earlier added first). */
  query(tokens: TokenIds, options: MinHashQueryOptions = {}): MinHashCandidate[] {
    const o = { ...DEFAULT_MINHASH_QUERY_OPTIONS, ...options };
    assertInt(o.limit, 'limit', 0, Number.MAX_SAFE_INTEGER);
    if (typeof o.minSimilarity !== 'number' || !(o.minSimilarity >= 0 && o.minSimilarity <= 1)) {
      throw InvalidInputError.at('options.minSimilarity', 'a number in [0, 1]', o.minSimilarity);
    }
    const shingles = shingleSet(tokens, this.options.shingleSize);
    const sig = signatureOf(shingles, this.mul, this.add_);
    const keys = this.bandKeys(sig);
    const shared = new Map<string, number>();
    for (let b = 0; b < keys.length; b++) {
      const set = this.buckets[b]!.get(keys[b]!);
      if (set !== undefined) for (const id of set) shared.set(id, (shared.get(id) ?? 0) + 1);
    }
    const scored: (MinHashCandidate & { seq: number })[] = [];
    for (const [id, sharedBands] of shared) {
      const e = this.entries.get(id)!;
      const estimatedJaccard = estimateJaccard(sig, e.signature);
      if (estimatedJaccard < o.minSimilarity) continue;
      scored.push({ id, estimatedJaccard, sharedBands, tokens: e.tokens, seq: e.seq });
    }
    scored.sort((a, b) => b.estimatedJaccard - a.estimatedJaccard || a.seq - b.seq);
    return scored.slice(0, o.limit).map((s) => {
      const c: MinHashCandidate = { id: s.id, estimatedJaccard: s.estimatedJaccard, sharedBands: s.sharedBands, tokens: s.tokens };
      if (o.exact) c.exactJaccard = jaccardOfSets(shingles, this.entries.get(s.id)!.shingles);
      return c;
    });
  }

  private bandKeys(sig: Uint32Array): Uint32Array {
    const r = this.rows;
    const keys = new Uint32Array(this.options.bands);
    for (let b = 0; b < keys.length; b++) {
      let h = fmix32((b + 1) >>> 0);
      for (let j = 0; j < r; j++) h = fmix32((h ^ sig[b * r + j]!) >>> 0);
      keys[b] = h;
    }
    return keys;
  }
}
