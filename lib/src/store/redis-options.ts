/** The options every Redis store shares, their defaults, and their validation. */
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { InvalidInputError } from '../runtime/errors';
import type { BaseStoreOptions } from './base-store';
import type { CircuitBreakerOptions } from './circuit-breaker';
import { assertKeyPart, assertPositiveInt, MiB } from './checks';
import { REDIS_MAX_BULK_BYTES } from './redis-plan';

/** Options shared by {@link RedisStore} and {@link RedisClusterStore}. */
export interface RedisCommonOptions extends BaseStoreOptions {
  /** `redis://…`, `rediss://…` or a cluster URL; explicit options win over what the URL says. */
  url?: string;
  /** ACL user name. @default undefined (the `default` user) */
  username?: string;
  /** Password. Never appears in messages or health reports. @default undefined */
  password?: string;
  /** Connect with TLS (`true` or Node TLS options, e.g. `{ ca }`). `rediss://` URLs set it. @default false */
  tls?: boolean | TlsOptions;
  /** First part of every key: `<prefix>:<namespace>:<blockhash>`. @default 'kvlab' */
  prefix?: string;
  /**
   * Second part of every key: a short id of the model/dtype/layout/tenant the blocks belong to
   * (e.g. the hashing layer's `Namespace.id`). 1–64 characters of `[A-Za-z0-9._-]`.
   * @default 'default'
   */
  namespace?: string;
  /** Expire keys after this many seconds (`SET … EX`); 0 = never. @default 0 */
  ttlSeconds?: number;
  /** With a TTL, `get` refreshes the TTL of every hit (`GETEX … EX`, in the same round trip). @default true */
  refreshTtlOnHit?: boolean;
  /**
   * Largest value accepted by `put`; bigger values are rejected with `ValueTooLargeError` (never split:
   * one block = one key, so Redis can never evict half an entry). At most 512 MiB (`proto-max-bulk-len`).
   * @default 8388608 (8 MiB)
   */
  maxValueBytes?: number;
  /**
   * Keys per `MGET` command when reads go through ioredis (a cluster, or `bulkReads: false`); a `get`
   * sends all of its `MGET`s in one pipeline. Bounds the size of one reply (16 × 8 MiB = 128 MiB at
   * most). Reads over the bulk connection send one `GET` per block instead. @default 16
   */
  mgetBatchSize?: number;
  /**
   * Milliseconds an operation may take before it counts as failed (a miss / no-op write), per
   * server it talks to. Transfers get extra time in proportion to their bytes (see
   * `minTransferBytesPerSec`), so a lookup fails fast while a 250 MiB read is not cut short.
   * The store enforces it itself (ioredis' own per-command `commandTimeout` is left unset: it would
   * cut long pipelines; set it through `redisOptions` if you want it anyway).
   * @default 1000
   */
  commandTimeout?: number;
  /**
   * Slowest transfer rate still considered healthy, in bytes per second: an operation moving B bytes
   * gets `commandTimeout + B / minTransferBytesPerSec` ms. For reads, B is estimated from the
   * average value size seen so far.
   * @default 52428800 (50 MiB/s)
   */
  minTransferBytesPerSec?: number;
  /** Milliseconds to establish a connection. @default 2000 */
  connectTimeout?: number;
  /** ioredis `maxRetriesPerRequest`: resends of a command after a connection loss. @default 1 */
  maxRetriesPerRequest?: number;
  /** Reconnection back-off cap, in milliseconds (100 ms × attempt, up to this). @default 2000 */
  maxReconnectDelayMs?: number;
  /** Circuit breaker settings. @default DEFAULT_CIRCUIT_BREAKER_OPTIONS */
  circuitBreaker?: CircuitBreakerOptions;
  /**
   * Bytes of values in flight per server, for reads and writes alike: a long prefix moves in a
   * sliding window (at least one command at a time), each value handed out as it arrives while the
   * next ones are on the wire. With every GET of a prefix in flight, Redis would build the whole reply
   * in its output buffer (the prefix's size in extra memory, and page faults that made it 8–14× slower
   * on this project's machines); a bounded window keeps Redis' memory bounded by the window instead.
   * Read windows use the average value size seen so far (the maximum value size before any).
   * The default is chosen by `npm run bench:store`, which measures every window from 1 to 16 blocks.
   * @default 8388608 (8 MiB: four 2 MiB blocks)
   */
  windowBytes?: number;
}

