import type { BlockHash } from '../hashing/types';
import { CorruptEntryError, InvalidInputError } from '../runtime/errors';
import { StoreMetrics, type StoreMetricsOptions } from './metrics';
import type {
  CallOptions,
  CallReport,
  FallbackReason,
  GetOptions,
  KVStore,
  RejectReason,
  PutResult,
  PutStatus,
  StoreEntry,
  StoreErrorKind,
  StoreHealth,
  StoreOp,
  StoreStats,
  ValidateHook,
  StreamOptions,
} from './types';
import { rejectReasonOf } from './types';

/** Options every store accepts. */
export interface BaseStoreOptions extends StoreMetricsOptions {
  /** Instance name: the `store` label of the metrics. @default the tier (`memory`, `redis`, …) */
  name?: string;
  /** Checks each value read (e.g. the serde checksum); see {@link ValidateHook}. @default undefined */
  validate?: ValidateHook;
}

export type MutableStats = Omit<StoreStats, 'name' | 'tier'>;

export function emptyStats(): MutableStats {
  return {
    lookups: 0, hits: 0, misses: 0, hitsByTier: {}, puts: 0, stored: 0, existing: 0, failedWrites: 0, deleted: 0,
    bytesRead: 0, bytesWritten: 0, errors: 0, fallbacks: 0, evictions: 0, corrupt: 0, roundTrips: 0, commands: 0, tokens: {},
    rejected: { corrupt: 0, unsupported: 0, misplaced: 0, unauthenticated: 0 },
  };
}

export function summarizePut(statuses: PutStatus[], values: readonly Buffer[]): PutResult {
  let stored = 0, existing = 0, failed = 0, bytesWritten = 0;
  statuses.forEach((s, i) => {
    if (s === 'stored') {
      stored++;
      bytesWritten += values[i]!.length;
    } else if (s === 'exists') existing++;
    else failed++;
  });
  return { statuses, stored, existing, failed, bytesWritten };
}

/** Outcome of running the validate hook over the values of a get. */
export interface ValidationOutcome {
  values: (Buffer | undefined)[];
  /** Hashes reported corrupt: to be deleted. */
  corrupt: BlockHash[];
  /** Why each of them was refused. */
  reasons: RejectReason[];
  /** Hook failures that were not corruption reports. */
  hookErrors: number;
}

/**
 * Hand every value not yet handed out to `onValue` (see `GetOptions.onValue`); `delivered` marks
 * positions a store already streamed. @returns how many calls threw (counted as `validate` errors).
 */
export function deliverValues(values: readonly (Buffer | undefined)[], onValue: GetOptions['onValue'], delivered?: readonly boolean[]): number {
  if (!onValue) return 0;
  let thrown = 0;
  values.forEach((v, i) => {
    if (v === undefined || delivered?.[i]) return;
    try {
      onValue(i, v);
    } catch {
      thrown++;
    }
  });
  return thrown;
}

async function runValidate(
  hook: ValidateHook | undefined,
  hashes: readonly BlockHash[],
  values: (Buffer | undefined)[],
): Promise<ValidationOutcome> {
  if (!hook) return { values, corrupt: [], reasons: [], hookErrors: 0 };
  const corrupt: BlockHash[] = [];
  const reasons: RejectReason[] = [];
  let hookErrors = 0;
  const out = values.slice();
  await Promise.all(
    values.map(async (v, i) => {
      if (v === undefined) return;
      const hash = hashes[i]!;
      try {
        if ((await hook(v, hash)) === false) {
          corrupt.push(hash);
          reasons.push('corrupt');
          out[i] = undefined;
        }
      } catch (err) {
        out[i] = undefined;
        // An entry this build cannot read (unknown version, dtype, codec), another block's entry or
        // an unauthenticated one can never become usable under the same key: delete it.
        const reason = err instanceof CorruptEntryError ? 'corrupt' : rejectReasonOf(err);
        if (reason) {
          corrupt.push(hash);
          reasons.push(reason);
        } else hookErrors++;
      }
    }),
  );
  return { values: out, corrupt: [...new Set(corrupt)], reasons, hookErrors };
}

/**
 * Book-keeping shared by the stores: in-process counters (`stats()`), Prometheus metrics, token
 * counters. Subclasses implement the operations and call the `count*` helpers.
 */
export abstract class BaseStore implements KVStore {
  readonly name: string;
  abstract readonly tier: string;
  abstract readonly maxValueBytes: number;
  readonly metrics: StoreMetrics;
  protected readonly counters: MutableStats = emptyStats();
  protected readonly validateHook: ValidateHook | undefined;
  protected closed = false;

  protected constructor(tier: string, options: BaseStoreOptions) {
    this.name = options.name ?? tier;
    this.metrics = new StoreMetrics(this.name, tier, options);
    this.validateHook = options.validate;
  }

  abstract has(hashes: readonly BlockHash[], options?: CallOptions): Promise<boolean[]>;
  abstract get(hashes: readonly BlockHash[], options?: GetOptions): Promise<(Buffer | undefined)[]>;
  abstract put(entries: readonly StoreEntry[], options?: CallOptions): Promise<PutResult>;
  abstract delete(hashes: readonly BlockHash[], options?: CallOptions): Promise<number>;
  abstract health(): Promise<StoreHealth>;
  abstract close(): Promise<void>;

  stats(): StoreStats {
    const c = this.counters;
    return {
      name: this.name,
      tier: this.tier,
      ...c,
      hitsByTier: { ...c.hitsByTier },
      rejected: { ...c.rejected },
      tokens: Object.fromEntries(Object.entries(c.tokens).map(([k, v]) => [k, { ...v }])),
      ...this.extraStats(),
    };
  }

