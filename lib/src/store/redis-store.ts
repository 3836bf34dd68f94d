import { Redis, type RedisOptions } from 'ioredis';
import { ConfigError, StoreUnavailableError } from '../runtime/errors';
import { assertPositiveInt } from './checks';
import { memoryWarnings, nodeHealthFromInfo, parseInfo } from './health';
import {
  DEFAULT_REDIS_COMMON_OPTIONS,
  RedisStoreBase,
  connectionName,
  resolveCommon,
  withDeadline,
  type NodeGroup,
  type RedisCommonOptions,
} from './redis-base';
import type { RedisNodeHealth, StoreHealth } from './types';
import { parseStoreUrl, type ParsedStoreUrl } from './url';
import { BulkConnection } from './resp/bulk-connection';

/** Options of a {@link RedisStore}: where the server is, plus every option Redis stores share. */
export interface RedisStoreOptions extends RedisCommonOptions {
  /** Server host. @default '127.0.0.1' */
  host?: string;
  /** Server port. @default 6379 */
  port?: number;
  /** Database number. @default 0 */
  db?: number;
  /**
   * Use this ioredis client instead of creating one. The store does not close it; create it with
   * `enableOfflineQueue: false` to keep the store's fault tolerance (calls fail fast while disconnected).
   */
  client?: Redis;
  /** Extra ioredis options, applied last (escape hatch). @default undefined */
  redisOptions?: RedisOptions;
  /**
   * Read values over a second, lean connection ({@link BulkConnection}) instead of through ioredis:
   * multi-MiB KV blocks arrive markedly faster (`npm run bench:store`). Only for a client the store
   * creates itself, without TLS or a Unix socket; otherwise reads use ioredis. Lookups (`EXISTS`),
   * writes and deletes always use ioredis.
   * @default true
   */
  bulkReads?: boolean;
}

/** The defaults of {@link RedisStoreOptions}. */
export const DEFAULT_REDIS_STORE_OPTIONS = {
  ...DEFAULT_REDIS_COMMON_OPTIONS,
  host: '127.0.0.1',
  port: 6379,
  db: 0,
  bulkReads: true,
} as const satisfies RedisStoreOptions;

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Options found in a URL, for fields the caller did not set explicitly. */
export function optionsFromUrl(parsed: ParsedStoreUrl): RedisCommonOptions & { host?: string; port?: number; db?: number } {
  const first = parsed.nodes[0];
  return definedOnly({
    host: first?.host,
    port: first?.port,
    db: parsed.db,
    username: parsed.username,
    password: parsed.password,
    tls: parsed.tls ? true : undefined,
    namespace: parsed.namespace,
    prefix: parsed.prefix,
    name: parsed.name,
    ttlSeconds: parsed.ttlSeconds,
    maxValueBytes: parsed.maxValueBytes,
    commandTimeout: parsed.commandTimeout,
    connectTimeout: parsed.connectTimeout,
  });
}

/**
 * A KV block store on one Redis server (ioredis, Buffers only).
 *
 * - Key layout: `<prefix>:<namespace>:<blockhash>`, one key per block holding all of its layers, so an
 *   eviction removes a whole block or nothing. Values above `maxValueBytes` (8 MiB) are rejected with
 *   `ValueTooLargeError`, never split.
 * - `put` is `SET … [EX ttl] NX`: concurrent writers of one block are harmless.
 * - `has` of n blocks is one round trip (a pipeline of n `EXISTS`), `get` one round trip of n `GET`s
 *   over the bulk read connection (`MGET`s through ioredis with `bulkReads: false`), or of
 *   `GETEX … EX ttl` that also refreshes the TTL of hits.
 * - Every operation has a deadline; failures, timeouts and an open circuit breaker give misses /
 *   no-op writes and count a fallback — nothing is thrown to the caller; the ioredis client
 *   reconnects by itself and the breaker lets traffic through again.
 */
export class RedisStore extends RedisStoreBase {
  readonly tier: string = 'redis';
  readonly client: Redis;
  readonly host: string;
  readonly port: number;
  readonly db: number;
  private readonly ownsClient: boolean;
  private readonly bulk: BulkConnection | undefined;

