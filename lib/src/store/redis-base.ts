import type { EventEmitter } from 'node:events';
import { inspect } from 'node:util';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import type { ChainableCommander, Cluster, Redis } from 'ioredis';
import type { BlockHash } from '../hashing/types';
import { InvalidInputError, StoreUnavailableError } from '../runtime/errors';
import { BaseStore, deliverValues, summarizePut, type BaseStoreOptions } from './base-store';
import { CircuitBreaker, type CircuitBreakerOptions } from './circuit-breaker';
import type { BulkConnection } from './resp/bulk-connection';
import { assertHashes, assertKeyPart, assertPositiveInt, checkEntries, MiB } from './checks';
import type {
  CircuitState,
  FallbackReason,
  CallOptions,
  CallReport,
  GetOptions,
  StreamOptions,
  PutResult,
  PutStatus,
  StoreEntry,
  StoreErrorKind,
  StoreOp,
  StoreStats,
} from './types';

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

/** Largest bulk string Redis accepts by default (`proto-max-bulk-len`). */
export const REDIS_MAX_BULK_BYTES = 512 * MiB;

/** Sends one command straight through the client (no pipeline object). */
export type DirectSend = (client: RedisCommands) => Promise<unknown>;

/** The command methods shared by ioredis `Redis` and `Cluster` clients. */
export type RedisCommands = Pick<Redis, 'set' | 'getBuffer' | 'getexBuffer' | 'mgetBuffer'>;

/** One command and the input positions it answers for. */
export interface PlannedCommand {
  indices: number[];
  /** Queue the command on a pipeline. */
  add(p: ChainableCommander): void;
  /** Or send it directly (used when `NodePlan.direct`). */
  send?: DirectSend;
  /**
   * The same command as raw arguments: a plan whose commands all carry them goes over the store's
   * bulk read connection when it has one.
   */
  args?: readonly (string | Buffer)[];
  /**
   * Bytes of values the command writes: sizes its window. Unset for reads: their window uses the
   * running average of value sizes, updated as each reply arrives.
   */
  bytes?: number;
}

/**
 * The commands for one server. Small ones (lookups, deletes) go back to back as one ioredis pipeline:
 * one round trip. Commands that move values (`direct`: reads and writes of blocks) go in a sliding
 * window of `windowBytes` — over the bulk read connection when the store has one, else one by one
 * through ioredis (a pipeline would concatenate every value into one buffer before writing: an extra
 * copy that halves write throughput for multi-MiB blocks).
 */
export interface NodePlan {
  node: string;
  commands: PlannedCommand[];
  direct?: boolean;
  /** Bytes the plan is expected to move (extends its deadline). */
  bytes?: number;
  /** Sees each reply as it arrives (must not throw). */
  onReply?: (cmd: PlannedCommand, reply: unknown) => void;
  /** Values over the bulk connection are lent from its pool and given back right after `onReply`. */
  lend?: boolean;
}

/** Input positions grouped by server, then by hash slot (multi-key commands stay within a slot). */
export interface NodeGroup {
  node: string;
  slots: number[][];
}

interface Outcome {
  cmd: PlannedCommand;
  err: Error | null;
  reply: unknown;
}

/** An operation that ran past `commandTimeout`. */
export class StoreTimeoutError extends StoreUnavailableError {
  constructor(ms: number) {
    super(`store operation timed out after ${ms} ms`);
  }
}

function isReplyError(err: unknown): boolean {
  return err instanceof Error && err.name === 'ReplyError';
}

function errorKind(err: unknown): StoreErrorKind {
  if (err instanceof StoreTimeoutError) return 'timeout';
  if (err instanceof Error && /timed out|timeout/i.test(err.message)) return 'timeout';
  if (isReplyError(err)) return 'server';
  return 'connection';
}

function reasonOf(err: unknown): FallbackReason {
  return errorKind(err) === 'timeout' ? 'timeout' : 'error';
}

export function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new StoreTimeoutError(ms)), ms);
    timer.unref?.();
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

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

/**
 * Run `send` over `items` with at most `windowBytes` of them in flight (always at least one), in
 * order of start; resolves to their results in input order, or rejects with the first failure
 * (nothing new is started after it).
 */