/** The defaults shared by `RedisStore` and `RedisClusterStore` (timeouts, TTL, batching, circuit breaker). */
export const DEFAULT_REDIS_COMMON_OPTIONS = {
  prefix: 'kvlab',
  namespace: 'default',
  ttlSeconds: 0,
  refreshTtlOnHit: true,
  maxValueBytes: 8 * MiB,
  mgetBatchSize: 16,
  commandTimeout: 1000,
  minTransferBytesPerSec: 50 * MiB,
  connectTimeout: 2000,
  maxRetriesPerRequest: 1,
  maxReconnectDelayMs: 2000,
  windowBytes: 8 * MiB,
} as const satisfies RedisCommonOptions;


export interface ResolvedRedisCommon {
  prefix: string;
  namespace: string;
  ttlSeconds: number;
  refreshTtlOnHit: boolean;
  maxValueBytes: number;
  mgetBatchSize: number;
  commandTimeout: number;
  minTransferBytesPerSec: number;
  connectTimeout: number;
  maxRetriesPerRequest: number;
  maxReconnectDelayMs: number;
  windowBytes: number;
}

export function resolveCommon(o: RedisCommonOptions): ResolvedRedisCommon {
  const d = DEFAULT_REDIS_COMMON_OPTIONS;
  const r: ResolvedRedisCommon = {
    prefix: o.prefix ?? d.prefix,
    namespace: o.namespace ?? d.namespace,
    ttlSeconds: o.ttlSeconds ?? d.ttlSeconds,
    refreshTtlOnHit: o.refreshTtlOnHit ?? d.refreshTtlOnHit,
    maxValueBytes: o.maxValueBytes ?? d.maxValueBytes,
    mgetBatchSize: o.mgetBatchSize ?? d.mgetBatchSize,
    commandTimeout: o.commandTimeout ?? d.commandTimeout,
    minTransferBytesPerSec: o.minTransferBytesPerSec ?? d.minTransferBytesPerSec,
    connectTimeout: o.connectTimeout ?? d.connectTimeout,
    maxRetriesPerRequest: o.maxRetriesPerRequest ?? d.maxRetriesPerRequest,
    maxReconnectDelayMs: o.maxReconnectDelayMs ?? d.maxReconnectDelayMs,
    windowBytes: o.windowBytes ?? d.windowBytes,
  };
  assertKeyPart(r.prefix, 'prefix');
  assertKeyPart(r.namespace, 'namespace');
  assertPositiveInt(r.ttlSeconds, 'ttlSeconds', { allowZero: true });
  assertPositiveInt(r.maxValueBytes, 'maxValueBytes', { allowZero: true });
  if (r.maxValueBytes > REDIS_MAX_BULK_BYTES) {
    throw new InvalidInputError(`maxValueBytes must be at most ${REDIS_MAX_BULK_BYTES} (Redis' proto-max-bulk-len), got ${r.maxValueBytes}`);
  }
  assertPositiveInt(r.mgetBatchSize, 'mgetBatchSize');
  assertPositiveInt(r.commandTimeout, 'commandTimeout');
  assertPositiveInt(r.minTransferBytesPerSec, 'minTransferBytesPerSec');
  assertPositiveInt(r.connectTimeout, 'connectTimeout');
  assertPositiveInt(r.maxRetriesPerRequest, 'maxRetriesPerRequest', { allowZero: true });
  assertPositiveInt(r.maxReconnectDelayMs, 'maxReconnectDelayMs');
  assertPositiveInt(r.windowBytes, 'windowBytes');
  return r;
}

/** A connection name Redis accepts (no spaces), for `CLIENT LIST`. */
export function connectionName(name: string): string {
  return `kvlab-${name}`.replace(/[^A-Za-z0-9._:-]/g, '_').slice(0, 64);
}
