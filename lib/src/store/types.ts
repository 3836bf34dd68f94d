import type { Registry } from 'prom-client';
import type { BlockHash, BlockPresence } from '../hashing/types';

/** One block to store: its chained hash and its serialized bytes (opaque to the store). */
export interface StoreEntry {
  hash: BlockHash;
  /**
   * The serialized KV block. A `Buffer`, or a `Uint8Array` which the store wraps (no copy) in a
   * `Buffer` view before it reaches ioredis (ioredis would store a plain typed array as text).
   */
  value: Buffer | Uint8Array;
}

/**
 * What became of one entry of a `put`:
 * - `stored`: written by this call;
 * - `exists`: the store already held the block (writes are `SET NX`: the first writer wins, the value
 *   is not replaced — same hash, same tokens, same KV);
 * - `failed`: not stored (store unreachable, timed out, out of memory, …). Never thrown.
 */
export type PutStatus = 'stored' | 'exists' | 'failed';

/** What `put` returns: a status per entry (stored, already there, failed), the counts and the bytes written. */
export interface PutResult {
  /** One status per entry, in input order. */
  statuses: PutStatus[];
  stored: number;
  existing: number;
  failed: number;
  /** Bytes of the entries this call stored. */
  bytesWritten: number;
}

/**
 * Checks a value read from a store, e.g. the serde layer's header + checksum check.
 * Return `false` or throw a `CorruptEntryError` (code `CORRUPT_ENTRY`) to report a corrupt entry:
 * the store deletes it, counts it, and returns a miss. Any other exception also gives a miss (counted
 * as a `validate` error) but the entry is kept.
 */
export type ValidateHook = (value: Buffer, hash: BlockHash) => boolean | void | Promise<boolean | void>;

/**
 * What one store call could not do, filled in by the store: the fallbacks of *this* call (a miss or
 * a failed write instead of an answer from the server) and why. `stats()` counts every call of the
 * store; a report counts one, so two engines sharing a store each see their own.
 */
export interface CallReport {
  fallbacks: number;
  reasons: FallbackReason[];
}

/** A fresh, empty {@link CallReport}. */
export function newCallReport(): CallReport {
  return { fallbacks: 0, reasons: [] };
}

/** Options every store call accepts. */
export interface CallOptions {
  /** Filled in with this call's fallbacks. @default undefined (only `stats()` counts them) */
  report?: CallReport;
}

/** Options of `get`: a validate hook for this call and a callback for each value as soon as it arrives. */
export interface GetOptions extends CallOptions {
  /** Overrides the store's own `validate` hook for this call (`null` disables it). */
  validate?: ValidateHook | null;
  /**
   * Called once for each value found, with its position in `hashes`, as soon as the store has it.
   * RedisStore calls it while later replies are still arriving, so a caller can decode block i while
   * block i+1 is on the wire; other stores call it just before `get` resolves. The array `get`
   * resolves to stays the answer: a value seen here may be missing there (its batch failed or timed
   * out, or the validate hook rejected it). An exception thrown here is caught and counted as a
   * `validate` error; the value is still returned.
   */
  onValue?: (index: number, value: Buffer) => void;
}

/** Options of `KVStore.stream`. */
export interface StreamOptions extends CallOptions {
  /** Overrides the store's own `validate` hook for this call (`null` disables it). */
  validate?: ValidateHook | null;
}

/** The operations the stores instrument (label `op` of the metrics). */
export type StoreOp = 'has' | 'get' | 'put' | 'delete' | 'health' | 'connect';

/** Why an operation returned a fallback (miss / false / no-op) instead of asking the store. */
export type FallbackReason = 'error' | 'timeout' | 'circuit_open' | 'closed';

/**
 * Why a stored entry was refused on read (and deleted): damaged bytes (`corrupt`), a format this
 * build cannot read (`unsupported`), a valid entry of another block under this key (`misplaced`),
 * an entry without a valid MAC while the reader holds the cache secret (`unauthenticated`).
 */
export type RejectReason = 'corrupt' | 'unsupported' | 'misplaced' | 'unauthenticated';

/** The reason for an error's `code`, if the error is one that makes an entry unusable. */
export function rejectReasonOf(err: unknown): RejectReason | undefined {
  switch ((err as { code?: unknown } | null)?.code) {
    case 'CORRUPT_ENTRY':
      return 'corrupt';
    case 'UNSUPPORTED_FORMAT':
      return 'unsupported';
    case 'MISPLACED_ENTRY':
      return 'misplaced';
    case 'UNAUTHENTICATED_ENTRY':
      return 'unauthenticated';
    default:
      return undefined;
  }
}

/** Kinds of errors counted in `kvlab_store_errors_total`. */
export type StoreErrorKind = 'timeout' | 'connection' | 'server' | 'validate';

/** What callers see of a store's Prometheus metrics (the class is `StoreMetrics`). */
export interface StoreMetricsView {
  /** The prom-client registry the store's metric families live in. */
  readonly registry: Registry;
  /** Text exposition of that registry. */
  text(): Promise<string>;
}

/** Circuit breaker state (see {@link CircuitBreaker}). */
export type CircuitState = 'closed' | 'open' | 'half-open';

