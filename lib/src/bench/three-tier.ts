/**
 * The three cache layers of a serving system — GPU memory → host memory → a remote store — mapped
 * onto this lab, with every prompt token attributed to the layer that supplied it:
 * - **device**: KV the engine already holds in its own memory, decoded and ready to attend to (a GPU's
 *   paged pool in vLLM or SGLang). Here: a small in-process LRU of decoded blocks ({@link DeviceBlockCache}).
 * - **host**: serialized blocks in the same machine's memory (LMCache's CPU backend, HiCache's L2,
 *   KVBM's G2). Here: the `MemoryStore` L1 of a `TieredStore`.
 * - **remote**: a store shared by many engines (HiCache's L3, KVBM's G4, LMCache's Redis backend).
 *   Here: the Redis L2 of the same `TieredStore`.
 * A lookup walks them in that order, each continuing where the previous one stopped, as HiCache
 * matches L1, then L2, then queries L3.
 */
import { hashBlocks } from '../hashing/block-hash';
import { loadableBlocks, assertBlockSize } from '../hashing/block-size';
import { longestPrefix } from '../hashing/lookup';
import type { Namespace } from '../hashing/namespace';
import type { BlockHash } from '../hashing/types';
import { KVCache, type KVCacheArrays } from '../model/kv-cache';
import type { LlamaModel } from '../model/transformer';
import { InvalidInputError } from '../runtime/errors';
import { joinArrays, sliceArrays, type BlockCodec } from '../engine/codec';
import { PrefixCacheConnector, type KVConnector, type LoadResult, type MatchResult, type PrefixConnectorOptions, type SaveResult } from '../engine/connector';
import type { ServeRequest } from '../engine/types';
import { TieredStore } from '../store/tiered-store';
import { newCallReport, rejectReasonOf, type KVStore } from '../store/types';

/**
 * Decoded KV blocks kept in the engine's own memory, least recently used evicted first: what a GPU
 * prefix cache holds (no transfer, no decode on a hit). Capacity in blocks.
 */
export class DeviceBlockCache {
  /** Map iteration order is insertion order: first = least recently used. */
  private readonly blocks = new Map<BlockHash, KVCacheArrays>();
  /** Blocks dropped to make room. */
  evictions = 0;

  constructor(readonly capacityBlocks: number) {
    if (!Number.isInteger(capacityBlocks) || capacityBlocks < 0) throw InvalidInputError.at('capacityBlocks', 'a whole number ≥ 0', capacityBlocks);
  }

  get size(): number {
    return this.blocks.size;
  }

  /** A probe: does not refresh recency. */
  has(hash: BlockHash): boolean {
    return this.blocks.has(hash);
  }

  /** The block without refreshing its recency; undefined when absent. */
  peek(hash: BlockHash): KVCacheArrays | undefined {
    return this.blocks.get(hash);
  }

  /** The block, made the most recently used; undefined when absent. */
  get(hash: BlockHash): KVCacheArrays | undefined {
    const b = this.blocks.get(hash);
    if (b !== undefined) {
      this.blocks.delete(hash);
      this.blocks.set(hash, b);
    }
    return b;
  }

  /**
   * Keep a prompt's blocks the way an engine frees them (vLLM: in reverse order, tail first), so that
   * its first blocks — the most shared — end up the most recently used. Only the first
   * `capacityBlocks` are kept: with a longer prompt the tail would be evicted at once anyway, and
   * inserting it would push out the very blocks worth keeping.
   * @param blockAt the block at position i, when not held already
   */
  putPrefix(hashes: readonly BlockHash[], blockAt: (i: number) => KVCacheArrays | undefined): void {
    for (let i = Math.min(hashes.length, this.capacityBlocks) - 1; i >= 0; i--) {
      const hash = hashes[i]!;
      const block = this.blocks.get(hash) ?? blockAt(i);
      if (block) this.put(hash, block);
    }
  }

  put(hash: BlockHash, block: KVCacheArrays): void {
    if (this.capacityBlocks === 0) return;
    this.blocks.delete(hash);
    this.blocks.set(hash, block);
    while (this.blocks.size > this.capacityBlocks) {
      this.blocks.delete(this.blocks.keys().next().value as BlockHash);
      this.evictions++;
    }
  }
}

/** Prompt tokens by the layer that supplied their KV, and those computed because no layer had them. */
export interface TierTokens {
  device: number;
  host: number;
  remote: number;
  computed: number;
}

