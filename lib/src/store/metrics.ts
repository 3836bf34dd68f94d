import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CircuitState, FallbackReason, StoreErrorKind, StoreMetricsView, StoreOp } from './types';

/** Where a store's Prometheus metrics go: the registry, the metric name prefix and the latency histogram buckets. */
export interface StoreMetricsOptions {
  /**
   * Registry the metrics are registered in. Stores that share a registry share metric families and
   * are told apart by the `store` and `tier` labels.
   * @default a new Registry per store (never prom-client's global one)
   */
  registry?: Registry;
  /**
   * Prefix of every metric name.
   * @default 'kvlab_'
   */
  metricsPrefix?: string;
  /**
   * Buckets of the latency histograms, in seconds.
   * @default DEFAULT_STORE_METRICS_OPTIONS.latencyBuckets (100 µs … 5 s)
   */
  latencyBuckets?: number[];
}

/** The defaults of {@link StoreMetricsOptions}: the `kvlab_` prefix and latency buckets from 0.1 ms to 5 s. */
export const DEFAULT_STORE_METRICS_OPTIONS = {
  metricsPrefix: 'kvlab_',
  latencyBuckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
} as const;

type L = 'store' | 'tier';

/** The metric families of one registry + prefix (created once, shared by every store using it). */
class Families {
  readonly lookups: Counter<L | 'op'>;
  readonly hits: Counter<L | 'op'>;
  readonly misses: Counter<L | 'op'>;
  readonly readBytes: Counter<L>;
  readonly writtenBytes: Counter<L>;
  readonly writes: Counter<L | 'result'>;
  readonly deletes: Counter<L>;
  readonly duration: Histogram<L | 'op'>;
  readonly errors: Counter<L | 'op' | 'kind'>;
  readonly fallbacks: Counter<L | 'op' | 'reason'>;
  readonly evictions: Counter<L>;
  readonly corrupt: Counter<L>;
  readonly rejected: Counter<L | 'reason'>;
  readonly circuit: Gauge<L>;
  readonly entries: Gauge<L>;
  readonly heldBytes: Gauge<L>;
  readonly tokens: Counter<'store' | 'tier' | 'result'>;

  constructor(registry: Registry, p: string, buckets: number[]) {
    const registers = [registry];
    this.lookups = new Counter({ name: `${p}store_lookups_total`, help: 'has/get calls that asked for at least one block', labelNames: ['store', 'tier', 'op'], registers });
    this.hits = new Counter({ name: `${p}store_hits_total`, help: 'Blocks found by has/get', labelNames: ['store', 'tier', 'op'], registers });
    this.misses = new Counter({ name: `${p}store_misses_total`, help: 'Blocks not found by has/get (fallbacks included)', labelNames: ['store', 'tier', 'op'], registers });
    this.readBytes = new Counter({ name: `${p}store_read_bytes_total`, help: 'Bytes of values returned by get', labelNames: ['store', 'tier'], registers });
    this.writtenBytes = new Counter({ name: `${p}store_written_bytes_total`, help: 'Bytes of values stored by put', labelNames: ['store', 'tier'], registers });
    this.writes = new Counter({ name: `${p}store_writes_total`, help: 'Entries passed to put, by outcome (stored, exists, failed)', labelNames: ['store', 'tier', 'result'], registers });
    this.deletes = new Counter({ name: `${p}store_deleted_total`, help: 'Entries removed by delete', labelNames: ['store', 'tier'], registers });
    this.duration = new Histogram({ name: `${p}store_operation_duration_seconds`, help: 'Latency of store operations', labelNames: ['store', 'tier', 'op'], buckets, registers });
    this.errors = new Counter({ name: `${p}store_errors_total`, help: 'Errors met by the store (never thrown to the caller)', labelNames: ['store', 'tier', 'op', 'kind'], registers });
    this.fallbacks = new Counter({ name: `${p}store_fallbacks_total`, help: 'Operations answered with a miss / no-op because the store was unavailable', labelNames: ['store', 'tier', 'op', 'reason'], registers });
    this.evictions = new Counter({ name: `${p}store_evictions_total`, help: 'Entries evicted by the store itself (memory LRU)', labelNames: ['store', 'tier'], registers });
    this.corrupt = new Counter({ name: `${p}store_corrupt_entries_total`, help: 'Entries refused on read and deleted (all reasons)', labelNames: ['store', 'tier'], registers });
    this.rejected = new Counter({ name: `${p}store_rejected_entries_total`, help: 'Entries refused on read and deleted, by reason (corrupt, unsupported, misplaced, unauthenticated)', labelNames: ['store', 'tier', 'reason'], registers });
    this.circuit = new Gauge({ name: `${p}store_circuit_state`, help: 'Circuit breaker: 0 closed, 1 half-open, 2 open', labelNames: ['store', 'tier'], registers });
    this.entries = new Gauge({ name: `${p}store_entries`, help: 'Entries held (memory tier)', labelNames: ['store', 'tier'], registers });
    this.heldBytes = new Gauge({ name: `${p}store_held_bytes`, help: 'Bytes held (memory tier)', labelNames: ['store', 'tier'], registers });
    this.tokens = new Counter({ name: `${p}cache_tokens_total`, help: 'Prompt tokens served from cache (hit) or recomputed (miss), per tier', labelNames: ['store', 'tier', 'result'], registers });
  }
}

