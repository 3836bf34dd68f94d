import type { BlockHash } from '../hashing/types';
import { ConfigError, describeValue } from '../runtime/errors';
import { BaseStore, deliverValues, summarizePut, type BaseStoreOptions } from './base-store';
import { assertHashes, checkEntries } from './checks';
import { MemoryStore, type MemoryStoreOptions } from './memory-store';
import { mergeExpositions } from './metrics';
import type { CallOptions, GetOptions, KVStore, PutResult, PutStatus, StoreEntry, StoreHealth, StoreStats } from './types';

/**
 * Options of a {@link TieredStore}: the fast tier (L1), the shared tier behind it (L2), and whether
 * L2 hits are copied into L1.
 */
export interface TieredStoreOptions extends BaseStoreOptions {
  /** The fast tier: a store (usually a `MemoryStore`) or the options of a `MemoryStore` to create. */
  l1: KVStore | MemoryStoreOptions;
  /** The shared tier behind it: a `RedisStore`, `RedisClusterStore` or any `KVStore`. */
  l2: KVStore;
  /** Copy blocks found in L2 into L1. @default true */
  promoteOnHit?: boolean;
  /** `close()` also closes both tiers. @default true */
  closeTiers?: boolean;
}

/** The defaults of {@link TieredStoreOptions}: promote L2 hits into L1, close both tiers with the store. */
export const DEFAULT_TIERED_STORE_OPTIONS = {
  promoteOnHit: true,
  closeTiers: true,
} as const satisfies Partial<TieredStoreOptions>;

function isStore(x: unknown): x is KVStore {
  return typeof x === 'object' && x !== null && typeof (x as KVStore).has === 'function' && typeof (x as KVStore).put === 'function';
}

/**
 * A memory tier in front of a shared tier (Redis): lookups ask L1 first and only send L1 misses to
 * L2; L2 hits are promoted into L1. Writes go to L2 first (`SET NX` decides which value wins) and
 * then to L1. `stats().hitsByTier` counts blocks served by each tier. A `validate` hook (given here
 * or per call) checks hits of both tiers; a corrupt entry is deleted from the tier that held it.
 */
export class TieredStore extends BaseStore {
  readonly tier = 'tiered';
  readonly l1: KVStore;
  readonly l2: KVStore;
  readonly maxValueBytes: number;
  private readonly promoteOnHit: boolean;
  private readonly closeTiers: boolean;
  private readonly l1Key: string;
  private readonly l2Key: string;
  private promoted = 0;

  constructor(options: TieredStoreOptions) {
    if (!options || !isStore(options.l2)) throw new ConfigError({ path: 'options.l2', expected: 'a store (e.g. a RedisStore)', received: describeValue(options?.l2) });
    const registry = options.registry ?? options.l2.metrics.registry;
    super('tiered', { ...options, registry });
    this.l2 = options.l2;
    this.l1 = isStore(options.l1)
      ? options.l1
      : new MemoryStore({ registry, metricsPrefix: options.metricsPrefix, latencyBuckets: options.latencyBuckets, name: 'memory', ...options.l1 });
    if (this.l1 === this.l2) throw new ConfigError({ path: 'options.l1', expected: 'a store other than l2', received: 'the same store as l2' });
    this.maxValueBytes = this.l2.maxValueBytes;
    this.promoteOnHit = options.promoteOnHit ?? DEFAULT_TIERED_STORE_OPTIONS.promoteOnHit;
    this.closeTiers = options.closeTiers ?? DEFAULT_TIERED_STORE_OPTIONS.closeTiers;
    const byTier = this.l1.tier !== this.l2.tier;
    this.l1Key = byTier ? this.l1.tier : this.l1.name;
    this.l2Key = byTier ? this.l2.tier : this.l2.name;
    if (this.l1Key === this.l2Key) {
      throw new ConfigError({
        path: 'options.l1.name',
        expected: 'tiers with different names (or different tier kinds)',
        received: `both tiers called '${this.l1Key}'`,
        hint: 'Give them different names.',
      });
    }
  }

  async has(hashes: readonly BlockHash[], options?: CallOptions): Promise<boolean[]> {
    assertHashes(hashes);
    if (hashes.length === 0) return [];
    const t0 = process.hrtime.bigint();
    const report = options?.report;
    const out = await this.l1.has(hashes, { report });
    const l1Hits = out.filter(Boolean).length;
    const missing = out.flatMap((v, i) => (v ? [] : [i]));
    let l2Hits = 0;
    if (missing.length) {
      const found = await this.l2.has(missing.map((i) => hashes[i]!), { report });
      found.forEach((v, j) => {
        if (v) {
          out[missing[j]!] = true;
          l2Hits++;
        }
      });
    }
    this.countTiers('has', hashes.length, l1Hits, l2Hits);
    this.observe('has', t0);
    return out;
  }

