import type { EventEmitter } from 'node:events';
import { inspect } from 'node:util';
import type { ChainableCommander, Cluster, Redis } from 'ioredis';
import type { BlockHash } from '../hashing/types';
import { StoreUnavailableError } from '../runtime/errors';
import { BaseStore, deliverValues, summarizePut } from './base-store';
import { CircuitBreaker } from './circuit-breaker';
import type { BulkConnection } from './resp/bulk-connection';
import { assertHashes, checkEntries } from './checks';
import type {
  CircuitState,
  CallOptions,
  CallReport,
  GetOptions,
  StreamOptions,
  PutResult,
  PutStatus,
  StoreEntry,
  StoreOp,
  StoreStats,
} from './types';
import type { RedisCommonOptions, ResolvedRedisCommon } from './redis-options';
import {
  chunk,
  errorKind,
  isReplyError,
  reasonOf,
  sendWindowed,
  withDeadline,
  type NodeGroup,
  type NodePlan,
  type Outcome,
  type PlannedCommand,
  type RedisCommands,
} from './redis-plan';

// The shared options and the plan types live in their own modules; importers of this one find them here too.
export { DEFAULT_REDIS_COMMON_OPTIONS, resolveCommon, connectionName, type RedisCommonOptions, type ResolvedRedisCommon } from './redis-options';
export {
  REDIS_MAX_BULK_BYTES,
  StoreTimeoutError,
  withDeadline,
  sendWindowed,
  type DirectSend,
  type RedisCommands,
  type PlannedCommand,
  type NodePlan,
  type NodeGroup,
} from './redis-plan';

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