/** The layers of {@link TierTokens} that serve hits, in lookup order. */
export const CACHE_TIERS = ['device', 'host', 'remote'] as const;

const noTokens = (): TierTokens => ({ device: 0, host: 0, remote: 0, computed: 0 });

/** What a {@link ThreeTierConnector} found: the prompt's chained hashes and how many leading blocks the device layer holds. */
export interface ThreeTierHandle {
  readonly namespace: Namespace;
  readonly hashes: readonly BlockHash[];
  readonly deviceBlocks: number;
}

/** Options of a {@link ThreeTierConnector}: the prefix connector's (block size, salts, name) and the device layer's capacity. */
export interface ThreeTierConnectorOptions extends PrefixConnectorOptions {
  /**
   * Blocks the device layer keeps (0: no device layer).
   * @default 0
   */
  deviceBlocks?: number;
}

/** The defaults of {@link ThreeTierConnectorOptions}: 16-token blocks, no device layer. */
export const DEFAULT_THREE_TIER_CONNECTOR_OPTIONS = { blockSize: 16, deviceBlocks: 0 } as const;

/**
 * A block-prefix connector over three layers: the device cache, then the store — a `TieredStore`
 * (host memory in front of a remote store), whose hits are split by tier, or any single store.
 * Writes go through to every layer. Tokens are recorded on the store per layer
 * (`recordTokens('device' | 'host' | 'remote', …)`; recomputed tokens as the remote layer's misses),
 * and kept in {@link tokens} and {@link lastRequest}.
 */
export class ThreeTierConnector implements KVConnector<ThreeTierHandle> {
  readonly name: string;
  readonly device: DeviceBlockCache;
  /** Tokens by layer over every request served. */
  readonly tokens: TierTokens = noTokens();
  /** Tokens by layer of the last request (the engine serves one request at a time). */
  lastRequest: TierTokens = noTokens();
  private readonly blockSize: number;
  /** Namespaces (tenant salts included) come from the library's prefix connector, so both hash alike. */
  private readonly prefix: PrefixCacheConnector;

  constructor(
    private readonly model: LlamaModel,
    readonly store: KVStore,
    private readonly codec: BlockCodec,
    options: ThreeTierConnectorOptions = {},
  ) {
    const { deviceBlocks, ...prefixOptions } = options;
    this.blockSize = options.blockSize ?? DEFAULT_THREE_TIER_CONNECTOR_OPTIONS.blockSize;
    assertBlockSize(this.blockSize);
    this.device = new DeviceBlockCache(deviceBlocks ?? DEFAULT_THREE_TIER_CONNECTOR_OPTIONS.deviceBlocks);
    this.prefix = new PrefixCacheConnector(model, store, codec, prefixOptions);
    this.name = options.name ?? 'three-tier';
  }

  async getMatchedTokens(request: ServeRequest): Promise<MatchResult<ThreeTierHandle>> {
    const namespace = this.prefix.namespaceFor(request.tenant);
    const hashes = hashBlocks(request.tokens, namespace);
    const usable = loadableBlocks(request.tokens.length, this.blockSize);
    let deviceBlocks = 0;
    while (deviceBlocks < usable && this.device.has(hashes[deviceBlocks]!)) deviceBlocks++;
    const report = newCallReport();
    const rest = await longestPrefix(this.store, hashes.slice(deviceBlocks, usable), { blockSize: this.blockSize, presenceOptions: { report } });
    const matchedTokens = (deviceBlocks + rest.matchedBlocks) * this.blockSize;
    // The engine calls load only when something matched: account for a full miss here.
    if (matchedTokens === 0) this.account(request, noTokens());
    return { matchedTokens, handle: { namespace, hashes, deviceBlocks }, roundTrips: rest.roundTrips, fallbacks: report.fallbacks };
  }