const familiesByRegistry = new WeakMap<Registry, Map<string, Families>>();

function familiesFor(registry: Registry, prefix: string, buckets: number[]): Families {
  let byPrefix = familiesByRegistry.get(registry);
  if (!byPrefix) {
    byPrefix = new Map();
    familiesByRegistry.set(registry, byPrefix);
  }
  let f = byPrefix.get(prefix);
  if (!f) {
    f = new Families(registry, prefix, buckets);
    byPrefix.set(prefix, f);
  }
  return f;
}

const CIRCUIT_VALUE: Record<CircuitState, number> = { closed: 0, 'half-open': 1, open: 2 };

/** The Prometheus metrics of one store (label values `store` = name, `tier` = tier). */
export class StoreMetrics implements StoreMetricsView {
  readonly registry: Registry;
  readonly prefix: string;
  private readonly f: Families;
  private readonly labels: { store: string; tier: string };

  constructor(store: string, tier: string, options: StoreMetricsOptions = {}) {
    this.registry = options.registry ?? new Registry();
    this.prefix = options.metricsPrefix ?? DEFAULT_STORE_METRICS_OPTIONS.metricsPrefix;
    this.f = familiesFor(this.registry, this.prefix, options.latencyBuckets ?? [...DEFAULT_STORE_METRICS_OPTIONS.latencyBuckets]);
    this.labels = { store, tier };
  }

  lookup(op: 'has' | 'get', hits: number, misses: number): void {
    this.f.lookups.inc({ ...this.labels, op });
    if (hits) this.f.hits.inc({ ...this.labels, op }, hits);
    if (misses) this.f.misses.inc({ ...this.labels, op }, misses);
  }
  read(bytes: number): void {
    if (bytes) this.f.readBytes.inc(this.labels, bytes);
  }
  wrote(stored: number, existing: number, failed: number, bytes: number): void {
    if (stored) this.f.writes.inc({ ...this.labels, result: 'stored' }, stored);
    if (existing) this.f.writes.inc({ ...this.labels, result: 'exists' }, existing);
    if (failed) this.f.writes.inc({ ...this.labels, result: 'failed' }, failed);
    if (bytes) this.f.writtenBytes.inc(this.labels, bytes);
  }
  deleted(n: number): void {
    if (n) this.f.deletes.inc(this.labels, n);
  }
  observe(op: StoreOp, seconds: number): void {
    this.f.duration.observe({ ...this.labels, op }, seconds);
  }
  error(op: StoreOp, kind: StoreErrorKind, n = 1): void {
    this.f.errors.inc({ ...this.labels, op, kind }, n);
  }
  fallback(op: StoreOp, reason: FallbackReason): void {
    this.f.fallbacks.inc({ ...this.labels, op, reason });
  }
  evicted(n: number): void {
    if (n) this.f.evictions.inc(this.labels, n);
  }
  rejected(reason: string, n: number): void {
    if (n) this.f.rejected.inc({ ...this.labels, reason }, n);
  }
  corrupt(n: number): void {
    if (n) this.f.corrupt.inc(this.labels, n);
  }
  circuit(state: CircuitState): void {
    this.f.circuit.set(this.labels, CIRCUIT_VALUE[state]);
  }
  held(entries: number, bytes: number): void {
    this.f.entries.set(this.labels, entries);
    this.f.heldBytes.set(this.labels, bytes);
  }
  /** Token-level hits/misses of a lookup, attributed to the tier that served them. */
  tokens(tier: string, hit: number, miss: number): void {
    if (hit) this.f.tokens.inc({ store: this.labels.store, tier, result: 'hit' }, hit);
    if (miss) this.f.tokens.inc({ store: this.labels.store, tier, result: 'miss' }, miss);
  }
  /** Prometheus text exposition of the whole registry. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}

/**
 * Merge the text expositions of several registries into one valid exposition: samples of a metric
 * family that appears in several texts are grouped under one HELP/TYPE header.
 */
export function mergeExpositions(texts: readonly string[]): string {
  const order: string[] = [];
  const families = new Map<string, { header: string[]; samples: string[] }>();
  for (const text of texts) {
    let current: { header: string[]; samples: string[] } | undefined;
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const m = /^# (HELP|TYPE) (\S+)/.exec(line);
      if (m) {
        const name = m[2] as string;
        let fam = families.get(name);
        if (!fam) {
          fam = { header: [], samples: [] };
          families.set(name, fam);
          order.push(name);
        }
        if (!fam.header.some((h) => h.startsWith(`# ${m[1]} `))) fam.header.push(line);
        current = fam;
        continue;
      }
      if (line.startsWith('#')) continue;
      if (!current) {
        const name = /^[^\s{]+/.exec(line)?.[0] ?? line;
        current = { header: [], samples: [] };
        families.set(name, current);
        order.push(name);
      }
      if (!current.samples.includes(line)) current.samples.push(line);
    }
  }
  return order.map((n) => {
    const f = families.get(n)!;
    return [...f.header, ...f.samples].join('\n');
  }).join('\n\n') + '\n';
}
