import type { BlockHash } from '../hashing/types';
import { BaseStore, deliverValues, summarizePut, type BaseStoreOptions } from './base-store';
import { assertHashes, assertPositiveInt, checkEntries, MiB } from './checks';
import type { CallOptions, GetOptions, PutResult, PutStatus, StoreEntry, StoreHealth, StoreStats } from './types';

/**
 * Options of a {@link MemoryStore}: its byte budget (LRU beyond it), the per-entry overhead
 * counted, and whether values are copied.
 */
export interface MemoryStoreOptions extends BaseStoreOptions {
  /**
   * Byte budget: values plus `entryOverheadBytes` per entry. When a put goes over it, the least
   * recently used entries are evicted. A single value that cannot fit is rejected (`ValueTooLargeError`).
   * @default 268435456 (256 MiB)
   */
  maxBytes?: number;
  /**
   * Bytes counted per entry on top of its value (key, map slot, object headers), so that many
   * tiny entries cannot grow the map without bound.
   * @default 128
   */
  entryOverheadBytes?: number;
  /**
   * Copy values on put and on get, so callers may reuse or mutate their buffers. Off by default:
   * values are treated as immutable and shared, which costs no memory bandwidth.
   * @default false
   */
  copy?: boolean;
}

/** The defaults of {@link MemoryStoreOptions}: 256 MiB, 128 bytes counted per entry, values kept without copying. */
export const DEFAULT_MEMORY_STORE_OPTIONS = {
  maxBytes: 256 * MiB,
  entryOverheadBytes: 128,
  copy: false,
} as const satisfies MemoryStoreOptions;

/**
 * An in-process LRU of KV blocks under a byte budget. `get` refreshes an entry's recency, `has`
 * does not (a probe is not a use). Never fails: no fallbacks, no circuit breaker.
 */
export class MemoryStore extends BaseStore {
  readonly tier = 'memory';
  readonly maxBytes: number;
  readonly maxValueBytes: number;
  private readonly overhead: number;
  private readonly copy: boolean;
  /** Map iteration order is insertion order: first = least recently used. */
  private readonly map = new Map<BlockHash, Buffer>();
  private held = 0;

  constructor(options: MemoryStoreOptions = {}) {
    super('memory', options);
    this.maxBytes = options.maxBytes ?? DEFAULT_MEMORY_STORE_OPTIONS.maxBytes;
    this.overhead = options.entryOverheadBytes ?? DEFAULT_MEMORY_STORE_OPTIONS.entryOverheadBytes;
    this.copy = options.copy ?? DEFAULT_MEMORY_STORE_OPTIONS.copy;
    assertPositiveInt(this.maxBytes, 'maxBytes');
    assertPositiveInt(this.overhead, 'entryOverheadBytes', { allowZero: true });
    this.maxValueBytes = Math.max(0, this.maxBytes - this.overhead);
    this.metrics.held(0, 0);
  }

  /** Entries held. */
  get size(): number {
    return this.map.size;
  }

  /** Bytes held (values + per-entry overhead). */
  get heldBytes(): number {
    return this.held;
  }

  async has(hashes: readonly BlockHash[], options?: CallOptions): Promise<boolean[]> {
    assertHashes(hashes);
    if (hashes.length === 0) return [];
    const t0 = process.hrtime.bigint();
    if (this.closed) this.countFallback('has', 'closed', options?.report);
    const out = hashes.map((h) => !this.closed && this.map.has(h));
    this.countLookup('has', out, Boolean);
    this.observe('has', t0);
    return out;
  }

  async get(hashes: readonly BlockHash[], options?: GetOptions): Promise<(Buffer | undefined)[]> {
    assertHashes(hashes);
    if (hashes.length === 0) return [];
    const t0 = process.hrtime.bigint();
    if (this.closed) this.countFallback('get', 'closed', options?.report);
    let values = hashes.map((h) => (this.closed ? undefined : this.map.get(h)));
    // Refresh recency last-to-first: a prompt's first blocks end up the most recently used, so the
    // LRU drops a chain's tail before its shared prefix (which every later request needs first).
    for (let i = hashes.length - 1; i >= 0; i--) {
      const v = values[i];
      if (v === undefined) continue;
      this.map.delete(hashes[i]!); // move to the most recently used end
      this.map.set(hashes[i]!, v);
    }
    if (this.copy) values = values.map((v) => (v === undefined ? undefined : Buffer.from(v)));
    values = await this.validated(hashes, values, options, (corrupt) => {
      for (const h of corrupt) this.remove(h);
      this.publishHeld();
    });
    this.countError('get', 'validate', deliverValues(values, options?.onValue));
    this.countLookup('get', values, (v) => v !== undefined);
    this.countRead(values);
    this.observe('get', t0);
    return values;
  }

  async put(entries: readonly StoreEntry[], options?: CallOptions): Promise<PutResult> {
    const values = checkEntries(entries, this.maxValueBytes, this.name);
    const t0 = process.hrtime.bigint();
    if (this.closed && entries.length) this.countFallback('put', 'closed', options?.report);
    const statuses: PutStatus[] = entries.map((e, i) => {
      if (this.closed) return 'failed';
      if (this.map.has(e.hash)) return 'exists';
      const v = values[i]!;
      this.map.set(e.hash, this.copy ? Buffer.from(v) : v);
      this.held += v.length + this.overhead;
      this.evictOver(e.hash);
      return 'stored';
    });
    this.publishHeld();
    const result = summarizePut(statuses, values);
    if (entries.length) {
      this.countPut(result);
      this.observe('put', t0);
    }
    return result;
  }

  async delete(hashes: readonly BlockHash[]): Promise<number> {
    assertHashes(hashes);
    let n = 0;
    for (const h of hashes) if (this.remove(h)) n++;
    this.publishHeld();
    this.countDeleted(n);
    return n;
  }

  async health(): Promise<StoreHealth> {
    return {
      name: this.name,
      tier: this.tier,
      ok: !this.closed,
      reachable: !this.closed,
      latencyMs: 0,
      usedMemoryBytes: this.held,
      maxMemoryBytes: this.maxBytes,
      entries: this.map.size,
      warnings: this.rejectionWarnings(),
      ...(this.closed ? { error: 'store is closed' } : {}),
    };
  }

  /** Drop every entry (not counted as evictions). */
  clear(): void {
    this.map.clear();
    this.held = 0;
    this.publishHeld();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.clear();
  }

  protected override extraStats(): Partial<StoreStats> {
    return { entries: this.map.size, bytes: this.held };
  }

  private remove(h: BlockHash): boolean {
    const v = this.map.get(h);
    if (v === undefined) return false;
    this.map.delete(h);
    this.held -= v.length + this.overhead;
    return true;
  }

  /** Evict least recently used entries until the budget holds, never the entry just inserted. */
  private evictOver(keep: BlockHash): void {
    let evicted = 0;
    for (const [h] of this.map) {
      if (this.held <= this.maxBytes) break;
      if (h === keep) continue;
      this.remove(h);
      evicted++;
    }
    this.countEvicted(evicted);
  }

  private publishHeld(): void {
    this.metrics.held(this.map.size, this.held);
  }
}