  constructor(options: RedisStoreOptions = {}) {
    let o = options;
    if (options.url !== undefined) {
      const parsed = parseStoreUrl(options.url);
      if (parsed.kind !== 'redis') {
        throw new ConfigError(`RedisStore needs a redis:// or rediss:// URL of one server, got "${parsed.redacted}" (use RedisClusterStore or createStore)`);
      }
      o = { ...optionsFromUrl(parsed), ...definedOnly(options) };
    }
    const resolved = resolveCommon(o);
    super('redis', o, resolved);
    this.host = o.client?.options.host ?? o.host ?? DEFAULT_REDIS_STORE_OPTIONS.host;
    this.port = o.client?.options.port ?? o.port ?? DEFAULT_REDIS_STORE_OPTIONS.port;
    this.db = o.client?.options.db ?? o.db ?? DEFAULT_REDIS_STORE_OPTIONS.db;
    assertPositiveInt(this.db, 'db', { allowZero: true });
    this.ownsClient = !o.client;
    this.client =
      o.client ??
      new Redis({
        host: this.host,
        port: this.port,
        db: this.db,
        username: o.username,
        password: o.password,
        ...(o.tls ? { tls: o.tls === true ? {} : o.tls } : {}),
        connectTimeout: resolved.connectTimeout,
        maxRetriesPerRequest: resolved.maxRetriesPerRequest,
        enableOfflineQueue: false,
        autoResendUnfulfilledCommands: false,
        retryStrategy: (times) => Math.min(100 * times, resolved.maxReconnectDelayMs),
        connectionName: connectionName(this.name),
        ...o.redisOptions,
      });
    const plainTcp = !o.tls && !o.redisOptions?.tls && !o.redisOptions?.path;
    if (this.ownsClient && plainTcp && (o.bulkReads ?? DEFAULT_REDIS_STORE_OPTIONS.bulkReads)) {
      this.bulk = new BulkConnection({
        host: this.host,
        port: this.port,
        db: this.db,
        username: o.username,
        password: o.password,
        connectionName: `${connectionName(this.name)}:bulk`,
        connectTimeout: resolved.connectTimeout,
      });
    }
    this.listen();
  }

  /** Whether reads go over the lean bulk connection (see `bulkReads`). */
  get bulkReads(): boolean {
    return this.bulk !== undefined;
  }

  protected override bulkConnection(): BulkConnection | undefined {
    return this.bulk;
  }

  /** `host:port` of the server. */
  get address(): string {
    return `${this.host}:${this.port}`;
  }

  protected connected(): boolean {
    return this.client.status === 'ready';
  }

  protected route(keys: readonly string[]): NodeGroup[] {
    return [{ node: this.address, slots: [keys.map((_, i) => i)] }];
  }


  async health(): Promise<StoreHealth> {
    const t0 = process.hrtime.bigint();
    const warnings: string[] = [];
    const node: RedisNodeHealth = { address: this.address, reachable: false };
    let latencyMs: number | undefined;
    if (this.closed) {
      return { name: this.name, tier: this.tier, ok: false, reachable: false, circuit: this.circuit, nodes: [node], warnings, error: 'store is closed' };
    }
    try {
      if (!this.connected()) throw new StoreUnavailableError(`not connected (${this.client.status})${this.lastError ? `: ${this.lastError}` : ''}`);
      const p0 = process.hrtime.bigint();
      await withDeadline(this.client.ping(), this.commandTimeout);
      latencyMs = Number(process.hrtime.bigint() - p0) / 1e6;
      const info = parseInfo(await withDeadline(this.client.info(), this.commandTimeout));
      Object.assign(node, nodeHealthFromInfo(this.address, info, this.db));
      warnings.push(...memoryWarnings(node, this.ttlSeconds));
    } catch (err) {
      node.reachable = false;
      node.error = (err as Error).message;
      warnings.push(`${this.address}: unreachable (${node.error}) — lookups are misses and puts are skipped until it is back`);
    }
    this.breaker.healthCheck(node.reachable);
    if (this.circuit !== 'closed') warnings.push(`circuit breaker is ${this.circuit}: operations are answered with fallbacks`);
    warnings.push(...this.rejectionWarnings());
    this.observe('health', t0);
    return {
      name: this.name,
      tier: this.tier,
      ok: node.reachable && this.circuit !== 'open',
      reachable: node.reachable,
      latencyMs,
      circuit: this.circuit,
      usedMemoryBytes: node.usedMemoryBytes,
      maxMemoryBytes: node.maxMemoryBytes,
      maxmemoryPolicy: node.maxmemoryPolicy,
      nodes: [node],
      warnings,
      ...(node.error ? { error: node.error } : {}),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.detach();
    this.bulk?.close();
    if (!this.ownsClient) return;
    this.client.on('error', () => undefined); // late socket errors after close are expected
    try {
      if (this.client.status === 'ready') await withDeadline(this.client.quit(), this.commandTimeout);
    } catch {
      // fall through to a hard disconnect
    }
    this.client.disconnect();
  }
}