  async get(hashes: readonly BlockHash[], options?: GetOptions): Promise<(Buffer | undefined)[]> {
    assertHashes(hashes);
    if (hashes.length === 0) return [];
    const t0 = process.hrtime.bigint();
    const hook = this.validatorFor(options);
    const onValue = options?.onValue;
    const delivered: boolean[] = [];
    const report = options?.report;
    const values = await this.l1.get(hashes, { validate: hook ?? null, report });
    const l1Hits = values.filter((v) => v !== undefined).length;
    let thrown = deliverValues(values, onValue);
    values.forEach((v, i) => (delivered[i] = v !== undefined));
    const missing = values.flatMap((v, i) => (v === undefined ? [i] : []));
    let l2Hits = 0;
    if (missing.length) {
      // L2 streams its values straight through (mapped back to positions in `hashes`).
      const stream = onValue
        ? (j: number, v: Buffer): void => {
            delivered[missing[j]!] = true;
            onValue(missing[j]!, v);
          }
        : undefined;
      const found = await this.l2.get(missing.map((i) => hashes[i]!), { ...(hook ? { validate: hook } : {}), ...(stream ? { onValue: stream } : {}), report });
      const promote: StoreEntry[] = [];
      found.forEach((v, j) => {
        if (v === undefined) return;
        const i = missing[j]!;
        values[i] = v;
        l2Hits++;
        if (this.promoteOnHit && v.length <= this.l1.maxValueBytes) promote.push({ hash: hashes[i]!, value: v });
      });
      if (promote.length) {
        const r = await this.l1.put(promote);
        this.promoted += r.stored;
      }
    }
    thrown += deliverValues(values, onValue, delivered);
    this.countError('get', 'validate', thrown);
    this.countTiers('get', hashes.length, l1Hits, l2Hits);
    this.countRead(values);
    this.observe('get', t0);
    return values;
  }

  async put(entries: readonly StoreEntry[], options?: CallOptions): Promise<PutResult> {
    const values = checkEntries(entries, this.maxValueBytes, this.name);
    if (entries.length === 0) return summarizePut([], []);
    const t0 = process.hrtime.bigint();
    const normalized = entries.map((e, i) => ({ hash: e.hash, value: values[i]! }));
    const report = options?.report;
    const r2 = await this.l2.put(normalized, { report });
    const statuses: PutStatus[] = r2.statuses.slice();
    // L1 gets what L2 stored (or could not store: L1 still serves this process).
    const toL1 = normalized.flatMap((e, i) => (r2.statuses[i] !== 'exists' && e.value.length <= this.l1.maxValueBytes ? [i] : []));
    if (toL1.length) {
      const r1 = await this.l1.put(toL1.map((i) => normalized[i]!), { report });
      toL1.forEach((i, j) => {
        if (statuses[i] === 'failed') statuses[i] = r1.statuses[j]!;
      });
    }
    const result = summarizePut(statuses, values);
    this.countPut(result);
    this.observe('put', t0);
    return result;
  }

  /** Removes from both tiers; resolves to the larger of the two counts. */
  async delete(hashes: readonly BlockHash[], options?: CallOptions): Promise<number> {
    assertHashes(hashes);
    if (hashes.length === 0) return 0;
    const report = options?.report;
    const [n1, n2] = await Promise.all([this.l1.delete(hashes, { report }), this.l2.delete(hashes, { report })]);
    const n = Math.max(n1, n2);
    this.countDeleted(n);
    return n;
  }

  async health(): Promise<StoreHealth> {
    const [h1, h2] = await Promise.all([this.l1.health(), this.l2.health()]);
    return {
      name: this.name,
      tier: this.tier,
      ok: h1.ok && h2.ok,
      reachable: h2.reachable,
      latencyMs: h2.latencyMs,
      circuit: h2.circuit,
      usedMemoryBytes: h2.usedMemoryBytes,
      maxMemoryBytes: h2.maxMemoryBytes,
      maxmemoryPolicy: h2.maxmemoryPolicy,
      tiers: [h1, h2],
      warnings: [...h1.warnings.map((w) => `L1 ${this.l1.name}: ${w}`), ...h2.warnings.map((w) => `L2 ${this.l2.name}: ${w}`), ...this.rejectionWarnings()],
      ...(h2.error ? { error: h2.error } : {}),
    };
  }

  /** Own counters (lookups, hits, … as seen through the tiers), plus the tiers' errors, fallbacks, evictions and corrupt entries. */
  override stats(): StoreStats {
    const own = super.stats();
    const tiers = [this.l1.stats(), this.l2.stats()];
    for (const t of tiers) {
      own.errors += t.errors;
      own.fallbacks += t.fallbacks;
      own.evictions += t.evictions;
      own.corrupt += t.corrupt;
      for (const r of Object.keys(own.rejected) as (keyof StoreStats['rejected'])[]) own.rejected[r] += t.rejected[r];
      own.roundTrips += t.roundTrips;
      own.commands += t.commands;
    }
    return { ...own, tiers, promoted: this.promoted };
  }

  override async metricsText(): Promise<string> {
    const registries = [...new Set([this.metrics.registry, this.l1.metrics.registry, this.l2.metrics.registry])];
    if (registries.length === 1) return registries[0]!.metrics();
    return mergeExpositions(await Promise.all(registries.map((r) => r.metrics())));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.closeTiers) await Promise.all([this.l1.close(), this.l2.close()]);
  }

  private countTiers(op: 'has' | 'get', total: number, l1Hits: number, l2Hits: number): void {
    const c = this.counters;
    const hits = l1Hits + l2Hits;
    c.lookups++;
    c.hits += hits;
    c.misses += total - hits;
    if (l1Hits) c.hitsByTier[this.l1Key] = (c.hitsByTier[this.l1Key] ?? 0) + l1Hits;
    if (l2Hits) c.hitsByTier[this.l2Key] = (c.hitsByTier[this.l2Key] ?? 0) + l2Hits;
    this.metrics.lookup(op, hits, total - hits);
  }
}
