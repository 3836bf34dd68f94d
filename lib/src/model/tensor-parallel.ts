/**
 * Tensor-parallel sharding of cached KV. Under tensor parallelism each GPU (rank) computes a slice of
 * the attention heads, so it holds only the K and V of *its* KV heads: rank r of W keeps heads
 * [r·H/W, (r+1)·H/W). With grouped-query attention W can exceed the number of KV heads H; each rank
 * then keeps one head and W/H ranks hold copies of it (vLLM's `QKVParallelLinear` does the same).
 *
 * A shard is an ordinary {@link KVCacheArrays} with fewer heads. Each rank stores its shard under its
 * own namespace (the namespace's `layout: { tpRank, tpSize }`), so shards of different ranks or of a
 * different tensor-parallel degree can never be read in place of each other.
 */
import { InvalidInputError, ModelMismatchError } from '../runtime/errors';
import type { KVCacheArrays } from './kv-cache';

/** Which KV heads one rank holds. */
export interface RankHeads {
  /** First KV head (of the unsharded model) this rank holds. */
  first: number;
  /** KV heads this rank holds: H/W, or 1 when W > H. */
  count: number;
  /** Ranks holding the same heads: 1, or W/H when W > H (the heads are replicated). */
  replicas: number;
}

function checkRank(tpRank: number, tpSize: number): void {
  if (!Number.isInteger(tpSize) || tpSize < 1) throw InvalidInputError.at('tpSize', 'a positive integer', tpSize);
  if (!Number.isInteger(tpRank) || tpRank < 0 || tpRank >= tpSize) throw InvalidInputError.at('tpRank', `an integer in [0, ${tpSize - 1}]`, tpRank);
}

/**
 * The KV heads rank `tpRank` of `tpSize` holds. H must divide by W (each rank an equal slice) or W by
 * H (each head replicated on W/H ranks); anything else cannot be split evenly and is refused.
 */
export function kvHeadsOfRank(numKvHeads: number, tpRank: number, tpSize: number): RankHeads {
  if (!Number.isInteger(numKvHeads) || numKvHeads < 1) throw InvalidInputError.at('numKvHeads', 'a positive integer', numKvHeads);
  checkRank(tpRank, tpSize);
  if (tpSize <= numKvHeads) {
    if (numKvHeads % tpSize !== 0) {
      throw new InvalidInputError({ path: 'tpSize', expected: `a divisor or a multiple of the ${numKvHeads} KV heads`, received: String(tpSize) });
    }
    const count = numKvHeads / tpSize;
    return { first: tpRank * count, count, replicas: 1 };
  }
  if (tpSize % numKvHeads !== 0) {
    throw new InvalidInputError({ path: 'tpSize', expected: `a divisor or a multiple of the ${numKvHeads} KV heads`, received: String(tpSize) });
  }
  const replicas = tpSize / numKvHeads;
  return { first: Math.floor(tpRank / replicas), count: 1, replicas };
}

/**
 * Rank `tpRank`'s shard of a run of KV: the same tokens, layers and positions, only its KV heads.
 * The layout is [heads, tokens, headDim] per layer, so a rank's heads are one contiguous range.
 */
export function shardKV(kv: KVCacheArrays, tpRank: number, tpSize: number): KVCacheArrays {
  const { first, count } = kvHeadsOfRank(kv.numKvHeads, tpRank, tpSize);
  const per = kv.tokens * kv.headDim;
  const cut = (a: Float32Array): Float32Array => a.slice(first * per, (first + count) * per);
  return {
    fingerprint: kv.fingerprint,
    startPosition: kv.startPosition,
    tokens: kv.tokens,
    numKvHeads: count,
    headDim: kv.headDim,
    layers: kv.layers.map((l) => ({ keys: cut(l.keys), values: cut(l.values) })),
  };
}

/**
 * The unsharded KV from the shards of all `tpSize` ranks, in rank order (the inverse of
 * {@link shardKV}). With replicated heads the first rank of each group supplies its head.
 * @param numKvHeads the model's KV heads (needed to tell slices from replicas)
 */
export function joinKVShards(shards: readonly KVCacheArrays[], numKvHeads: number): KVCacheArrays {
  if (!Array.isArray(shards) || shards.length === 0) throw InvalidInputError.at('shards', 'one shard per rank, in rank order', shards);
  const tpSize = shards.length;
  const first: KVCacheArrays = shards[0]!;
  const owners: KVCacheArrays[] = [];
  shards.forEach((s, rank) => {
    const want = kvHeadsOfRank(numKvHeads, rank, tpSize);
    const same = s.tokens === first.tokens && s.headDim === first.headDim && s.startPosition === first.startPosition && s.fingerprint === first.fingerprint && s.layers.length === first.layers.length;
    if (!same || s.numKvHeads !== want.count) {
      throw new ModelMismatchError({
        path: `shards[${rank}]`,
        expected: `${want.count} KV head(s) of ${first.tokens} tokens × ${first.headDim}, ${first.layers.length} layers, from position ${first.startPosition} (rank ${rank} of ${tpSize})`,
        received: `${s.numKvHeads} head(s) of ${s.tokens} tokens × ${s.headDim}, ${s.layers.length} layers, from position ${s.startPosition}`,
      });
    }
    if (rank % want.replicas === 0) owners.push(s);
  });
  const per = first.tokens * first.headDim;
  const layers = first.layers.map((_, li) => {
    const keys = new Float32Array(numKvHeads * per);
    const values = new Float32Array(numKvHeads * per);
    let head = 0;
    for (const s of owners) {
      keys.set(s.layers[li]!.keys, head * per);
      values.set(s.layers[li]!.values, head * per);
      head += s.numKvHeads;
    }
    return { keys, values };
  });
  return { fingerprint: first.fingerprint, startPosition: first.startPosition, tokens: first.tokens, numKvHeads, headDim: first.headDim, layers };
}

/**
 * Re-cut the shards of a `shards.length`-way deployment for `tpSize` ranks: what a migration job
 * must do when the tensor-parallel degree changes, since the new ranks can neither find (other
 * namespace) nor use (other heads) the old entries.
 */
export function reshardKV(shards: readonly KVCacheArrays[], numKvHeads: number, tpSize: number): KVCacheArrays[] {
  const whole = joinKVShards(shards, numKvHeads);
  return Array.from({ length: tpSize }, (_, rank) => shardKV(whole, rank, tpSize));
}
