/**
 * The strategies compared on one request stream, and the oracle that bounds them.
 */
import type { LlamaModel } from '../model/transformer';
import { createNamespace } from '../hashing/namespace';
import { hashBlocks } from '../hashing/block-hash';
import { loadableBlocks } from '../hashing/block-size';
import { InvalidInputError } from '../runtime/errors';
import { MemoryStore } from '../store/memory-store';
import { createStore } from '../store/factory';
import { type BlockCodec } from '../engine/codec';
import { ExactPromptConnector, NoCacheConnector, PrefixCacheConnector, type KVConnector } from '../engine/connector';
import type { ServeRequest } from '../engine/types';

/**
 * The name of a caching strategy the benchmark compares: none, exact prompt, prefix cache in
 * memory, Redis, tiered or Redis Cluster.
 */
export type StrategyName = 'no-cache' | 'exact-prompt' | 'prefix-memory' | 'prefix-redis' | 'tiered' | 'prefix-cluster';
/** Every strategy name (see {@link StrategyName}). */
export const STRATEGIES: readonly StrategyName[] = ['no-cache', 'exact-prompt', 'prefix-memory', 'prefix-redis', 'tiered', 'prefix-cluster'];

export interface StrategyContext {
  model: LlamaModel;
  codec: BlockCodec;
  /** Tokens per block. */
  blockSize: number;
  /** Redis for the Redis and tiered strategies. */
  redisUrl?: string;
  /** Cluster nodes (`redis://a,redis://b,…`) for `prefix-cluster`. */
  clusterUrl?: string;
  /** Byte budget of in-process memory caches (prefix-memory, the L1 of tiered). */
  memoryBytes: number;
  /** Namespace part of Redis keys (`kvlab:<namespace>:<hash>`), so runs do not read each other's blocks. */
  storeNamespace: string;
}

/** True when `name` is one of the {@link STRATEGIES}. */
export function isStrategy(name: unknown): name is StrategyName {
  return typeof name === 'string' && (STRATEGIES as readonly string[]).includes(name);
}

/** Build the connector of a strategy. The Redis ones need `redisUrl` / `clusterUrl`. */
export async function makeConnector(name: StrategyName, ctx: StrategyContext): Promise<KVConnector> {
  const prefix = { blockSize: ctx.blockSize, name };
  switch (name) {
    case 'no-cache':
      return new NoCacheConnector();
    case 'exact-prompt':
      return new ExactPromptConnector(ctx.model, new MemoryStore({ maxBytes: ctx.memoryBytes }), ctx.codec);
    case 'prefix-memory':
      return new PrefixCacheConnector(ctx.model, new MemoryStore({ maxBytes: ctx.memoryBytes }), ctx.codec, prefix);
    case 'prefix-redis':
    case 'tiered': {
      if (!ctx.redisUrl) throw InvalidInputError.at('ctx.redisUrl', `a Redis URL (strategy ${name} needs one)`, ctx.redisUrl);
      const store = await createStore(ctx.redisUrl, { namespace: ctx.storeNamespace, ...(name === 'tiered' ? { l1Bytes: ctx.memoryBytes } : {}) });
      return new PrefixCacheConnector(ctx.model, store, ctx.codec, prefix);
    }
    case 'prefix-cluster': {
      if (!ctx.clusterUrl) throw InvalidInputError.at('ctx.clusterUrl', 'the cluster node URLs (strategy prefix-cluster needs them)', ctx.clusterUrl);
      const store = await createStore(ctx.clusterUrl, { namespace: ctx.storeNamespace });
      return new PrefixCacheConnector(ctx.model, store, ctx.codec, prefix);
    }
    default:
      throw InvalidInputError.at('name', `a known strategy: ${STRATEGIES.join(', ')}`, name);
  }
}

/**
 * The oracle: an infinite, never-failing block-prefix cache. For each request, the tokens it could
 * reuse from all earlier requests (full blocks, at least one token computed) — the best any
 * block-prefix strategy can do on this stream.
 */
export function oracleReuse(requests: readonly ServeRequest[], fingerprint: string, blockSize: number): number[] {
  const seen = new Set<string>();
  return requests.map((r) => {
    // The oracle's own namespace (never stored): only equality of chains matters.
    const ns = createNamespace({ modelFingerprint: fingerprint, kvDtype: 'oracle', kvFormatVersion: 1, blockSize, ...(r.tenant ? { salt: r.tenant } : {}) });
    const hashes = hashBlocks(r.tokens, ns);
    const usable = loadableBlocks(r.tokens.length, blockSize);
    let matched = 0;
    while (matched < usable && seen.has(hashes[matched]!)) matched++;
    for (const h of hashes) seen.add(h);
    return matched * blockSize;
  });
}