export function sendWindowed<T, R>(items: readonly T[], bytesOf: (item: T) => number, windowBytes: number, send: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  if (items.length === 0) return Promise.resolve(results);
  return new Promise<R[]>((resolve, reject) => {
    let next = 0;
    let done = 0;
    let inFlight = 0;
    let failed = false;
    const pump = (): void => {
      while (!failed && next < items.length) {
        const bytes = Math.max(0, bytesOf(items[next]!));
        if (inFlight > 0 && inFlight + bytes > windowBytes) return;
        const i = next++;
        inFlight += bytes;
        send(items[i]!, i).then(
          (r) => {
            results[i] = r;
            inFlight -= bytes;
            if (++done === items.length) resolve(results);
            else pump();
          },
          (err: unknown) => {
            failed = true;
            reject(err);
          },
        );
      }
    };
    pump();
  });
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * What {@link RedisStore} and {@link RedisClusterStore} share: key layout, batching into one pipeline
 * per server, timeouts, circuit breaker and fallbacks. Subclasses say how keys map to servers.
 *
 * Commands per operation (n blocks), all sent back to back — one round trip per server, servers
 * in parallel:
 * - `has`: n × `EXISTS` in one pipeline (EXISTS does not touch LRU/TTL);
 * - `get`: ⌈n / mgetBatchSize⌉ × `MGET` per hash slot in one pipeline, or n × `GETEX … EX ttl` when
 *   a TTL is refreshed on hit;
 * - `put`: n × `SET key value [EX ttl] NX`, written one by one without waiting (an ioredis pipeline
 *   would first concatenate every value into one buffer);
 * - `delete`: `DEL` per hash slot.
 */
export abstract class RedisStoreBase extends BaseStore {
  readonly maxValueBytes: number;
  readonly prefix: string;
  readonly namespace: string;
  readonly ttlSeconds: number;
  readonly refreshTtlOnHit: boolean;
  readonly mgetBatchSize: number;
  readonly commandTimeout: number;
  readonly minTransferBytesPerSec: number;
  readonly connectTimeout: number;
  /** Bytes of values in flight per server (see `RedisCommonOptions.windowBytes`). */
  readonly windowBytes: number;
  readonly breaker: CircuitBreaker;
  /** `<prefix>:<namespace>:` */
  readonly keyPrefix: string;
  /** Last connection error message seen (for health reports). */
  protected lastError: string | undefined;
  /** Moving average of value sizes seen (puts and hits), to size read deadlines. */
  private avgValueBytes = 0;
  private detachers: (() => void)[] = [];

  /**
   * What `console.log(store)` and a notebook cell ending in `store` show: a summary without the
   * client, whose options hold the password.
   */
  [inspect.custom](): string {
    return `${this.constructor.name} { name: ${JSON.stringify(this.name)}, tier: ${JSON.stringify(this.tier)}, keys: ${JSON.stringify(`${this.keyPrefix}<blockhash>`)}, circuit: ${this.breaker.state} }`;
  }

  /** JSON of a store carries no credentials either. */
  toJSON(): Record<string, unknown> {
    return { kind: this.constructor.name, name: this.name, tier: this.tier, keyPrefix: this.keyPrefix, ttlSeconds: this.ttlSeconds };
  }

  protected constructor(tier: string, options: RedisCommonOptions, resolved: ResolvedRedisCommon) {
    super(tier, options);
    this.prefix = resolved.prefix;
    this.namespace = resolved.namespace;
    this.ttlSeconds = resolved.ttlSeconds;
    this.refreshTtlOnHit = resolved.refreshTtlOnHit;
    this.maxValueBytes = resolved.maxValueBytes;
    this.mgetBatchSize = resolved.mgetBatchSize;
    this.commandTimeout = resolved.commandTimeout;
    this.minTransferBytesPerSec = resolved.minTransferBytesPerSec;
    this.connectTimeout = resolved.connectTimeout;
    this.windowBytes = resolved.windowBytes;
    this.keyPrefix = `${this.prefix}:${this.namespace}:`;
    this.breaker = new CircuitBreaker(options.circuitBreaker);
    this.breaker.onChange = (state) => this.metrics.circuit(state);
    this.metrics.circuit('closed');
  }

  /** The Redis key of a block: `<prefix>:<namespace>:<blockhash>`. */
  keyFor(hash: BlockHash): string {
    return this.keyPrefix + hash;
  }

  /** Circuit breaker state. */
  get circuit(): CircuitState {
    return this.breaker.state;
  }

  /** Whether the client is connected and ready for commands. */
  protected abstract connected(): boolean;
  /** Group input positions by server and hash slot. */
  protected abstract route(keys: readonly string[]): NodeGroup[];
  /** A pipeline whose commands go to `node`. */
  /** The ioredis client (standalone or cluster). */
  abstract readonly client: Redis | Cluster;

  /** A pipeline; ioredis sends a cluster pipeline to the node serving its keys' slots. */
  protected pipeline(_node: string): ChainableCommander {
    return this.client.pipeline();
  }

  /** The client's event emitter (for ready/error listeners). */
  protected emitter(): EventEmitter {
    return this.client;
  }

  /** The client, for commands sent without a pipeline. */
  protected commands(): RedisCommands {
    return this.client;
  }

  /**
   * Resolves `true` once connected (or `false` after `timeoutMs` if not): the store works either way,
   * answering misses until the server is reachable.
   */
  ready(timeoutMs = this.connectTimeout): Promise<boolean> {
    if (this.connected()) return Promise.resolve(true);
    if (this.closed) return Promise.resolve(false);
    const em = this.emitter();
    return new Promise((resolve) => {
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        em.off('ready', onReady);
        resolve(ok);
      };
      const onReady = (): void => done(true);
      const timer = setTimeout(() => done(this.connected()), timeoutMs);
      em.on('ready', onReady);
    });
  }

  protected listen(): void {
    const em = this.emitter();
    const onReady = (): void => {
      this.lastError = undefined;
      this.breaker.expedite();
    };
    const onError = (err: Error): void => {
      this.lastError = err.message;
      this.countError('connect', 'connection');
    };
    em.on('ready', onReady);
    em.on('error', onError);
    em.on('node error', onError);
    this.detachers.push(() => {
      em.off('ready', onReady);
      em.off('error', onError);
      em.off('node error', onError);
    });
  }

  protected detach(): void {
    for (const d of this.detachers) d();
    this.detachers = [];
  }

  async has(hashes: readonly BlockHash[], options?: CallOptions): Promise<boolean[]> {
    assertHashes(hashes);
    const n = hashes.length;
    if (n === 0) return [];
    const t0 = process.hrtime.bigint();
    const out = new Array<boolean>(n).fill(false);
    const keys = hashes.map((h) => this.keyFor(h));
    const report = options?.report;
    await this.run('has', report, async () => {
      const plans = this.route(keys).map((g) => ({
        node: g.node,
        commands: g.slots.flat().map((i) => ({ indices: [i], add: (p: ChainableCommander) => void p.exists(keys[i]!) })),
      }));
      let serverErrors = 0;
      const { outcomes, partial } = await this.execute('has', plans, report);
      for (const o of outcomes) {
        if (o.err) serverErrors++;
        else if (Number(o.reply) > 0) out[o.cmd.indices[0]!] = true;
      }
      this.countReplyErrors('has', serverErrors, partial, report);
    });
    this.countLookup('has', out, Boolean);
    this.observe('has', t0);
    return out;
  }

  async get(hashes: readonly BlockHash[], options?: GetOptions): Promise<(Buffer | undefined)[]> {
    return this.fetch(hashes, options, false);
  }

  /**
   * Like the base class: each value handed to `onValue` as it arrives — but over the bulk read
   * connection its bytes are lent from a pool and reused once `onValue` returns, so a long prefix
   * allocates no memory per block. With a validate hook, the values go through `get`.
   */
  override async stream(hashes: readonly BlockHash[], onValue: (index: number, value: Buffer) => void, options?: StreamOptions): Promise<boolean[]> {
    if (this.validatorFor(options)) return super.stream(hashes, onValue, options);
    const values = await this.fetch(hashes, { ...options, onValue, validate: null }, true);
    return values.map((v) => v !== undefined);
  }

  /** `get`, lending the bulk connection's pooled buffers when `lend` (their bytes are gone once handed out). */
  private async fetch(hashes: readonly BlockHash[], options: GetOptions | undefined, lend: boolean): Promise<(Buffer | undefined)[]> {
    assertHashes(hashes);
    const n = hashes.length;
    if (n === 0) return [];
    const t0 = process.hrtime.bigint();
    let values = new Array<Buffer | undefined>(n).fill(undefined);
    const keys = hashes.map((h) => this.keyFor(h));
    const refresh = this.ttlSeconds > 0 && this.refreshTtlOnHit;
    const ttl = this.ttlSeconds;
    const onValue = options?.onValue;
    const delivered: boolean[] = [];
    let thrown = 0;
    let finished = false;
    // Streams values to `onValue` as replies arrive (bulk reads); the rest are handed out at the end.
    // Replies that arrive after the call gave up on them (deadline) are not handed out.
    const onReply = onValue
      ? (cmd: PlannedCommand, reply: unknown): void => {
          if (finished) return;
          const replies = cmd.indices.length === 1 && !Array.isArray(reply) ? [reply] : (reply as unknown[]);
          cmd.indices.forEach((i, j) => {
            const v = replies[j];
            if (!Buffer.isBuffer(v)) return;
            delivered[i] = true;
            try {
              onValue(i, v);
            } catch {
              thrown++;
            }
          });
        }
      : undefined;
    const report = options?.report;
    await this.run('get', report, async () => {
      // Values move in a window (see windowBytes), each handed out as it arrives: a caller decodes
      // block i while block i+1 is on the wire.
      const perCommand = Math.max(1, Math.min(this.mgetBatchSize, Math.floor(this.windowBytes / (4 * this.expectedValueBytes()))));
      const plans: NodePlan[] = this.route(keys).map((g) => {
        const commands: PlannedCommand[] = [];
        if (refresh) {
          for (const i of g.slots.flat()) {
            const k = keys[i]!;
            commands.push({ indices: [i], add: (p) => void p.getexBuffer(k, 'EX', ttl), send: (c) => c.getexBuffer(k, 'EX', ttl), args: ['GETEX', k, 'EX', String(ttl)] });
          }
        } else if (this.bulkConnection(g.node)) {
          for (const i of g.slots.flat()) {
            const k = keys[i]!;
            commands.push({ indices: [i], add: (p) => void p.getBuffer(k), send: (c) => c.getBuffer(k), args: ['GET', k] });
          }
        } else {
          // Through ioredis: MGETs of a few keys (small values) or single keys (blocks of MiBs).
          for (const slot of g.slots) {
            for (const part of chunk(slot, perCommand)) {
              const ks = part.map((i) => keys[i]!);
              commands.push({ indices: part, add: (p) => void p.mgetBuffer(ks), send: (c) => c.mgetBuffer(ks) });
            }
          }
        }
        return { node: g.node, commands, direct: true, lend, bytes: this.avgValueBytes * g.slots.reduce((n, sl) => n + sl.length, 0), onReply };
      });
      let serverErrors = 0;
      const { outcomes, partial } = await this.execute('get', plans, report);
      for (const o of outcomes) {
        if (o.err) {
          serverErrors++;
          continue;
        }
        if (o.cmd.indices.length === 1 && !Array.isArray(o.reply)) {
          if (Buffer.isBuffer(o.reply)) values[o.cmd.indices[0]!] = o.reply;
        } else {
          const arr = o.reply as (Buffer | null)[];
          o.cmd.indices.forEach((i, j) => {
            const v = arr[j];
            if (Buffer.isBuffer(v)) values[i] = v;
          });
        }
      }
      this.countReplyErrors('get', serverErrors, partial, report);
    });
    finished = true;
    values = await this.validated(hashes, values, options, async (corrupt) => {
      await this.removeKeys('delete', corrupt.map((h) => this.keyFor(h)), report);
    });
    thrown += deliverValues(values, onValue, delivered);
    this.countError('get', 'validate', thrown);
    this.countLookup('get', values, (v) => v !== undefined);
    this.countRead(values);
    this.observe('get', t0);
    return values;
  }

  async put(entries: readonly StoreEntry[], options?: CallOptions): Promise<PutResult> {
    const values = checkEntries(entries, this.maxValueBytes, this.name);
    const n = entries.length;
    if (n === 0) return summarizePut([], []);
    const t0 = process.hrtime.bigint();
    const statuses = new Array<PutStatus>(n).fill('failed');
    const keys = entries.map((e) => this.keyFor(e.hash));
    const ttl = this.ttlSeconds;
    const report = options?.report;
    await this.run('put', report, async () => {
      const plans: NodePlan[] = this.route(keys).map((g) => ({
        node: g.node,
        direct: true,
        bytes: g.slots.reduce((n, sl) => sl.reduce((m, i) => m + values[i]!.length, n), 0),
        commands: g.slots.flat().map((i) => ({
          indices: [i],
          add: (p: ChainableCommander) =>
            void (ttl > 0 ? p.set(keys[i]!, values[i]!, 'EX', ttl, 'NX') : p.set(keys[i]!, values[i]!, 'NX')),
          send: (c: RedisCommands) => (ttl > 0 ? c.set(keys[i]!, values[i]!, 'EX', ttl, 'NX') : c.set(keys[i]!, values[i]!, 'NX')),
          bytes: values[i]!.length,
        })),
      }));
      let serverErrors = 0;
      const { outcomes, partial } = await this.execute('put', plans, report);
      for (const o of outcomes) {
        const i = o.cmd.indices[0]!;
        if (o.err) serverErrors++;
        else statuses[i] = o.reply === null || o.reply === undefined ? 'exists' : 'stored';
      }
      this.countReplyErrors('put', serverErrors, partial, report);
    });
    this.noteValueSizes(values);
    const result = summarizePut(statuses, values);
    this.countPut(result);
    this.observe('put', t0);
    return result;
  }

  async delete(hashes: readonly BlockHash[], options?: CallOptions): Promise<number> {
    assertHashes(hashes);
    if (hashes.length === 0) return 0;
    const t0 = process.hrtime.bigint();
    const n = await this.removeKeys('delete', hashes.map((h) => this.keyFor(h)), options?.report);
    this.countDeleted(n);
    this.observe('delete', t0);
    return n;
  }

  /** `DEL` per hash slot; resolves to the number of keys removed (0 when the store is unavailable). */
  protected async removeKeys(op: StoreOp, keys: readonly string[], report?: CallReport): Promise<number> {
    let removed = 0;
    await this.run(op, report, async () => {
      const plans = this.route(keys).map((g) => ({
        node: g.node,
        commands: g.slots.flatMap((slot) =>
          chunk(slot, this.mgetBatchSize).map((part) => ({ indices: part, add: (p: ChainableCommander) => void p.del(...part.map((i) => keys[i]!)) })),
        ),
      }));
      let serverErrors = 0;
      const { outcomes, partial } = await this.execute(op, plans, report);
      for (const o of outcomes) {
        if (o.err) serverErrors++;
        else removed += Number(o.reply) || 0;
      }
      this.countReplyErrors(op, serverErrors, partial, report);
    });
    return removed;
  }

  /**
   * Runs an operation through the circuit breaker. Failures become fallbacks: counted, never thrown.
   * Resolves `true` if the body ran to completion.
   */
  protected async run(op: StoreOp, report: CallReport | undefined, body: () => Promise<void>): Promise<boolean> {
    if (this.closed) {
      this.countFallback(op, 'closed', report);
      return false;
    }
    if (!this.breaker.allow()) {
      this.countFallback(op, 'circuit_open', report);
      return false;
    }
    try {
      await body();
      this.breaker.success();
      return true;
    } catch (err) {
      this.breaker.failure();
      this.lastError = (err as Error)?.message ?? String(err);
      this.countError(op, errorKind(err));
      this.countFallback(op, reasonOf(err), report);
      return false;
    }
  }

  /**
   * Sends each plan as one pipeline (plans for different servers in parallel, each under
   * `commandTimeout`). Reply errors (OOM, WRONGTYPE…) come back per command. If every plan failed
   * the first error is thrown; if only some did, their commands are dropped (their blocks become
   * misses / failed writes) and a fallback is counted.
   */
  protected async execute(op: StoreOp, plans: NodePlan[], report: CallReport | undefined): Promise<{ outcomes: Outcome[]; partial: boolean }> {
    if (!this.connected()) throw new StoreUnavailableError(`not connected${this.lastError ? `: ${this.lastError}` : ''}`);
    this.counters.roundTrips += plans.length;
    for (const p of plans) this.counters.commands += p.commands.length;
    const settled = await Promise.allSettled(plans.map((plan) => withDeadline(this.runPlan(plan), this.deadlineFor(plan.bytes ?? 0))));
    const outcomes: Outcome[] = [];
    let firstError: unknown;
    let failedPlans = 0;
    for (const s of settled) {
      if (s.status === 'fulfilled') outcomes.push(...s.value);
      else {
        failedPlans++;
        firstError ??= s.reason;
        if (failedPlans < plans.length) this.countError(op, errorKind(s.reason));
      }
    }
    if (failedPlans === plans.length && plans.length > 0) {
      throw firstError;
    }
    if (failedPlans > 0) this.countFallback(op, reasonOf(firstError), report);
    return { outcomes, partial: failedPlans > 0 };
  }

  /**
   * Count per-command reply errors (OOM, MOVED to a dead node, CLUSTERDOWN…): the blocks concerned
   * were answered with a miss / not written, so this is a fallback too (once per operation).
   */
  protected countReplyErrors(op: StoreOp, errors: number, partial: boolean, report: CallReport | undefined): void {
    if (errors <= 0) return;
    this.countError(op, 'server', errors);
    if (!partial) this.countFallback(op, 'error', report);
  }

  /** Milliseconds allowed for an operation that moves `bytes`. */
  deadlineFor(bytes: number): number {
    return this.commandTimeout + Math.ceil((bytes * 1000) / this.minTransferBytesPerSec);
  }

  /** Feed the value-size average that sizes read deadlines. */
  protected noteValueSizes(values: readonly (Buffer | undefined)[]): void {
    let n = 0;
    let sum = 0;
    for (const v of values) {
      if (v) {
        n++;
        sum += v.length;
      }
    }
    if (n === 0) return;
    const mean = sum / n;
    this.avgValueBytes = this.avgValueBytes === 0 ? mean : 0.7 * this.avgValueBytes + 0.3 * mean;
  }

  /**
   * The lean connection that reads large values from `node` ({@link BulkConnection}), if this store
   * uses one; by default none, and every command goes through ioredis.
   */
  protected bulkConnection(_node: string): BulkConnection | undefined {
    return undefined;
  }

  /**
   * Bytes a value read is expected to have: the running average of the values seen; before any, a
   * quarter of the window (so a first read starts with four values in flight, then adapts).
   */
  private expectedValueBytes(): number {
    return this.avgValueBytes > 0 ? this.avgValueBytes : this.windowBytes / 4;
  }

  /** Feed one value's size into the running average (each reply, as it arrives). */
  private noteValueSize(bytes: number): void {
    this.avgValueBytes = this.avgValueBytes === 0 ? bytes : 0.8 * this.avgValueBytes + 0.2 * bytes;
  }

  private async runPlan(plan: NodePlan): Promise<Outcome[]> {
    if (plan.direct && plan.commands.every((c) => c.send)) {
      // Commands that move values: a sliding window of windowBytes, over the bulk read connection
      // when the store has one and every command has its raw form, else through ioredis.
      const bulk = this.bulkConnection(plan.node);
      const viaBulk = bulk !== undefined && plan.commands.every((c) => c.args);
      const client = this.commands();
      const onReply = plan.onReply;
      const bytesOf = (c: PlannedCommand): number => c.bytes ?? c.indices.length * this.expectedValueBytes();
      return sendWindowed(plan.commands, bytesOf, this.windowBytes, async (cmd): Promise<Outcome> => {
        let outcome: Outcome;
        if (viaBulk) {
          const [reply] = await bulk.send([cmd.args!], undefined, { lend: plan.lend === true });
          outcome = reply instanceof Error ? { cmd, err: reply, reply: null } : { cmd, err: null, reply };
          if (plan.lend && Buffer.isBuffer(reply)) {
            if (cmd.bytes === undefined) this.noteValueSize(reply.length);
            onReply?.(cmd, reply);
            bulk.release(reply); // its bytes are reused from now on: only its length remains meaningful
            return outcome;
          }
        } else {
          outcome = await cmd.send!(client).then(
            (reply): Outcome => ({ cmd, err: null, reply }),
            (err: unknown): Outcome => {
              if (!isReplyError(err)) throw err;
              return { cmd, err: err as Error, reply: null };
            },
          );
        }
        if (!outcome.err && cmd.bytes === undefined) {
          for (const v of Array.isArray(outcome.reply) ? outcome.reply : [outcome.reply]) if (Buffer.isBuffer(v)) this.noteValueSize(v.length);
        }
        if (!outcome.err) onReply?.(cmd, outcome.reply);
        return outcome;
      });
    }
    const p = this.pipeline(plan.node);
    for (const c of plan.commands) c.add(p);
    const res = await p.exec();
    if (!res) throw new StoreUnavailableError('pipeline was discarded');
    return res.map(([err, reply], i) => {
      if (err && !isReplyError(err)) throw err;
      return { cmd: plan.commands[i]!, err: err ?? null, reply };
    });
  }

  protected override extraStats(): Partial<StoreStats> {
    return { circuit: this.breaker.state };
  }
}