  async load(request: ServeRequest, match: MatchResult<ThreeTierHandle>): Promise<LoadResult> {
    const B = this.blockSize;
    const { hashes, deviceBlocks } = match.handle;
    const parts: KVCacheArrays[] = [];
    for (let i = 0; i < deviceBlocks; i++) {
      const b = this.device.peek(hashes[i]!);
      if (!b) break;
      parts.push(b);
    }
    const tiers = noTokens();
    tiers.device = parts.length * B;
    let bytes = 0;
    let fallbacks = 0;
    if (parts.length === deviceBlocks) {
      const wanted = hashes.slice(deviceBlocks, match.matchedTokens / B);
      const before = this.hostHits();
      const report = newCallReport();
      // Asked for tail first, so that an LRU tier refreshes the prompt's first blocks last: they are
      // the most shared, and should be the last to go (vLLM frees a request's blocks in reverse order
      // for the same reason).
      const values = wanted.length ? (await this.store.get([...wanted].reverse(), { report })).reverse() : [];
      const hostHits = this.hostHits() - before;
      fallbacks += report.fallbacks;
      for (const [j, v] of values.entries()) {
        const hash = wanted[j]!;
        if (v === undefined) {
          if (report.fallbacks === 0) fallbacks++; // vanished since the lookup: recompute from here
          break;
        }
        let block: KVCacheArrays;
        try {
          block = this.codec.decode(v, { blockHash: hash, startPosition: (deviceBlocks + j) * B, fingerprint: this.model.fingerprint });
        } catch (err) {
          fallbacks++;
          this.store.recordRejected(rejectReasonOf(err) ?? 'corrupt');
          await this.store.delete([hash]);
          break;
        }
        parts.push(block);
        bytes += v.length;
      }
      this.device.putPrefix(hashes.slice(0, parts.length), (i) => parts[i]);
      const fromStore = parts.length - deviceBlocks;
      const host = this.fromHost(fromStore, hostHits);
      tiers.host = host * B;
      tiers.remote = (fromStore - host) * B;
    }
    this.account(request, tiers);
    if (parts.length === 0) return { tokens: 0, bytes, fallbacks };
    const kv = KVCache.fromArrays(parts.length === 1 ? parts[0]! : joinArrays(parts));
    return { kv, tokens: kv.tokens, bytes, fallbacks };
  }

  async save(_request: ServeRequest, kv: KVCache, match: MatchResult<ThreeTierHandle>, loadedTokens: number): Promise<SaveResult> {
    const { hashes } = match.handle;
    const firstNew = Math.floor(loadedTokens / this.blockSize);
    if (hashes.length <= firstNew) return { blocks: 0, bytes: 0, failed: 0, fallbacks: 0 };
    const arrays = kv.toArrays();
    const blockAt = (b: number): KVCacheArrays => sliceArrays(arrays, b * this.blockSize, (b + 1) * this.blockSize);
    // The engine computed these blocks: they are in its memory now.
    this.device.putPrefix(hashes, blockAt);
    // Tail first, so that an LRU layer keeps the prompt's first blocks longest (see putPrefix).
    const entries = [];
    for (let b = hashes.length - 1; b >= firstNew; b--) entries.push({ hash: hashes[b]!, value: this.codec.encode(this.device.peek(hashes[b]!) ?? blockAt(b), hashes[b]!) });
    const report = newCallReport();
    const r = await this.store.put(entries, { report });
    return { blocks: r.stored, bytes: r.bytesWritten, failed: r.failed, fallbacks: report.fallbacks };
  }

  async close(): Promise<void> {
    await this.store.close();
  }

  /** Blocks served so far by the host layer (a TieredStore's L1), from the store's own per-tier counters. */
  private hostHits(): number {
    const s = this.store;
    if (!(s instanceof TieredStore)) return 0;
    // TieredStore names its tiers by kind when they differ, else by store name.
    return s.stats().hitsByTier[s.l1.tier !== s.l2.tier ? s.l1.tier : s.l1.name] ?? 0;
  }

  /** Of `blocks` just read from the store, how many its host layer served (the rest came from the remote one). */
  private fromHost(blocks: number, hostHitsDuringGet: number): number {
    if (this.store instanceof TieredStore) return Math.min(blocks, hostHitsDuringGet);
    return this.store.tier === 'memory' ? blocks : 0;
  }

  private account(request: ServeRequest, tiers: TierTokens): void {
    const loaded = tiers.device + tiers.host + tiers.remote;
    tiers.computed = request.tokens.length - loaded;
    this.lastRequest = tiers;
    for (const k of ['device', 'host', 'remote', 'computed'] as const) this.tokens[k] += tiers[k];
    this.store.recordTokens('device', tiers.device, 0);
    this.store.recordTokens('host', tiers.host, 0);
    this.store.recordTokens('remote', tiers.remote, tiers.computed);
  }
}