  /** Fields a subclass adds to `stats()`. */
  protected extraStats(): Partial<StoreStats> {
    return {};
  }

  recordTokens(tier: string, hit: number, miss: number): void {
    if (typeof tier !== 'string' || tier === '') throw InvalidInputError.at('tier', 'a non-empty tier name', tier);
    for (const [what, n] of [['hit', hit], ['miss', miss]] as const) {
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw InvalidInputError.at(what, 'a token count: an integer ≥ 0', n);
    }
    const t = (this.counters.tokens[tier] ??= { hit: 0, miss: 0 });
    t.hit += hit;
    t.miss += miss;
    this.metrics.tokens(tier, hit, miss);
  }

  /** Through `get`: values are handed out as the store has them (see KVStore.stream). */
  async stream(hashes: readonly BlockHash[], onValue: (index: number, value: Buffer) => void, options?: StreamOptions): Promise<boolean[]> {
    const values = await this.get(hashes, { ...options, onValue });
    return values.map((v) => v !== undefined);
  }

  recordRejected(reason: RejectReason, n = 1): void {
    if (!['corrupt', 'unsupported', 'misplaced', 'unauthenticated'].includes(reason)) {
      throw InvalidInputError.at('reason', "one of 'corrupt', 'unsupported', 'misplaced', 'unauthenticated'", reason);
    }
    if (!Number.isInteger(n) || n < 0) throw InvalidInputError.at('n', 'an integer ≥ 0', n);
    if (n === 0) return;
    this.counters.corrupt += n;
    this.counters.rejected[reason] += n;
    this.metrics.corrupt(n);
    this.metrics.rejected(reason, n);
  }

  /**
   * Warnings about refused entries that point at a bug or an attack rather than bad luck: a valid
   * entry under another block's key, or entries without a valid MAC, seen more than once.
   */
  protected rejectionWarnings(): string[] {
    const r = this.counters.rejected;
    const out: string[] = [];
    if (r.misplaced >= 2) out.push(`${r.misplaced} entries held another block's KV under their key (refused and deleted): a namespace mix-up, a bad restore, or writes by someone else`);
    if (r.unauthenticated >= 2) out.push(`${r.unauthenticated} entries had no valid MAC (refused and deleted): something without the cache secret writes to this store`);
    return out;
  }

  metricsText(): Promise<string> {
    return this.metrics.text();
  }

  protected validatorFor(options: GetOptions | undefined): ValidateHook | undefined {
    if (options && 'validate' in options) return options.validate ?? undefined;
    return this.validateHook;
  }

  /**
   * The values of a `get` after its validate hook (if any): rejected entries become misses; those
   * reported corrupt are counted and handed to `removeCorrupt`; other hook failures count as errors.
   */
  protected async validated(
    hashes: readonly BlockHash[],
    values: (Buffer | undefined)[],
    options: GetOptions | undefined,
    removeCorrupt: (corrupt: BlockHash[]) => void | Promise<void>,
  ): Promise<(Buffer | undefined)[]> {
    const hook = this.validatorFor(options);
    if (!hook) return values;
    const outcome = await runValidate(hook, hashes, values);
    this.countError('get', 'validate', outcome.hookErrors);
    if (outcome.corrupt.length) {
      for (const reason of outcome.reasons) this.recordRejected(reason);
      await removeCorrupt(outcome.corrupt);
    }
    return outcome.values;
  }

  protected countLookup(op: 'has' | 'get', found: readonly unknown[], isHit: (v: unknown) => boolean, tier = this.tier): number {
    let hits = 0;
    for (const v of found) if (isHit(v)) hits++;
    const misses = found.length - hits;
    const c = this.counters;
    c.lookups++;
    c.hits += hits;
    c.misses += misses;
    if (hits) c.hitsByTier[tier] = (c.hitsByTier[tier] ?? 0) + hits;
    this.metrics.lookup(op, hits, misses);
    return hits;
  }

  protected countRead(values: readonly (Buffer | undefined)[]): void {
    let bytes = 0;
    for (const v of values) if (v) bytes += v.length;
    this.counters.bytesRead += bytes;
    this.metrics.read(bytes);
  }

  protected countPut(result: PutResult): void {
    const c = this.counters;
    c.puts++;
    c.stored += result.stored;
    c.existing += result.existing;
    c.failedWrites += result.failed;
    c.bytesWritten += result.bytesWritten;
    this.metrics.wrote(result.stored, result.existing, result.failed, result.bytesWritten);
  }

  protected countDeleted(n: number): void {
    this.counters.deleted += n;
    this.metrics.deleted(n);
  }

  protected countError(op: StoreOp, kind: StoreErrorKind, n = 1): void {
    if (n <= 0) return;
    this.counters.errors += n;
    this.metrics.error(op, kind, n);
  }

  /** Count a fallback in the store's totals and, when the caller asked for one, in its call report. */
  protected countFallback(op: StoreOp, reason: FallbackReason, report?: CallReport): void {
    this.counters.fallbacks++;
    this.metrics.fallback(op, reason);
    if (report) {
      report.fallbacks++;
      report.reasons.push(reason);
    }
  }

  protected countEvicted(n: number): void {
    this.counters.evictions += n;
    this.metrics.evicted(n);
  }

  protected observe(op: StoreOp, startedNs: bigint): void {
    this.metrics.observe(op, Number(process.hrtime.bigint() - startedNs) / 1e9);
  }
}