/** Counters kept by every store, in process (cheap, synchronous). */
export interface StoreStats {
  name: string;
  tier: string;
  /** `has` + `get` calls that asked about at least one block. */
  lookups: number;
  /** Blocks asked for by `has`/`get` that were found / not found (fallbacks count as misses). */
  hits: number;
  misses: number;
  /** Blocks found, per tier that answered (only a `TieredStore` has more than one key). */
  hitsByTier: Record<string, number>;
  puts: number;
  stored: number;
  existing: number;
  failedWrites: number;
  deleted: number;
  bytesRead: number;
  bytesWritten: number;
  errors: number;
  fallbacks: number;
  evictions: number;
  /** Entries refused on read and deleted, all reasons together. */
  corrupt: number;
  /** The same entries by reason. */
  rejected: Record<RejectReason, number>;
  /** Batches sent to the server (one per node for a cluster; 0 for memory). */
  roundTrips: number;
  /** Commands sent to the server (client-side count). */
  commands: number;
  /** Token-level hits and misses recorded by the layer above with `recordTokens`. */
  tokens: Record<string, { hit: number; miss: number }>;
  /** Entries and bytes held (memory tier only). */
  entries?: number;
  bytes?: number;
  circuit?: CircuitState;
  /** Per-tier stats of a `TieredStore`. */
  tiers?: StoreStats[];
  /** Blocks copied from L2 into L1 (`TieredStore`). */
  promoted?: number;
}

/** Health of one Redis server (a standalone server or one cluster master). */
export interface RedisNodeHealth {
  address: string;
  reachable: boolean;
  role?: string;
  version?: string;
  usedMemoryBytes?: number;
  /** 0 means "no limit". */
  maxMemoryBytes?: number;
  maxmemoryPolicy?: string;
  keys?: number;
  error?: string;
}

/**
 * What `health()` reports: reachability, latency, circuit state, memory and eviction settings,
 * cluster state, and warnings about configurations that will misbehave.
 */
export interface StoreHealth {
  name: string;
  tier: string;
  /**
   * Reachable, cluster (if any) in state ok, circuit not open. A check that finds every server
   * reachable (and the cluster ok) also closes an open circuit breaker, so an idle store recovers.
   */
  ok: boolean;
  reachable: boolean;
  /** Round trip of a PING, in milliseconds. */
  latencyMs?: number;
  circuit?: CircuitState;
  /** Redis: `used_memory` (summed over masters for a cluster). Memory store: bytes held. */
  usedMemoryBytes?: number;
  /** Redis: `maxmemory` (0 = unlimited). Memory store: its byte budget. */
  maxMemoryBytes?: number;
  /** Redis `maxmemory-policy` (of the first master for a cluster; see `nodes` for each). */
  maxmemoryPolicy?: string;
  entries?: number;
  nodes?: RedisNodeHealth[];
  cluster?: { state: string; slotsAssigned: number; slotsOk: number; knownNodes: number; size: number };
  tiers?: StoreHealth[];
  /** Configurations that will make the cache misbehave (evictions impossible, writes failing, …). */
  warnings: string[];
  error?: string;
}

/**
 * A store of serialized KV blocks keyed by block hash: memory, Redis, Redis Cluster or tiers of them.
 *
 * Contract shared by every implementation (and tested by one shared suite):
 * - batch calls keep input order; an empty batch returns at once;
 * - `put` is "set if absent": an existing block is not replaced (`exists`);
 * - store failures never reach the caller: a read that cannot be served is a miss, a write a no-op
 *   (`failed`), and a fallback is counted. Only caller mistakes throw: a malformed hash or value
 *   (`InvalidInputError`), a value above `maxValueBytes` (`ValueTooLargeError`, nothing of the batch
 *   is written).
 */
export interface KVStore extends BlockPresence<CallOptions> {
  /** Instance name (label `store` of the metrics). */
  readonly name: string;
  /** Kind of tier: `memory`, `redis`, `redis-cluster`, `tiered` (label `tier` of the metrics). */
  readonly tier: string;
  /** Largest value `put` accepts, in bytes. */
  readonly maxValueBytes: number;
  readonly metrics: StoreMetricsView;

  /** Which blocks the store holds, in one round trip. Does not refresh TTLs or LRU order. */
  has(hashes: readonly BlockHash[], options?: CallOptions): Promise<boolean[]>;
  /** The stored bytes of each block, `undefined` for a miss. Refreshes LRU order / TTL of hits. */
  get(hashes: readonly BlockHash[], options?: GetOptions): Promise<(Buffer | undefined)[]>;
  /**
   * Hand each found block to `onValue` as it arrives, without keeping it: the Buffer is only valid
   * during the call (a store may lend it from a pool and reuse it afterwards — copy what you keep).
   * Resolves to which blocks were found. The load path of a cache: no allocation per block.
   */
  stream(hashes: readonly BlockHash[], onValue: (index: number, value: Buffer) => void, options?: StreamOptions): Promise<boolean[]>;
  /** Store blocks that are not stored yet. */
  put(entries: readonly StoreEntry[], options?: CallOptions): Promise<PutResult>;
  /** Remove blocks; resolves to how many were present. */
  delete(hashes: readonly BlockHash[], options?: CallOptions): Promise<number>;
  stats(): StoreStats;
  health(): Promise<StoreHealth>;
  /** Count token-level hits and misses of a lookup served by `tier` (computed one layer up). */
  recordTokens(tier: string, hit: number, miss: number): void;
  /**
   * Count entries a reader above the store refused and deleted (e.g. the connector's decode found a
   * misplaced or unauthenticated entry). `health()` warns when misplaced or unauthenticated recur.
   */
  recordRejected(reason: RejectReason, n?: number): void;
  /** Prometheus text exposition of this store's registry. */
  metricsText(): Promise<string>;
  /** Release connections and memory; later calls are misses / no-ops. */
  close(): Promise<void>;
}
