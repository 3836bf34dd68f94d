import type { ClusterOptions, RedisOptions } from 'ioredis';
import { Registry } from 'prom-client';
import { InvalidInputError, StoreUnavailableError, describeValue } from '../runtime/errors';
import { MemoryStore, type MemoryStoreOptions } from './memory-store';
import type { RedisCommonOptions } from './redis-base';
import { RedisClusterStore, type RedisClusterStoreOptions } from './redis-cluster-store';
import { RedisStore, type RedisStoreOptions } from './redis-store';
import { TieredStore } from './tiered-store';
import type { KVStore } from './types';
import { parseStoreUrl, redactStoreUrl } from './url';

/** A store described as an object instead of a URL. */
export type StoreConfig =
  | ({ kind: 'memory' } & MemoryStoreOptions)
  | ({ kind: 'redis' } & RedisStoreOptions)
  | ({ kind: 'cluster' } & RedisClusterStoreOptions)
  | ({ kind: 'tiered'; l1?: MemoryStoreOptions; l2: string | Exclude<StoreConfig, { kind: 'tiered' }>; promoteOnHit?: boolean } & Pick<
      RedisCommonOptions,
      'name' | 'registry' | 'metricsPrefix' | 'validate'
    >);

/** Settings applied on top of a URL (they win over its query parameters). */
export interface CreateStoreOptions extends Omit<RedisCommonOptions, 'url'> {
  /** Byte budget of a `memory://` store. */
  maxBytes?: number;
  /** Put a memory tier of this many bytes in front of Redis (a `TieredStore`); 0 = none. @default 0 */
  l1Bytes?: number;
  /** Extra ioredis options (standalone). */
  redisOptions?: RedisOptions;
  /** Extra ioredis Cluster options. */
  clusterOptions?: ClusterOptions;
  /** Wait (up to `connectTimeout`) for the connection before resolving. @default true */
  waitForConnection?: boolean;
  /**
   * Reject with `StoreUnavailableError` if the server cannot be reached at start. Off by default: the
   * store then starts in fallback mode (misses) and connects when the server comes up.
   * @default false
   */
  requireReachable?: boolean;
}

export const DEFAULT_CREATE_STORE_OPTIONS = {
  l1Bytes: 0,
  waitForConnection: true,
  requireReachable: false,
} as const satisfies CreateStoreOptions;

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function build(config: StoreConfig, registry: Registry | undefined): KVStore {
  switch (config.kind) {
    case 'memory': {
      const { kind: _k, ...o } = config;
      return new MemoryStore({ ...o, registry: o.registry ?? registry });
    }
    case 'redis': {
      const { kind: _k, ...o } = config;
      return new RedisStore({ ...o, registry: o.registry ?? registry });
    }
    case 'cluster': {
      const { kind: _k, ...o } = config;
      return new RedisClusterStore({ ...o, registry: o.registry ?? registry });
    }
    case 'tiered': {
      const reg = config.registry ?? registry ?? new Registry();
      const l2 = typeof config.l2 === 'string' ? build(fromUrl(config.l2, {}), reg) : build(config.l2, config.l2.registry ?? reg);
      return new TieredStore({
        name: config.name,
        registry: reg,
        metricsPrefix: config.metricsPrefix,
        validate: config.validate,
        promoteOnHit: config.promoteOnHit,
        l1: { metricsPrefix: config.metricsPrefix, ...config.l1, registry: reg },
        l2,
      });
    }
    default:
      throw new InvalidInputError({
        path: 'config.kind',
        expected: 'a store kind: memory, redis, cluster or tiered',
        received: `unknown store kind ${describeValue((config as { kind?: unknown }).kind)}`,
      });
  }
}

/** The `StoreConfig` a URL describes, with `overrides` applied. */
export function fromUrl(url: string, overrides: CreateStoreOptions): StoreConfig {
  const parsed = parseStoreUrl(url);
  const { maxBytes, l1Bytes, redisOptions, clusterOptions, waitForConnection: _w, requireReachable: _r, ...common } = overrides;
  let config: StoreConfig;
  if (parsed.kind === 'memory') {
    config = definedOnly({
      kind: 'memory' as const,
      name: common.name ?? parsed.name,
      maxBytes: maxBytes ?? parsed.maxBytes,
      validate: common.validate,
      registry: common.registry,
      metricsPrefix: common.metricsPrefix,
      latencyBuckets: common.latencyBuckets,
    }) as StoreConfig;
    return config;
  }
  config =
    parsed.kind === 'cluster'
      ? { kind: 'cluster', url, ...definedOnly(common), clusterOptions }
      : { kind: 'redis', url, ...definedOnly(common), redisOptions };
  const l1 = l1Bytes ?? parsed.l1Bytes ?? DEFAULT_CREATE_STORE_OPTIONS.l1Bytes;
  if (l1 > 0) {
    return { kind: 'tiered', name: common.name ?? parsed.name, registry: common.registry, validate: common.validate, l1: { maxBytes: l1 }, l2: { ...config, validate: undefined, name: undefined } as Exclude<StoreConfig, { kind: 'tiered' }> };
  }
  return config;
}

/**
 * Create a store from a URL or a `StoreConfig`:
 * - `memory://?maxBytes=256mib`
 * - `redis://[user:password@]host:6379/0?namespace=abc&ttl=3600`, `rediss://…` (TLS)
 * - `redis+cluster://h1:7000,h2:7001,h3:7002` or `redis://h1:7000,redis://h2:7001` (Redis Cluster)
 * - `…&l1=256mib` (or `l1Bytes`) puts a memory tier in front of Redis.
 *
 * Waits for the connection (up to `connectTimeout`) but does not fail if the server is down unless
 * `requireReachable` is set. Malformed URLs throw `ConfigError` (never showing the password).
 */
export async function createStore(target: string | StoreConfig, options: CreateStoreOptions = {}): Promise<KVStore> {
  const config = typeof target === 'string' ? fromUrl(target, options) : target;
  if (config === null || typeof config !== 'object') throw InvalidInputError.at('target', 'a store URL or a StoreConfig', target);
  const store = build(config, options.registry);
  const wait = options.waitForConnection ?? DEFAULT_CREATE_STORE_OPTIONS.waitForConnection;
  const require = options.requireReachable ?? DEFAULT_CREATE_STORE_OPTIONS.requireReachable;
  const redis = store instanceof TieredStore ? store.l2 : store;
  if ((wait || require) && (redis instanceof RedisStore || redis instanceof RedisClusterStore)) {
    const ok = await redis.ready();
    if (!ok && require) {
      await store.close();
      const where = typeof target === 'string' ? redactStoreUrl(target) : config.kind;
      // `where` is the redacted URL: no password in the message or the details.
      throw new StoreUnavailableError({
        message: `cannot reach the store at ${where} within ${redis.connectTimeout} ms`,
        path: typeof target === 'string' ? 'url' : 'config',
        expected: `a store that answers within connectTimeout (${redis.connectTimeout} ms)`,
        received: `no connection to ${where}`,
        hint: 'Start the server, fix the URL, or leave requireReachable off to start with the store unavailable (every call a counted miss).',
        limit: redis.connectTimeout,
      });
    }
  }
  return store;
}
