/**
 * Helpers of notebook 04 (the Redis cache). Everything here talks to real `redis-server` processes:
 * the lab's Redis (`REDIS_URL`), small private servers started for a demo (a tiny `maxmemory` for
 * eviction) and a real 3-master Redis Cluster on loopback. Every number they return is measured or
 * read back from Redis. Loops live here, not in notebook cells (tslab runs cell-level loops ~300×
 * slower), and every helper cleans up the servers and connections it started.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { Cluster, Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { makeWorkload, type WorkloadName } from '../bench/workloads';
import { serdeBlockCodec } from '../engine/codec';
import { NoCacheConnector, PrefixCacheConnector } from '../engine/connector';
import { ServingEngine, type RequestRecord } from '../engine/engine';
import type { ServeRequest } from '../engine/types';
import { hashBlocks } from '../hashing/block-hash';
import { longestPrefix } from '../hashing/lookup';
import { createNamespace } from '../hashing/namespace';
import type { BlockHash } from '../hashing/types';
import type { LlamaModel } from '../model/transformer';
import type { KVDtype } from '../serde/types';
import { sized } from '../runtime/env';
import { ConfigError, InvalidInputError, StoreUnavailableError, describeValue } from '../runtime/errors';
import type { PlotlyFigure } from './figure';
import { StoreTimeoutError, withDeadline } from '../store/redis-base';
import { progress, type ProgressOptions } from '../runtime/progress';
import { SeededRng } from '../runtime/rng';
import { parseByteSize } from '../store/checks';
import { keySlot } from '../store/cluster-slot';
import { freeLoopbackPort, startEmbeddedRedis, type EmbeddedRedis } from '../store/embedded-redis';
import { createStore } from '../store/factory';
import { parseInfo } from '../store/health';
import { RedisStoreBase } from '../store/redis-base';
import { RedisClusterStore } from '../store/redis-cluster-store';
import { RedisStore } from '../store/redis-store';
import { TieredStore } from '../store/tiered-store';
import type { KVStore, StoreHealth, StoreStats } from '../store/types';
import { parseStoreUrl, redactStoreUrl } from '../store/url';
import { median } from '../bench/stats';

// ───────────────────────────── shared bits ─────────────────────────────

/** A row of cells as `table()` shows it. */
export type RedisLabRow = Record<string, string | number | boolean | null | undefined>;

/** Where long helpers draw their progress bar ('auto': the notebook inside tslab, else stderr). */
export type RedisLabProgress = NonNullable<ProgressOptions['target']>;

/** A Redis-backed store (standalone, cluster, or a tiered store in front of one) or a Redis URL. */
export type RedisTarget = KVStore | string;

const MiB = 1024 * 1024;

const NODE_COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f'];

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}


/** `Array.isArray` without narrowing a typed (readonly) array to `any[]`. */
function isList(x: unknown): boolean {
  return Array.isArray(x);
}

function assertInt(value: unknown, what: string, min: number, max: number): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidInputError(`${what} must be an integer in [${min}, ${max}], got ${describeValue(value)}`);
  }
}

function assertOptions(options: unknown, what: string): void {
  if (options !== undefined && (options === null || typeof options !== 'object' || Array.isArray(options))) {
    throw new InvalidInputError(`${what} options must be an object, got ${describeValue(options)}`);
  }
}

function assertModel(model: unknown): asserts model is LlamaModel {
  const m = model as Partial<LlamaModel> | null;
  if (m === null || typeof m !== 'object' || typeof m.prefill !== 'function' || typeof m.fingerprint !== 'string') {
    throw new InvalidInputError(`model must be a LlamaModel (from LlamaModel.create), got ${describeValue(model)}`);
  }
  if (m.isDisposed) throw new InvalidInputError('model has been disposed');
}

/** Anything with the tokenizer's `encode` (the lab's `Tokenizer` fits). */
export interface RedisLabTokenizer {
  encode(text: string): number[];
}

function assertTokenizer(tokenizer: unknown): asserts tokenizer is RedisLabTokenizer {
  const t = tokenizer as Partial<RedisLabTokenizer> | null;
  if (t === null || typeof t !== 'object' || typeof t.encode !== 'function') {
    throw new InvalidInputError(`tokenizer must have encode(text), got ${describeValue(tokenizer)}`);
  }
}

function assertTokens(tokens: unknown, what: string): asserts tokens is number[] {
  if (!Array.isArray(tokens) || tokens.length === 0) throw new InvalidInputError(`${what} must be a non-empty array of token ids, got ${describeValue(tokens)}`);
  tokens.forEach((t: unknown, i) => {
    if (typeof t !== 'number' || (t >>> 0) !== t) throw new InvalidInputError(`${what}[${i}] must be an integer token id, got ${describeValue(t)}`);
  });
}

function assertUrl(url: unknown, what: string): asserts url is string {
  if (typeof url !== 'string' || url.trim() === '') throw new InvalidInputError(`${what} must be a Redis URL string, got ${describeValue(url)}`);
  const parsed = parseStoreUrl(url); // ConfigError for a malformed URL
  if (parsed.kind === 'memory') throw new InvalidInputError(`${what} must point at Redis (redis://…), got "${parsed.redacted}"`);
}

let namespaceCounter = 0;

/**
 * A store namespace nobody used before (`<label>-<time>-<random>`): the notebook's keys never mix
 * with those of an earlier run or another notebook on the same Redis.
 */
export function freshNamespace(label = 'nb04'): string {
  if (typeof label !== 'string' || !/^[A-Za-z0-9._-]{1,32}$/.test(label)) {
    throw new InvalidInputError(`namespace label must be 1–32 characters of [A-Za-z0-9._-], got ${describeValue(label)}`);
  }
  namespaceCounter += 1;
  return `${label}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}${namespaceCounter}`;
}

/** Fixed fingerprint the model-free demos (TTL, eviction) hash their synthetic chains under. */
const DEMO_FINGERPRINT = '4d'.repeat(32);

/** The chained block hashes of `blocks` blocks of seeded token ids after a shared head of `shared` blocks. */
function demoChain(headTokens: readonly number[], rng: SeededRng, blocks: number, blockSize: number): { tokens: number[]; hashes: BlockHash[] } {
  const tokens = headTokens.slice();
  const n = blocks * blockSize - headTokens.length;
  for (let i = 0; i < n; i++) tokens.push(rng.int(50_000));
  const ns = createNamespace({ modelFingerprint: DEMO_FINGERPRINT, kvDtype: 'fp16', kvFormatVersion: 1, blockSize });
  return { tokens, hashes: hashBlocks(tokens, ns) };
}

/** A value of `bytes` bytes standing in for a serialized KV block (Redis stores values as opaque bytes). */
function demoValue(bytes: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(bytes);
  b.fill(seed & 0xff);
  b.writeUInt32LE(seed >>> 0, 0);
  return b;
}

// ───────────────────────────── raw Redis access ─────────────────────────────

interface NodeClient {
  address: string;
  client: Redis;
}

interface RawAccess {
  cluster: boolean;
  /** One client per master (a standalone server is one master). */
  masters: NodeClient[];
  /** Sends a single-key command to the right server (a `Redis` or a `Cluster`). */
  keyClient: Redis | Cluster;
  /** `<prefix>:<namespace>:` of the store, when the target is a store. */
  keyPrefix?: string;
  store?: RedisStoreBase;
  close(): Promise<void>;
}

function redisOf(store: KVStore): RedisStoreBase | undefined {
  if (store instanceof TieredStore) return redisOf(store.l2);
  return store instanceof RedisStoreBase ? store : undefined;
}

function addressOf(client: Redis): string {
  return `${client.options.host ?? '127.0.0.1'}:${client.options.port ?? 6379}`;
}

/** The store's deadline, with a message that says what did not answer. */
function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return withDeadline(promise, ms).catch((err: unknown) => {
    throw err instanceof StoreTimeoutError ? new StoreUnavailableError(`${what}: no answer within ${ms} ms`) : err;
  });
}

/** Connections for inspection: the store's own clients, or new ones for a URL (closed by `close()`). */
async function openRaw(target: RedisTarget, what: string): Promise<RawAccess> {
  if (typeof target === 'string') {
    assertUrl(target, what);
    const parsed = parseStoreUrl(target);
    const common = {
      username: parsed.username,
      password: parsed.password,
      ...(parsed.tls ? { tls: {} } : {}),
      connectTimeout: 2000,
      maxRetriesPerRequest: 1,
      lazyConnect: true,
    };
    if (parsed.kind === 'cluster') {
      const cluster = new Cluster(parsed.nodes, { lazyConnect: true, clusterRetryStrategy: () => null, redisOptions: common, scaleReads: 'master' });
      cluster.on('error', () => undefined);
      try {
        await withTimeout(cluster.connect(), 5000, `connecting to ${parsed.redacted}`);
      } catch (err) {
        cluster.disconnect();
        throw new StoreUnavailableError(`cannot reach the cluster at ${parsed.redacted}: ${(err as Error).message}`, { cause: err });
      }
      const masters = cluster.nodes('master').map((client) => ({ address: addressOf(client), client }));
      return { cluster: true, masters, keyClient: cluster, close: async () => cluster.disconnect() };
    }
    const node = parsed.nodes[0]!;
    const client = new Redis({ host: node.host, port: node.port, db: parsed.db ?? 0, retryStrategy: () => null, ...common });
    client.on('error', () => undefined);
    try {
      await withTimeout(client.connect(), 3000, `connecting to ${parsed.redacted}`);
    } catch (err) {
      client.disconnect();
      throw new StoreUnavailableError(`cannot reach Redis at ${parsed.redacted}: ${(err as Error).message}`, { cause: err });
    }
    return { cluster: false, masters: [{ address: `${node.host}:${node.port}`, client }], keyClient: client, close: async () => client.disconnect() };
  }
  if (target === null || typeof target !== 'object' || typeof (target as KVStore).has !== 'function') {
    throw new InvalidInputError(`${what} needs a Redis store (createStore("redis://…")) or a Redis URL, got ${describeValue(target)}`);
  }
  const store = redisOf(target);
  if (!store) throw new InvalidInputError(`${what} needs a Redis-backed store; '${target.name}' is a ${target.tier} store`);
  if (store instanceof RedisClusterStore) {
    const masters = store.client.nodes('master').map((client) => ({ address: addressOf(client), client }));
    return { cluster: true, masters, keyClient: store.client, keyPrefix: store.keyPrefix, store, close: async () => undefined };
  }
  const single = store as RedisStore;
  return { cluster: false, masters: [{ address: single.address, client: single.client }], keyClient: single.client, keyPrefix: store.keyPrefix, store, close: async () => undefined };
}

// ───────────────────────────── 1 · inspecting keys ─────────────────────────────

export interface InspectKeysOptions {
  /**
   * `SCAN … MATCH` pattern. @default the store's key prefix + `*` (`kvlab:<namespace>:*`), or
   * `kvlab:*` for a URL
   */
  pattern?: string;
  /** Inspect exactly these blocks of a store, in this order (instead of scanning). @default undefined */
  hashes?: readonly BlockHash[];
  /**
   * Keys to describe in `rows` (the scan still counts every match).
   * @default 20
   */
  limit?: number;
  /**
   * `COUNT` hint of each `SCAN` call.
   * @default 1000
   */
  scanCount?: number;
  /**
   * Stop scanning after this many matching keys.
   * @default 100000
   */
  maxScan?: number;
}

export const DEFAULT_INSPECT_KEYS_OPTIONS = { limit: 20, scanCount: 1000, maxScan: 100_000 } as const;

/** One key, as `redis-cli` would describe it. */
export interface KeyRow {
  /** Position in `hashes` (chain order) when blocks were given. */
  block?: number;
  key: string;
  /** `host:port` of the server (cluster master) holding the key's hash slot. */
  node: string;
  /** Redis Cluster hash slot of the key (CRC16 mod 16384), also for a standalone server. */
  slot: number;
  exists: boolean;
  /** `TYPE`: `string` for every block. */
  type: string;
  /** `STRLEN`: bytes of the stored value (the serialized block). */
  'value bytes': number | null;
  /** `MEMORY USAGE … SAMPLES 0`: what the key costs the server, key name and allocator overhead included. */
  'memory bytes': number | null;
  /** `PTTL` in seconds; null = no TTL (or no key). */
  'TTL (s)': number | null;
  /** `OBJECT IDLETIME`: seconds since last access (null under an LFU policy, which does not track it). */
  'idle (s)': number | null;
}

export interface KeyInspection {
  pattern: string;
  /** Keys that matched, per server. */
  perNode: { node: string; keys: number }[];
  /** Keys that matched in all (a scan stops at `maxScan`). */
  matched: number;
  /** The scan stopped at `maxScan`. */
  truncated: boolean;
  rows: KeyRow[];
  /** Sums over `rows`. */
  valueBytes: number;
  memoryBytes: number;
}

async function scanNode(client: Redis, pattern: string, count: number, max: number): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', count);
    cursor = next;
    for (const k of batch) keys.push(k);
  } while (cursor !== '0' && keys.length < max);
  return keys;
}

async function describeKeys(client: Redis, node: string, keys: readonly string[]): Promise<KeyRow[]> {
  if (keys.length === 0) return [];
  const p = client.pipeline();
  for (const k of keys) {
    p.call('TYPE', k);
    p.call('OBJECT', 'IDLETIME', k); // before STRLEN: STRLEN counts as an access (Redis < 7.2 has no CLIENT NO-TOUCH)
    p.call('MEMORY', 'USAGE', k, 'SAMPLES', '0');
    p.call('PTTL', k);
    p.call('STRLEN', k);
  }
  const res = (await p.exec()) ?? [];
  const num = (i: number): number | null => {
    const r = res[i];
    if (!r || r[0]) return null;
    const v = r[1];
    return v === null || v === undefined ? null : Number(v);
  };
  return keys.map((key, j) => {
    const b = j * 5;
    const type = String(res[b]?.[1] ?? 'none');
    const exists = type !== 'none';
    const pttl = num(b + 3);
    return {
      key,
      node,
      slot: keySlot(key),
      exists,
      type,
      'value bytes': exists ? num(b + 4) : null,
      'memory bytes': exists ? num(b + 2) : null,
      'TTL (s)': exists && pttl !== null && pttl >= 0 ? round(pttl / 1000, 1) : null,
      'idle (s)': exists ? num(b + 1) : null,
    };
  });
}

/**
 * Look at keys the way `redis-cli` would: `SCAN … MATCH` on every server (every master of a
 * cluster), then per key `TYPE`, `STRLEN`, `MEMORY USAGE`, `PTTL`, `OBJECT IDLETIME` and the hash
 * slot. With `hashes` it describes exactly those blocks of the store, in chain order (missing ones
 * get `exists: false`). Reading `STRLEN` counts as an access for LRU.
 */
export async function inspectKeys(target: RedisTarget, options: InspectKeysOptions = {}): Promise<KeyInspection> {
  assertOptions(options, 'inspectKeys');
  const limit = options.limit ?? DEFAULT_INSPECT_KEYS_OPTIONS.limit;
  const scanCount = options.scanCount ?? DEFAULT_INSPECT_KEYS_OPTIONS.scanCount;
  const maxScan = options.maxScan ?? DEFAULT_INSPECT_KEYS_OPTIONS.maxScan;
  assertInt(limit, 'limit', 1, 10_000);
  assertInt(scanCount, 'scanCount', 1, 1_000_000);
  assertInt(maxScan, 'maxScan', 1, 10_000_000);
  if (options.pattern !== undefined && (typeof options.pattern !== 'string' || options.pattern === '')) {
    throw new InvalidInputError(`pattern must be a non-empty string, got ${describeValue(options.pattern)}`);
  }
  if (options.hashes !== undefined) {
    if (typeof target === 'string') throw new InvalidInputError('inspectKeys: `hashes` needs a store (it knows the key layout), not a URL');
    if (!Array.isArray(options.hashes)) throw new InvalidInputError(`hashes must be an array of block hashes, got ${describeValue(options.hashes)}`);
  }
  const raw = await openRaw(target, 'inspectKeys');
  try {
    if (options.hashes !== undefined) {
      const store = raw.store!;
      const keys = options.hashes.map((h, i) => {
        if (typeof h !== 'string' || !/^[0-9a-f]{64}$/.test(h)) throw new InvalidInputError(`hashes[${i}] is not a block hash: ${describeValue(h)}`);
        return store.keyFor(h);
      });
      const shown = keys.slice(0, limit);
      const byNode = new Map<string, number[]>();
      shown.forEach((k, i) => {
        const node = raw.cluster ? ((raw.keyClient as Cluster).slots[keySlot(k)]?.[0] ?? 'unknown') : raw.masters[0]!.address;
        const list = byNode.get(node) ?? [];
        list.push(i);
        byNode.set(node, list);
      });
      const rows = new Array<KeyRow>(shown.length);
      await Promise.all(
        [...byNode].map(async ([node, idx]) => {
          const client = raw.masters.find((m) => m.address === node)?.client;
          let described: KeyRow[];
          try {
            if (!client) throw new StoreUnavailableError(`no connection to ${node}`);
            described = await withTimeout(describeKeys(client, node, idx.map((i) => shown[i]!)), 3000, `inspecting keys on ${node}`);
          } catch {
            described = idx.map((i) => ({ key: shown[i]!, node, slot: keySlot(shown[i]!), exists: false, type: 'unreachable', 'value bytes': null, 'memory bytes': null, 'TTL (s)': null, 'idle (s)': null }));
          }
          idx.forEach((i, j) => (rows[i] = { block: i, ...described[j]! }));
        }),
      );
      const present = rows.filter((r) => r.exists);
      const perNode = [...byNode].map(([node, idx]) => ({ node, keys: idx.filter((i) => rows[i]!.exists).length }));
      return {
        pattern: `${store.keyPrefix}<hash>`,
        perNode,
        matched: present.length,
        truncated: keys.length > shown.length,
        rows,
        valueBytes: present.reduce((a, r) => a + (r['value bytes'] ?? 0), 0),
        memoryBytes: present.reduce((a, r) => a + (r['memory bytes'] ?? 0), 0),
      };
    }
    const pattern = options.pattern ?? (raw.keyPrefix !== undefined ? `${raw.keyPrefix}*` : 'kvlab:*');
    const scanned = await Promise.all(
      raw.masters.map(async (m) => {
        try {
          return { node: m.address, client: m.client, keys: await withTimeout(scanNode(m.client, pattern, scanCount, maxScan), 10_000, `SCAN on ${m.address}`) };
        } catch {
          return { node: m.address, client: m.client, keys: [] as string[] };
        }
      }),
    );
    const all = scanned.flatMap((s) => s.keys.map((key) => ({ key, node: s.node, client: s.client })));
    all.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const shown = all.slice(0, limit);
    const rows: KeyRow[] = [];
    for (const s of scanned) {
      const mine = shown.filter((x) => x.node === s.node).map((x) => x.key);
      rows.push(...(await describeKeys(s.client, s.node, mine)));
    }
    rows.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return {
      pattern,
      perNode: scanned.map((s) => ({ node: s.node, keys: s.keys.length })),
      matched: all.length,
      truncated: scanned.some((s) => s.keys.length >= maxScan),
      rows,
      valueBytes: rows.reduce((a, r) => a + (r['value bytes'] ?? 0), 0),
      memoryBytes: rows.reduce((a, r) => a + (r['memory bytes'] ?? 0), 0),
    };
  } finally {
    await raw.close();
  }
}

/** Shorten keys for display: `kvlab:<namespace>:1a2b3c4d…` (the full key is in `KeyRow.key`). */
export function keyRowsForDisplay(inspection: KeyInspection, options: { hashChars?: number } = {}): RedisLabRow[] {
  if (!inspection || !Array.isArray(inspection.rows)) throw new InvalidInputError(`keyRowsForDisplay needs the result of inspectKeys, got ${describeValue(inspection)}`);
  const n = options.hashChars ?? 12;
  return inspection.rows.map((r) => {
    const i = r.key.lastIndexOf(':');
    const key = i >= 0 && r.key.length - i - 1 > n ? `${r.key.slice(0, i + 1)}${r.key.slice(i + 1, i + 1 + n)}…` : r.key;
    return {
      ...(r.block !== undefined ? { block: r.block } : {}),
      key,
      node: r.node,
      slot: r.slot,
      type: r.type,
      'value bytes': r['value bytes'],
      'memory bytes': r['memory bytes'],
      'TTL (s)': r.exists ? (r['TTL (s)'] ?? 'none') : '',
      'idle (s)': r['idle (s)'],
    };
  });
}

// ───────────────────────────── 2 · TTL ─────────────────────────────

export interface TtlDemoOptions {
  /** TTL of every block (`SET … EX`). @default 2 (fast mode), 3 */
  ttlSeconds?: number;
  /** Blocks in each of the two groups. @default 4 */
  blocks?: number;
  /** Bytes per block value. @default 4096 */
  blockBytes?: number;
  /** Milliseconds between two samples of the TTLs. @default 200 */
  sampleMs?: number;
  /** Store namespace. @default a fresh one */
  namespace?: string;
}

export const DEFAULT_TTL_DEMO_OPTIONS = { blocks: 4, blockBytes: 4096, sampleMs: 200 } as const;

export interface TtlSample {
  't (s)': number;
  event: string;
  /** PTTL of the first block of each group, in seconds (null once it expired). */
  'TTL, block read with get() (s)': number | null;
  'TTL, block checked with has() (s)': number | null;
  'get() group: blocks alive': number;
  'has() group: blocks alive': number;
}

export interface TtlDemoResult {
  ttlSeconds: number;
  blocks: number;
  /** Seconds after the writes at which one group was read with `get` and the other checked with `has`. */
  touchedAtS: number;
  samples: TtlSample[];
  /** What `has` / `get` answered at the touch. */
  touch: { hasFound: number; getFound: number };
  checks: {
    /** At the first sample after the original TTL ran out: blocks of each group still there. */
    afterTtl: { t: number; getGroupAlive: number; hasGroupAlive: number };
    /** Both groups gone at the end. */
    allGoneAtEnd: boolean;
  };
  namespace: string;
}

/**
 * TTLs for real: writes two groups of blocks with `SET … EX ttl`, and halfway through reads one group
 * with `get` (which refreshes the TTL of hits: `GETEX … EX ttl`) and checks the other with `has`
 * (`EXISTS`, which does not). Samples `PTTL` until both groups have expired: the `has` group is gone
 * when the first TTL runs out, the `get` group half a TTL later.
 */
export async function ttlDemo(url: string, options: TtlDemoOptions = {}): Promise<TtlDemoResult> {
  assertUrl(url, 'ttlDemo url');
  assertOptions(options, 'ttlDemo');
  const ttl = options.ttlSeconds ?? sized(2, 3);
  const n = options.blocks ?? DEFAULT_TTL_DEMO_OPTIONS.blocks;
  const blockBytes = options.blockBytes ?? DEFAULT_TTL_DEMO_OPTIONS.blockBytes;
  const sampleMs = options.sampleMs ?? DEFAULT_TTL_DEMO_OPTIONS.sampleMs;
  assertInt(ttl, 'ttlSeconds', 1, 60);
  assertInt(n, 'blocks', 1, 1000);
  assertInt(blockBytes, 'blockBytes', 1, 8 * MiB);
  assertInt(sampleMs, 'sampleMs', 20, 5000);
  const namespace = options.namespace ?? freshNamespace('ttl');
  const kv = await createStore(url, { namespace, ttlSeconds: ttl, name: 'ttl-demo', requireReachable: true });
  const store = redisOf(kv);
  if (!store) {
    await kv.close();
    throw new ConfigError('ttlDemo needs a Redis URL');
  }
  let raw: RawAccess | undefined;
  try {
    raw = await openRaw(store, 'ttlDemo');
    const keyClient = raw.keyClient;
    const rng = new SeededRng(7);
    const chain = demoChain([], rng, 2 * n, 16).hashes;
    const getGroup = chain.slice(0, n);
    const hasGroup = chain.slice(n);
    const put = await store.put(chain.map((hash, i) => ({ hash, value: demoValue(blockBytes, i) })));
    if (put.stored !== chain.length) throw new StoreUnavailableError(`ttlDemo: only ${put.stored} of ${chain.length} blocks were stored`);
    const t0 = performance.now();
    const keys = chain.map((h) => store.keyFor(h));
    const samples: TtlSample[] = [];
    const sample = async (event: string): Promise<TtlSample> => {
      const pttls = await Promise.all(keys.map((k) => keyClient.pttl(k)));
      const ttlOf = (i: number): number | null => (pttls[i]! >= 0 ? round(pttls[i]! / 1000, 2) : null);
      const s: TtlSample = {
        't (s)': round((performance.now() - t0) / 1000, 2),
        event,
        'TTL, block read with get() (s)': ttlOf(0),
        'TTL, block checked with has() (s)': ttlOf(n),
        'get() group: blocks alive': pttls.slice(0, n).filter((p) => p !== -2).length,
        'has() group: blocks alive': pttls.slice(n).filter((p) => p !== -2).length,
      };
      samples.push(s);
      return s;
    };
    await sample(`${2 * n} blocks written with TTL ${ttl} s`);
    const touchAt = (ttl * 1000) / 2;
    const end = touchAt + ttl * 1000 + 400;
    let touched = false;
    const touch = { hasFound: 0, getFound: 0 };
    let afterTtl: TtlDemoResult['checks']['afterTtl'] | undefined;
    for (;;) {
      const elapsed = performance.now() - t0;
      if (elapsed >= end) break;
      const nextTick = Math.ceil((elapsed + 1) / sampleMs) * sampleMs;
      const next = !touched && touchAt <= nextTick ? touchAt : nextTick;
      await sleep(Math.max(0, next - (performance.now() - t0)));
      if (!touched && performance.now() - t0 >= touchAt) {
        touched = true;
        touch.hasFound = (await store.has(hasGroup)).filter(Boolean).length;
        touch.getFound = (await store.get(getGroup)).filter((v) => v !== undefined).length;
        await sample(`get() on one group (TTL refreshed), has() on the other (not)`);
        continue;
      }
      const s = await sample('');
      if (!afterTtl && s['t (s)'] >= ttl + 0.15) {
        afterTtl = { t: s['t (s)'], getGroupAlive: s['get() group: blocks alive'], hasGroupAlive: s['has() group: blocks alive'] };
        s.event = `original TTL (${ttl} s) over`;
      }
    }
    const last = await sample('end');
    return {
      ttlSeconds: ttl,
      blocks: n,
      touchedAtS: touchAt / 1000,
      samples,
      touch,
      checks: {
        afterTtl: afterTtl ?? { t: NaN, getGroupAlive: NaN, hasGroupAlive: NaN },
        allGoneAtEnd: last['get() group: blocks alive'] === 0 && last['has() group: blocks alive'] === 0,
      },
      namespace,
    };
  } finally {
    await raw?.close();
    await kv.close();
  }
}

/** TTL of one block of each group over time. */
export function ttlFigure(result: TtlDemoResult): PlotlyFigure {
  if (!result || !Array.isArray(result.samples)) throw new InvalidInputError(`ttlFigure needs the result of ttlDemo, got ${describeValue(result)}`);
  const x = result.samples.map((s) => s['t (s)']);
  // An expired key has no TTL: draw it at 0 so the line visibly ends.
  const y = (k: 'TTL, block read with get() (s)' | 'TTL, block checked with has() (s)'): number[] => result.samples.map((s) => s[k] ?? 0);
  return {
    data: [
      { type: 'scatter', mode: 'lines+markers', name: 'block read with get() (TTL refreshed on hit)', x, y: y('TTL, block read with get() (s)'), line: { shape: 'hv', color: '#2ca02c' } },
      { type: 'scatter', mode: 'lines+markers', name: 'block checked with has() (not refreshed)', x, y: y('TTL, block checked with has() (s)'), line: { shape: 'hv', color: '#ff7f0e', dash: 'dot' } },
    ],
    layout: {
      title: { text: `Remaining TTL (PTTL) of two blocks written with EX ${result.ttlSeconds}` },
      xaxis: { title: { text: 'seconds since the write' } },
      yaxis: { title: { text: 'remaining TTL (s); 0 = expired' }, rangemode: 'tozero' },
      shapes: [{ type: 'line', x0: result.touchedAtS, x1: result.touchedAtS, yref: 'paper', y0: 0, y1: 1, line: { dash: 'dash', color: '#888' } }],
      annotations: [{ x: result.touchedAtS, yref: 'paper', y: 1, text: 'get() / has()', showarrow: false, yanchor: 'bottom' }],
      legend: { orientation: 'h', y: -0.25 },
    },
  };
}

// ───────────────────────────── 3 · eviction under a small maxmemory ─────────────────────────────

export const EVICTION_POLICIES = ['allkeys-lru', 'allkeys-lfu', 'allkeys-random', 'volatile-lru', 'volatile-lfu', 'volatile-random', 'volatile-ttl', 'noeviction'] as const;
export type EvictionPolicy = (typeof EVICTION_POLICIES)[number];

export interface EvictionDemoOptions {
  /** `maxmemory` of the private server (a byte count or `4mb`). @default '4mb' (fast mode), '16mb' */
  maxmemory?: string | number;
  /** `maxmemory-policy`. @default 'allkeys-lru' */
  policy?: EvictionPolicy;
  /** Requests replayed. @default 96 (fast mode), 192 */
  requests?: number;
  /** Conversations open at any time; a finished one is replaced by a new one. @default 3 */
  sessions?: number;
  /** Requests per conversation before it ends. @default 6 */
  turns?: number;
  /** Leading blocks every prompt shares (a system prompt). @default 4 */
  sharedBlocks?: number;
  /** Blocks each turn adds to its conversation. @default 2 */
  turnBlocks?: number;
  /** Bytes per block value. @default 32768 (fast mode), 65536 */
  blockBytes?: number;
  /** Tokens per block (hash chains). @default 16 */
  blockSize?: number;
  /** Seed of the token ids and of the session choices. @default 1 */
  seed?: number;
  /** `redis-server` executable. @default 'redis-server' */
  redisServer?: string;
  progress?: RedisLabProgress;
}

export interface EvictionRequestRow {
  request: number;
  session: number;
  'prompt blocks': number;
  /** Leading blocks the lookup found (loaded instead of recomputed). */
  'blocks found': number;
  /** What an unbounded cache would have found. */
  'blocks an unbounded cache finds': number;
  'blocks written': number;
  'writes rejected': number;
  'used memory (MiB)': number;
  'keys in Redis': number;
  'evicted keys (total)': number;
}

export interface EvictionLookupRow {
  session: number;
  /** The session's last request (its longest prompt). */
  'last request': number;
  blocks: number;
  /** Leading blocks present: the KV a request could load. */
  'usable prefix (blocks)': number;
  /** Index of the first missing block (where the lookup stops), or '' if none is missing. */
  'first hole at block': number | string;
  /** Present after the hole: stored but useless to this prompt. */
  'stranded blocks': number;
  'evicted blocks': number;
}

export interface EvictionDemoResult {
  policy: EvictionPolicy;
  maxmemoryBytes: number;
  blockBytes: number;
  blockSize: number;
  /** One row per replayed request: what its lookup found and what its writes did to the server. */
  timeline: EvictionRequestRow[];
  /** Final lookup of every session's longest prompt, after the whole replay. */
  lookups: EvictionLookupRow[];
  /** `present[s][b]`: block b of session s's longest prompt is still in Redis at the end. */
  present: boolean[][];
  /** Redis `INFO stats` `evicted_keys` at the end. */
  evictedKeys: number;
  /** Blocks stored / rejected by the server (OOM under `noeviction`). */
  stored: number;
  rejected: number;
  /** Blocks found by the replay's lookups, and what an unbounded cache would have found. */
  blocksFound: number;
  blocksFoundUnbounded: number;
  blocksAsked: number;
  usedMemoryBytes: number;
  keys: number;
  health: StoreHealth;
  /** Wall time of the replay (Redis' LRU clock ticks once per second). */
  seconds: number;
}

interface ReplayRequest {
  session: number;
  hashes: BlockHash[];
}

/** The seeded request stream: interleaved conversations growing turn by turn after a shared head. */
function evictionStream(o: { requests: number; sessions: number; turns: number; sharedBlocks: number; turnBlocks: number; blockSize: number; seed: number }): ReplayRequest[] {
  const rng = new SeededRng(o.seed);
  const ns = createNamespace({ modelFingerprint: DEMO_FINGERPRINT, kvDtype: 'fp16', kvFormatVersion: 1, blockSize: o.blockSize });
  const randomTokens = (n: number): number[] => Array.from({ length: n }, () => rng.int(50_000));
  const head = randomTokens(o.sharedBlocks * o.blockSize);
  let nextSession = 0;
  const open = Array.from({ length: o.sessions }, () => ({ id: nextSession++, tokens: head.slice(), turns: 0 }));
  const out: ReplayRequest[] = [];
  while (out.length < o.requests) {
    const i = rng.int(open.length);
    const s = open[i]!;
    s.tokens.push(...randomTokens(o.turnBlocks * o.blockSize));
    s.turns++;
    out.push({ session: s.id, hashes: hashBlocks(s.tokens, ns) });
    if (s.turns >= o.turns) open[i] = { id: nextSession++, tokens: head.slice(), turns: 0 };
  }
  return out;
}

/**
 * Eviction for real: starts a private `redis-server` with a small `maxmemory` and the given policy,
 * and replays interleaved conversations the way the engine serves them — look up the prompt's chain
 * (`EXISTS`, which is not an access), read the blocks found (`GET`, an access for LRU/LFU), write the
 * missing blocks — with about twice as many bytes as fit. Reports Redis' own `evicted_keys`, rejected
 * writes, the blocks each lookup found against an unbounded cache, and for every conversation where
 * its longest-prefix lookup stops at the end (the first missing block) and how many blocks are
 * stranded after that hole. The server is stopped at the end.
 */
export async function evictionDemo(options: EvictionDemoOptions = {}): Promise<EvictionDemoResult> {
  assertOptions(options, 'evictionDemo');
  const policy = options.policy ?? 'allkeys-lru';
  if (!(EVICTION_POLICIES as readonly string[]).includes(policy)) {
    throw new InvalidInputError(`policy must be one of ${EVICTION_POLICIES.join(', ')}, got ${describeValue(policy)}`);
  }
  const maxmemoryInput = options.maxmemory ?? sized('4mb', '16mb');
  if (typeof maxmemoryInput !== 'string' && typeof maxmemoryInput !== 'number') {
    throw new InvalidInputError(`maxmemory must be a byte count or a size like '4mb', got ${describeValue(maxmemoryInput)}`);
  }
  const maxmemory = parseByteSize(maxmemoryInput, 'maxmemory');
  if (maxmemory < 2 * MiB || maxmemory > 1024 * MiB) throw new InvalidInputError(`maxmemory must be between 2 MiB and 1 GiB (Redis itself needs ~1 MiB), got ${maxmemory} bytes`);
  const o = {
    requests: options.requests ?? sized(96, 192),
    sessions: options.sessions ?? 3,
    turns: options.turns ?? 6,
    sharedBlocks: options.sharedBlocks ?? 4,
    turnBlocks: options.turnBlocks ?? 2,
    blockSize: options.blockSize ?? 16,
    seed: options.seed ?? 1,
  };
  const blockBytes = options.blockBytes ?? sized(32_768, 65_536);
  assertInt(o.requests, 'requests', 1, 100_000);
  assertInt(o.sessions, 'sessions', 1, 1000);
  assertInt(o.turns, 'turns', 1, 1000);
  assertInt(o.sharedBlocks, 'sharedBlocks', 0, 1000);
  assertInt(o.turnBlocks, 'turnBlocks', 1, 1000);
  assertInt(o.blockSize, 'blockSize', 1, 4096);
  assertInt(o.seed, 'seed', 0, 2 ** 31);
  assertInt(blockBytes, 'blockBytes', 64, 4 * MiB);
  if (blockBytes * 8 > maxmemory) throw new InvalidInputError(`blockBytes (${blockBytes}) is too large for maxmemory ${maxmemory}: at least 8 blocks must fit`);
  const stream = evictionStream(o);

  const server = await startEmbeddedRedis({
    args: ['--maxmemory', String(maxmemory), '--maxmemory-policy', policy],
    ...(options.redisServer ? { command: options.redisServer } : {}),
  });
  const bar = progress(stream.length + 1, `eviction demo (${policy})`, { target: options.progress ?? 'auto' });
  const store = new RedisStore({ url: server.url, namespace: 'evict', name: `evict-${policy}`, commandTimeout: 5000 });
  try {
    if (!(await store.ready(5000))) throw new StoreUnavailableError(`eviction demo: cannot reach the private redis-server at ${server.url}`);
    const info = async (): Promise<{ used: number; evicted: number; keys: number }> => {
      const res = (await store.client.pipeline().info('memory').info('stats').dbsize().exec()) ?? [];
      const mem = parseInfo(String(res[0]?.[1] ?? ''));
      const stats = parseInfo(String(res[1]?.[1] ?? ''));
      return { used: Number(mem.used_memory ?? 0), evicted: Number(stats.evicted_keys ?? 0), keys: Number(res[2]?.[1] ?? 0) };
    };
    const started = performance.now();
    const everStored = new Set<BlockHash>(); // what an unbounded cache would hold
    const timeline: EvictionRequestRow[] = [];
    let stored = 0;
    let rejected = 0;
    let found = 0;
    let foundUnbounded = 0;
    let asked = 0;
    let valueSeed = 0;
    for (let r = 0; r < stream.length; r++) {
      const { session, hashes } = stream[r]!;
      let unbounded = 0;
      while (unbounded < hashes.length && everStored.has(hashes[unbounded]!)) unbounded++;
      const match = await longestPrefix(store, hashes, { blockSize: o.blockSize });
      if (match.matchedBlocks > 0) await store.get(hashes.slice(0, match.matchedBlocks)); // the load: an access for LRU/LFU
      let written = 0;
      let failed = 0;
      // Write in small batches, as blocks leave prefill (one huge pipeline would itself fill the query buffer).
      for (let b = match.matchedBlocks; b < hashes.length; b += 8) {
        const batch = hashes.slice(b, b + 8);
        const res = await store.put(batch.map((hash) => ({ hash, value: demoValue(blockBytes, ++valueSeed) })));
        written += res.stored;
        failed += res.failed;
      }
      for (const h of hashes) everStored.add(h);
      found += match.matchedBlocks;
      foundUnbounded += unbounded;
      asked += hashes.length;
      stored += written;
      rejected += failed;
      const s = await info();
      timeline.push({
        request: r,
        session,
        'prompt blocks': hashes.length,
        'blocks found': match.matchedBlocks,
        'blocks an unbounded cache finds': unbounded,
        'blocks written': written,
        'writes rejected': failed,
        'used memory (MiB)': round(s.used / MiB, 2),
        'keys in Redis': s.keys,
        'evicted keys (total)': s.evicted,
      });
      bar.tick();
    }
    const seconds = (performance.now() - started) / 1000;
    // The longest prompt of every session, looked up once more now that the replay is over.
    const last = new Map<number, number>();
    stream.forEach((q, i) => last.set(q.session, i));
    const present: boolean[][] = [];
    const lookups: EvictionLookupRow[] = [];
    for (const [session, i] of [...last].sort((a, b) => a[0] - b[0])) {
      const m = await longestPrefix(store, stream[i]!.hashes, { blockSize: o.blockSize });
      present.push(m.present);
      lookups.push({
        session,
        'last request': i,
        blocks: m.totalBlocks,
        'usable prefix (blocks)': m.matchedBlocks,
        'first hole at block': m.matchedBlocks < m.totalBlocks ? m.matchedBlocks : '',
        'stranded blocks': m.strandedBlocks,
        'evicted blocks': m.present.filter((x) => !x).length,
      });
    }
    const end = await info();
    const health = await store.health();
    bar.done(`eviction demo (${policy}): ${end.evicted} keys evicted`);
    return {
      policy,
      maxmemoryBytes: maxmemory,
      blockBytes,
      blockSize: o.blockSize,
      timeline,
      lookups,
      present,
      evictedKeys: end.evicted,
      stored,
      rejected,
      blocksFound: found,
      blocksFoundUnbounded: foundUnbounded,
      blocksAsked: asked,
      usedMemoryBytes: end.used,
      keys: end.keys,
      health,
      seconds: round(seconds, 2),
    };
  } finally {
    await store.close();
    await server.stop();
  }
}

/** One row per policy: what the replay got out of the cache and what the server did. */
export function evictionSummaryRows(results: readonly EvictionDemoResult[]): RedisLabRow[] {
  if (!isList(results)) throw new InvalidInputError(`evictionSummaryRows needs an array of evictionDemo results, got ${describeValue(results)}`);
  return results.map((r) => ({
    policy: r.policy,
    'maxmemory (MiB)': round(r.maxmemoryBytes / MiB, 2),
    'replay (s)': r.seconds,
    'blocks written': r.stored,
    'writes rejected (OOM)': r.rejected,
    'evicted keys': r.evictedKeys,
    'keys left': r.keys,
    'blocks found': r.blocksFound,
    'an unbounded cache finds': r.blocksFoundUnbounded,
    'found ÷ unbounded': round(r.blocksFound / Math.max(1, r.blocksFoundUnbounded), 3),
    'sessions fully cached at the end': r.lookups.filter((l) => l['usable prefix (blocks)'] === l.blocks).length,
    'stranded blocks': r.lookups.reduce((a, l) => a + l['stranded blocks'], 0),
    'health warnings': r.health.warnings.length,
  }));
}

/** Replay the same requests under several policies (one private server each, one after the other). */
export async function compareEvictionPolicies(policies: readonly EvictionPolicy[], options: Omit<EvictionDemoOptions, 'policy'> = {}): Promise<EvictionDemoResult[]> {
  if (!isList(policies) || policies.length === 0) throw new InvalidInputError(`policies must be a non-empty array, got ${describeValue(policies)}`);
  const out: EvictionDemoResult[] = [];
  for (const policy of policies) out.push(await evictionDemo({ ...options, policy }));
  return out;
}

/** Which blocks of every session's longest prompt survived: usable prefix, evicted, stranded after a hole. */
export function evictionFigure(result: EvictionDemoResult): PlotlyFigure {
  if (!result || !Array.isArray(result.present)) throw new InvalidInputError(`evictionFigure needs the result of evictionDemo, got ${describeValue(result)}`);
  const width = Math.max(0, ...result.present.map((p) => p.length));
  const z = result.present.map((present) => {
    const first = present.indexOf(false);
    const row: (number | null)[] = present.map((p, b) => (!p ? 0 : first >= 0 && b > first ? 1 : 2));
    while (row.length < width) row.push(null);
    return row;
  });
  return {
    data: [
      {
        type: 'heatmap',
        z,
        x: Array.from({ length: width }, (_, b) => b),
        y: result.lookups.map((l) => `session ${l.session}`),
        zmin: 0,
        zmax: 2,
        colorscale: [
          [0, '#d62728'], [0.333, '#d62728'],
          [0.333, '#ffbf00'], [0.666, '#ffbf00'],
          [0.666, '#2ca02c'], [1, '#2ca02c'],
        ],
        colorbar: { tickvals: [0.33, 1, 1.67], ticktext: ['evicted', 'stranded', 'usable prefix'] },
        xgap: 1,
        ygap: 1,
        hovertemplate: '%{y}, block %{x}<extra></extra>',
      },
    ],
    layout: {
      title: { text: `Blocks left at the end (maxmemory ${round(result.maxmemoryBytes / MiB, 1)} MiB, ${result.policy})` },
      xaxis: { title: { text: 'block of the session\'s longest prompt (chain order)' } },
      yaxis: { autorange: 'reversed', title: { text: 'sessions, oldest first' }, type: 'category' },
      height: Math.max(380, 16 * z.length + 160),
    },
  };
}

/** Blocks found per request (running share of what an unbounded cache finds) and evicted keys, per policy. */
export function evictionTimelineFigure(results: readonly EvictionDemoResult[]): PlotlyFigure {
  if (!isList(results) || results.length === 0) throw new InvalidInputError(`evictionTimelineFigure needs evictionDemo results, got ${describeValue(results)}`);
  const data: Record<string, unknown>[] = [];
  results.forEach((r, i) => {
    const color = NODE_COLORS[i % NODE_COLORS.length];
    const x = r.timeline.map((t) => t.request);
    const found = cumulative(r.timeline.map((t) => t['blocks found']));
    const ideal = cumulative(r.timeline.map((t) => t['blocks an unbounded cache finds']));
    data.push({ type: 'scatter', mode: 'lines', name: `${r.policy}: blocks found ÷ unbounded cache`, x, y: found.map((f, j) => (ideal[j]! > 0 ? round(f / ideal[j]!, 3) : null)), line: { color } });
    if (r.evictedKeys > 0) data.push({ type: 'scatter', mode: 'lines', name: `${r.policy}: evicted keys`, x, y: r.timeline.map((t) => t['evicted keys (total)']), yaxis: 'y2', line: { color, dash: 'dot' } });
    if (r.rejected > 0) data.push({ type: 'scatter', mode: 'lines', name: `${r.policy}: writes rejected`, x, y: cumulative(r.timeline.map((t) => t['writes rejected'])), yaxis: 'y2', line: { color, dash: 'dash' } });
  });
  return {
    data,
    layout: {
      title: { text: 'During the replay: reuse compared with an unbounded cache, evictions, rejected writes' },
      xaxis: { title: { text: 'requests replayed' } },
      yaxis: { title: { text: 'blocks found ÷ unbounded cache (running)' }, range: [0, 1.05] },
      yaxis2: { title: { text: 'keys (cumulative)' }, overlaying: 'y', side: 'right', rangemode: 'tozero' },
      legend: { orientation: 'h', y: -0.3 },
      height: 480,
    },
  };
}

function cumulative(xs: readonly number[]): number[] {
  let s = 0;
  return xs.map((x) => (s += x));
}

// ───────────────────────────── 4 · Redis Cluster ─────────────────────────────

export interface ClusterDemoOptions {
  /** Masters (no replicas). @default 3 */
  masters?: number;
  /**
   * `cluster-require-full-coverage`: with `true` (Redis' default) the whole cluster refuses queries
   * once any hash slot is unserved; with `false` the other masters keep serving their slots.
   * @default false
   */
  requireFullCoverage?: boolean;
  /** `cluster-node-timeout`: how long a silent node takes to be declared failed. @default 1000 */
  nodeTimeoutMs?: number;
  /** The store's per-operation timeout (ms). @default 300 */
  commandTimeout?: number;
  /** Store namespace. @default a fresh one */
  namespace?: string;
  /** Executables. @default 'redis-server', 'redis-cli' */
  redisServer?: string;
  redisCli?: string;
}

export const DEFAULT_CLUSTER_DEMO_OPTIONS = { masters: 3, requireFullCoverage: false, nodeTimeoutMs: 1000, commandTimeout: 300 } as const;

export interface ClusterDemoNode {
  index: number;
  address: string;
  port: number;
  /** Cluster bus port (gossip between nodes). */
  busPort: number;
  pid: number | undefined;
  alive: boolean;
  /** Hash slot ranges it serves, e.g. `0-5460`. */
  slots: string;
}

export interface ClusterServeResult {
  record: RequestRecord;
  /** The prompt's chained block hashes (full blocks). */
  hashes: BlockHash[];
  blockSize: number;
}

export interface ClusterPlacementRow {
  block: number;
  tokens: string;
  slot: number;
  node: string;
  /** `EXISTS` on that very node (not through the cluster client). */
  'on that node': boolean;
  'value bytes': number | null;
}

export interface ClusterPlacement {
  rows: ClusterPlacementRow[];
  perNode: { node: string; slots: string; blocks: number; 'first block': number | string; 'value bytes': number }[];
  /**
   * The master whose first block of this chain comes latest: killing it leaves the longest usable
   * prefix on the live masters (the clearest picture of "a lookup stops at the first hole").
   */
  suggestedVictim: string;
}

export interface ClusterProbeRow {
  block: number;
  node: string;
  'node alive': boolean;
  'has()': boolean;
  'get()': 'hit' | 'miss';
}

export interface ClusterProbe {
  rows: ClusterProbeRow[];
  summary: {
    'blocks on live masters': number;
    'get() hits': number;
    'blocks on dead masters': number;
    'get() misses': number;
    /** Hits for a block on a dead node or misses for one on a live node. */
    'unexpected answers': number;
    'has() (ms)': number;
    'get() (ms)': number;
    'exceptions thrown': number;
    'fallbacks counted': number;
    'errors counted': number;
  };
}

export interface ClusterWatchSample {
  't (ms)': number;
  'blocks found (get)': number;
  'blocks on live masters': number;
  'cluster_state': string;
  'killed node flagged': string;
  'get() (ms)': number;
}

export interface ClusterWatch {
  requireFullCoverage: boolean;
  killed: string;
  samples: ClusterWatchSample[];
  /** Milliseconds after the kill when the other nodes flagged it `fail` (undefined if not seen). */
  failDetectedAfterMs?: number;
}

function execFileText(cmd: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) {
        const e = err as NodeJS.ErrnoException;
        reject(
          new StoreUnavailableError(
            e.code === 'ENOENT' ? `'${cmd}' not found: install Redis (apt-get install redis-server / brew install redis)` : `${cmd} ${args.slice(0, 2).join(' ')} failed: ${String(stderr || stdout || e.message).trim().slice(0, 400)}`,
            { cause: err },
          ),
        );
      } else resolve(String(stdout));
    });
  });
}

function portRefuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' }, () => {
      s.destroy();
      resolve(false);
    });
    s.on('error', () => resolve(true));
  });
}

/** Ranges like `0-5460,10923` from a sorted list of slots. */
function slotRanges(ranges: [number, number][]): string {
  return ranges
    .sort((a, b) => a[0] - b[0])
    .map(([a, b]) => (a === b ? String(a) : `${a}-${b}`))
    .join(',');
}

/**
 * A real Redis Cluster on loopback for the notebook: N masters (`redis-server --cluster-enabled yes`
 * on free ports, each with its own bus port and data folder), joined with
 * `redis-cli --cluster create … --cluster-replicas 0`, and a {@link RedisClusterStore} on it.
 * Kill a node with {@link ClusterDemo.killNode}; `stop()` removes everything.
 */
export class ClusterDemo {
  readonly nodes: ClusterDemoNode[];
  readonly store: RedisClusterStore;
  readonly requireFullCoverage: boolean;
  readonly nodeTimeoutMs: number;
  private readonly servers: EmbeddedRedis[];
  private readonly admin: Map<string, Redis>;
  private readonly engines = new Map<LlamaModel, { engine: ServingEngine; connector: PrefixCacheConnector }>();
  private stopped: Promise<void> | undefined;

  private constructor(nodes: ClusterDemoNode[], servers: EmbeddedRedis[], admin: Map<string, Redis>, store: RedisClusterStore, requireFullCoverage: boolean, nodeTimeoutMs: number) {
    this.nodes = nodes;
    this.servers = servers;
    this.admin = admin;
    this.store = store;
    this.requireFullCoverage = requireFullCoverage;
    this.nodeTimeoutMs = nodeTimeoutMs;
  }

  /** Start the servers, create the cluster, wait for `cluster_state:ok`, connect the store. */
  static async start(options: ClusterDemoOptions = {}): Promise<ClusterDemo> {
    assertOptions(options, 'clusterDemo');
    const masters = options.masters ?? DEFAULT_CLUSTER_DEMO_OPTIONS.masters;
    const full = options.requireFullCoverage ?? DEFAULT_CLUSTER_DEMO_OPTIONS.requireFullCoverage;
    const nodeTimeout = options.nodeTimeoutMs ?? DEFAULT_CLUSTER_DEMO_OPTIONS.nodeTimeoutMs;
    const commandTimeout = options.commandTimeout ?? DEFAULT_CLUSTER_DEMO_OPTIONS.commandTimeout;
    assertInt(masters, 'masters', 3, 9);
    assertInt(nodeTimeout, 'nodeTimeoutMs', 100, 60_000);
    assertInt(commandTimeout, 'commandTimeout', 10, 60_000);
    if (typeof full !== 'boolean') throw new InvalidInputError(`requireFullCoverage must be a boolean, got ${describeValue(full)}`);
    const cli = options.redisCli ?? 'redis-cli';
    const servers: EmbeddedRedis[] = [];
    const admin = new Map<string, Redis>();
    const busPorts: number[] = [];
    const cleanup = async (): Promise<void> => {
      for (const c of admin.values()) c.disconnect();
      await Promise.all(servers.map((s) => s.stop()));
    };
    try {
      const used = new Set<number>();
      const freePort = async (): Promise<number> => {
        for (;;) {
          const p = await freeLoopbackPort();
          if (!used.has(p)) {
            used.add(p);
            return p;
          }
        }
      };
      for (let i = 0; i < masters; i++) {
        const port = await freePort();
        const bus = await freePort();
        busPorts.push(bus);
        servers.push(
          await startEmbeddedRedis({
            port,
            args: [
              '--cluster-enabled', 'yes',
              '--cluster-config-file', 'nodes.conf',
              '--cluster-node-timeout', String(nodeTimeout),
              '--cluster-port', String(bus),
              '--cluster-require-full-coverage', full ? 'yes' : 'no',
            ],
            ...(options.redisServer ? { command: options.redisServer } : {}),
          }),
        );
      }
      await execFileText(cli, ['--cluster', 'create', ...servers.map((s) => `127.0.0.1:${s.port}`), '--cluster-replicas', '0', '--cluster-yes'], 30_000);
      for (const s of servers) {
        const c = new Redis({ host: '127.0.0.1', port: s.port, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false, lazyConnect: true });
        c.on('error', () => undefined);
        await c.connect();
        admin.set(`127.0.0.1:${s.port}`, c);
      }
      const deadline = Date.now() + 20_000;
      for (;;) {
        const states = await Promise.all([...admin.values()].map((c) => c.call('CLUSTER', 'INFO').then((t) => /cluster_state:ok/.test(String(t)), () => false)));
        if (states.every(Boolean)) break;
        if (Date.now() > deadline) throw new StoreUnavailableError('the demo cluster did not reach cluster_state:ok within 20 s');
        await sleep(50);
      }
      const slotsReply = (await admin.values().next().value!.call('CLUSTER', 'SLOTS')) as [number, number, [string, number, ...unknown[]], ...unknown[]][];
      const ranges = new Map<string, [number, number][]>();
      for (const [a, b, master] of slotsReply) {
        const addr = `127.0.0.1:${Number(master[1])}`;
        const list = ranges.get(addr) ?? [];
        list.push([Number(a), Number(b)]);
        ranges.set(addr, list);
      }
      const nodes: ClusterDemoNode[] = servers.map((s, i) => ({
        index: i,
        address: `127.0.0.1:${s.port}`,
        port: s.port,
        busPort: busPorts[i]!,
        pid: s.pid,
        alive: true,
        slots: slotRanges(ranges.get(`127.0.0.1:${s.port}`) ?? []),
      }));
      const store = new RedisClusterStore({
        nodes: nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
        namespace: options.namespace ?? freshNamespace('cluster'),
        name: full ? 'cluster-full-coverage' : 'cluster',
        commandTimeout,
      });
      if (!(await store.ready(5000))) {
        await store.close();
        throw new StoreUnavailableError('could not connect a RedisClusterStore to the demo cluster');
      }
      return new ClusterDemo(nodes, servers, admin, store, full, nodeTimeout);
    } catch (err) {
      await cleanup();
      throw err;
    }
  }

  /** `redis+cluster://host:port,…` of every node (for `createStore` or `inspectKeys`). */
  get url(): string {
    return `redis+cluster://${this.nodes.map((n) => n.address).join(',')}`;
  }

  /** The nodes as table rows. */
  nodeRows(): RedisLabRow[] {
    return this.nodes.map((n) => ({ node: n.address, 'bus port': n.busPort, pid: n.pid ?? null, alive: n.alive, 'hash slots': n.slots }));
  }

  private live(): ClusterDemoNode[] {
    return this.nodes.filter((n) => n.alive);
  }

  private nodeOf(which: number | string): ClusterDemoNode {
    const node = typeof which === 'number' ? this.nodes[which] : this.nodes.find((n) => n.address === which || String(n.port) === which);
    if (!node) throw new InvalidInputError(`no node ${describeValue(which)} in the demo cluster (0–${this.nodes.length - 1} or host:port)`);
    return node;
  }

  private assertRunning(): void {
    if (this.stopped) throw new InvalidInputError('the demo cluster has been stopped');
  }

  /**
   * Serve one prompt through the engine with a block-prefix cache in the cluster (real KV, fp16
   * serde blocks): the first call stores its blocks; later calls load what the cluster still has.
   */
  async serve(model: LlamaModel, tokens: number[], options: { maxNewTokens?: number; blockSize?: number } = {}): Promise<ClusterServeResult> {
    this.assertRunning();
    assertModel(model);
    assertTokens(tokens, 'tokens');
    const blockSize = options.blockSize ?? 16;
    let e = this.engines.get(model);
    if (!e) {
      const connector = new PrefixCacheConnector(model, this.store, serdeBlockCodec(), { blockSize });
      e = { connector, engine: new ServingEngine(model, connector) };
      this.engines.set(model, e);
    }
    const record = await e.engine.serve({ id: `cluster-${Date.now().toString(36)}`, tokens, maxNewTokens: options.maxNewTokens ?? 4 });
    const hashes = hashBlocks(tokens, e.connector.namespaceFor(undefined));
    return { record, hashes, blockSize };
  }

  /** Which master holds each block: from the slot table, checked with `EXISTS` on that node. */
  async placement(hashes: readonly BlockHash[], blockSize = 16): Promise<ClusterPlacement> {
    this.assertRunning();
    if (!Array.isArray(hashes) || hashes.length === 0) throw new InvalidInputError(`hashes must be a non-empty array of block hashes, got ${describeValue(hashes)}`);
    const rows: ClusterPlacementRow[] = await Promise.all(
      hashes.map(async (h, i) => {
        const key = this.store.keyFor(h);
        const node = this.store.nodeFor(h) ?? 'unknown';
        const c = this.admin.get(node);
        let on = false;
        let bytes: number | null = null;
        if (c && this.nodes.find((n) => n.address === node)?.alive) {
          try {
            const [e, len] = await Promise.all([c.exists(key), c.strlen(key)]);
            on = e === 1;
            bytes = on ? len : null;
          } catch {
            on = false;
          }
        }
        return { block: i, tokens: `${i * blockSize}–${(i + 1) * blockSize - 1}`, slot: keySlot(key), node, 'on that node': on, 'value bytes': bytes };
      }),
    );
    const perNode = this.nodes.map((n) => {
      const mine = rows.filter((r) => r.node === n.address);
      return { node: n.address, slots: n.slots, blocks: mine.length, 'first block': mine[0]?.block ?? '', 'value bytes': mine.reduce((a, r) => a + (r['value bytes'] ?? 0), 0) };
    });
    const firstOf = (p: (typeof perNode)[number]): number => (typeof p['first block'] === 'number' ? p['first block'] : Infinity);
    const alive = perNode.filter((p) => p.blocks > 0 && this.nodes.find((n) => n.address === p.node)?.alive);
    const victim = alive.reduce((best, p) => (firstOf(p) > firstOf(best) ? p : best), alive[0] ?? perNode[0]!);
    return { rows, perNode, suggestedVictim: victim.node };
  }

  /** SIGKILL one node (a crash: no goodbye to the cluster) and wait until its port refuses connections. */
  async killNode(which: number | string = 1): Promise<ClusterDemoNode> {
    this.assertRunning();
    const node = this.nodeOf(which);
    if (!node.alive) return node;
    if (node.pid !== undefined) {
      try {
        process.kill(node.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    const deadline = Date.now() + 5000;
    while (!(await portRefuses(node.port))) {
      if (Date.now() > deadline) throw new StoreUnavailableError(`node ${node.address} still accepts connections after SIGKILL`);
      await sleep(20);
    }
    node.alive = false;
    this.admin.get(node.address)?.disconnect();
    return node;
  }

  /**
   * Ask the cluster for every block (`has`, then `get`) and compare with where the blocks live:
   * blocks on live masters should hit, blocks on dead ones miss — and nothing may throw.
   */
  async probe(hashes: readonly BlockHash[]): Promise<ClusterProbe> {
    this.assertRunning();
    if (!Array.isArray(hashes) || hashes.length === 0) throw new InvalidInputError(`hashes must be a non-empty array of block hashes, got ${describeValue(hashes)}`);
    const before = this.store.stats();
    let thrown = 0;
    const t0 = performance.now();
    let has: boolean[] = hashes.map(() => false);
    try {
      has = await this.store.has(hashes);
    } catch {
      thrown++;
    }
    const t1 = performance.now();
    let got: (Buffer | undefined)[] = hashes.map(() => undefined);
    try {
      got = await this.store.get(hashes);
    } catch {
      thrown++;
    }
    const t2 = performance.now();
    const after = this.store.stats();
    const rows: ClusterProbeRow[] = hashes.map((h, i) => {
      const node = this.store.nodeFor(h) ?? 'unknown';
      return { block: i, node, 'node alive': this.nodes.find((n) => n.address === node)?.alive ?? false, 'has()': has[i]!, 'get()': got[i] !== undefined ? 'hit' : 'miss' };
    });
    const onLive = rows.filter((r) => r['node alive']);
    const onDead = rows.filter((r) => !r['node alive']);
    return {
      rows,
      summary: {
        'blocks on live masters': onLive.length,
        'get() hits': rows.filter((r) => r['get()'] === 'hit').length,
        'blocks on dead masters': onDead.length,
        'get() misses': rows.filter((r) => r['get()'] === 'miss').length,
        'unexpected answers': onLive.filter((r) => r['get()'] === 'miss').length + onDead.filter((r) => r['get()'] === 'hit').length,
        'has() (ms)': round(t1 - t0, 1),
        'get() (ms)': round(t2 - t1, 1),
        'exceptions thrown': thrown,
        'fallbacks counted': after.fallbacks - before.fallbacks,
        'errors counted': after.errors - before.errors,
      },
    };
  }

  /**
   * After a kill: `get` every block every `intervalMs` while the other nodes detect the failure
   * (`cluster-node-timeout`), recording hits, `cluster_state` and the dead node's flags; stops
   * `afterDetectMs` after the node is flagged `fail` (or at `maxMs`).
   */
  async watch(hashes: readonly BlockHash[], options: { intervalMs?: number; afterDetectMs?: number; maxMs?: number } = {}): Promise<ClusterWatch> {
    this.assertRunning();
    if (!Array.isArray(hashes) || hashes.length === 0) throw new InvalidInputError(`hashes must be a non-empty array of block hashes, got ${describeValue(hashes)}`);
    const dead = this.nodes.find((n) => !n.alive);
    if (!dead) throw new InvalidInputError('watch() follows a failure: kill a node first (killNode)');
    const intervalMs = options.intervalMs ?? 250;
    const afterDetect = options.afterDetectMs ?? 1000;
    const maxMs = options.maxMs ?? this.nodeTimeoutMs * 4 + 3000;
    assertInt(intervalMs, 'intervalMs', 10, 10_000);
    const observer = this.admin.get(this.live()[0]!.address)!;
    const t0 = performance.now();
    const samples: ClusterWatchSample[] = [];
    let detected: number | undefined;
    const liveBlocks = hashes.filter((h) => this.nodes.find((n) => n.address === this.store.nodeFor(h))?.alive).length;
    for (;;) {
      const ts = performance.now();
      let found = 0;
      try {
        found = (await this.store.get(hashes)).filter((v) => v !== undefined).length;
      } catch {
        found = -1;
      }
      const getMs = performance.now() - ts;
      let state = 'unknown';
      let flags = 'unknown';
      try {
        const [info, nodesText] = await Promise.all([observer.call('CLUSTER', 'INFO'), observer.call('CLUSTER', 'NODES')]);
        state = /cluster_state:(\w+)/.exec(String(info))?.[1] ?? 'unknown';
        const line = String(nodesText).split('\n').find((l) => l.includes(`:${dead.port}@`));
        flags = line?.split(' ')[2] ?? 'unknown';
      } catch {
        // observer busy: keep 'unknown'
      }
      const t = round(ts - t0, 0);
      if (detected === undefined && /(^|,)fail(,|$)/.test(flags)) detected = t;
      samples.push({ 't (ms)': t, 'blocks found (get)': found, 'blocks on live masters': liveBlocks, cluster_state: state, 'killed node flagged': flags, 'get() (ms)': round(getMs, 1) });
      const now = performance.now() - t0;
      if ((detected !== undefined && now >= detected + afterDetect) || now >= maxMs) break;
      await sleep(Math.max(0, intervalMs - (performance.now() - ts)));
    }
    return { requireFullCoverage: this.requireFullCoverage, killed: dead.address, samples, ...(detected !== undefined ? { failDetectedAfterMs: detected } : {}) };
  }

  /** The store's health report (cluster state, every master, warnings). */
  health(): Promise<StoreHealth> {
    return this.store.health();
  }

  /** Close the store and the admin connections, stop every server, remove their data folders. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      await this.store.close();
      for (const c of this.admin.values()) c.disconnect();
      await Promise.all(this.servers.map((s) => s.stop()));
      for (const n of this.nodes) n.alive = false;
    })();
    return this.stopped;
  }
}

/** Start a {@link ClusterDemo}: a real N-master Redis Cluster on loopback with a store on it. */
export function clusterDemo(options: ClusterDemoOptions = {}): Promise<ClusterDemo> {
  return ClusterDemo.start(options);
}

/** Where the blocks of a prompt landed: one square per block, on the row of the master that holds it. */
export function clusterPlacementFigure(placement: ClusterPlacement): PlotlyFigure {
  if (!placement || !Array.isArray(placement.rows) || !Array.isArray(placement.perNode)) {
    throw new InvalidInputError(`clusterPlacementFigure needs the result of placement(), got ${describeValue(placement)}`);
  }
  const label = (p: ClusterPlacement['perNode'][number]): string => `${p.node} · slots ${p.slots} · ${p.blocks} blocks`;
  const data: Record<string, unknown>[] = placement.perNode.map((p, i) => {
    const mine = placement.rows.filter((r) => r.node === p.node);
    return {
      type: 'scatter',
      mode: 'markers',
      name: p.node,
      showlegend: false,
      x: mine.map((r) => r.block),
      y: mine.map(() => label(p)),
      marker: { symbol: 'square', size: 14, color: NODE_COLORS[i % NODE_COLORS.length], line: { width: 1, color: '#333' } },
      customdata: mine.map((r) => [r.slot, r.tokens, r['value bytes'] ?? 0]),
      hovertemplate: 'block %{x} (tokens %{customdata[1]}): slot %{customdata[0]}, %{customdata[2]} bytes<extra></extra>',
    };
  });
  const blocks = placement.rows.length;
  return {
    data,
    layout: {
      title: { text: "Where the prompt's blocks landed: CRC16(key) mod 16384 → the master owning that slot" },
      xaxis: { title: { text: 'block of the prompt (chain order)' }, range: [-1, blocks], zeroline: false },
      yaxis: { type: 'category', automargin: true, categoryorder: 'array', categoryarray: placement.perNode.map(label).reverse() },
    },
  };
}

/** Blocks found over time after a kill, one line per cluster configuration. */
export function clusterWatchFigure(watches: readonly ClusterWatch[]): PlotlyFigure {
  if (!isList(watches) || watches.length === 0) throw new InvalidInputError(`clusterWatchFigure needs watch() results, got ${describeValue(watches)}`);
  const data: Record<string, unknown>[] = [];
  const shapes: Record<string, unknown>[] = [];
  watches.forEach((w, i) => {
    const color = NODE_COLORS[i % NODE_COLORS.length];
    const label = `cluster-require-full-coverage ${w.requireFullCoverage ? 'yes' : 'no'}`;
    data.push({ type: 'scatter', mode: 'lines+markers', name: label, x: w.samples.map((s) => s['t (ms)']), y: w.samples.map((s) => Math.max(0, s['blocks found (get)'])), line: { shape: 'hv', color } });
    if (w.failDetectedAfterMs !== undefined) {
      shapes.push({ type: 'line', x0: w.failDetectedAfterMs, x1: w.failDetectedAfterMs, yref: 'paper', y0: 0, y1: 1, line: { dash: 'dot', color } });
    }
  });
  const live = watches[0]!.samples[0]?.['blocks on live masters'] ?? 0;
  data.push({ type: 'scatter', mode: 'lines', name: 'blocks on the live masters', x: [0, Math.max(...watches.flatMap((w) => w.samples.map((s) => s['t (ms)'])))], y: [live, live], line: { dash: 'dash', color: '#888' } });
  return {
    data,
    layout: {
      title: { text: 'Blocks found by get() after one master was killed' },
      xaxis: { title: { text: 'ms after the kill (dotted: the other nodes flag it failed)' } },
      yaxis: { title: { text: 'blocks found' }, rangemode: 'tozero' },
      shapes,
      legend: { orientation: 'h', y: -0.25 },
    },
  };
}

// ───────────────────────────── 5 · TTFT with KV reused from Redis ─────────────────────────────

export interface TtftWithRedisOptions {
  /** Traffic shape. @default 'chat' */
  workload?: WorkloadName;
  /** Use these requests instead of generating a workload. @default undefined */
  requests?: ServeRequest[];
  /** Requests per pass. @default 6 (fast mode), 8 */
  count?: number;
  /** Shared prefix size, approximate tokens. @default 256 (fast mode), 1536 */
  sharedTokens?: number;
  /** Approximate tokens a turn adds. @default 96 */
  turnTokens?: number;
  /** Conversations interleaved. @default 3 */
  sessions?: number;
  /** Greedy tokens generated per request. @default 4 */
  maxNewTokens?: number;
  /** How KV blocks are stored. @default 'fp16' */
  dtype?: KVDtype;
  /** Tokens per block. @default 16 */
  blockSize?: number;
  /** TTL of the stored blocks (0 = none). @default 3600 */
  ttlSeconds?: number;
  /** Store namespace. @default a fresh one */
  namespace?: string;
  progress?: RedisLabProgress;
}

export interface TtftPassSummary {
  pass: string;
  requests: number;
  'median TTFT (ms)': number;
  'prompt tokens': number;
  'tokens reused': number;
  'share reused': number;
  'KiB loaded': number;
  'KiB saved': number;
  'median lookup (ms)': number;
  'median load (ms)': number;
  'median prefill (ms)': number;
  fallbacks: number;
}

export interface RedisTtftResult {
  url: string;
  namespace: string;
  dtype: string;
  blockSize: number;
  requests: ServeRequest[];
  passes: { noCache: RequestRecord[]; workerA: RequestRecord[]; workerB: RequestRecord[] };
  /** One row per request, the three passes side by side. */
  rows: RedisLabRow[];
  summary: TtftPassSummary[];
  /** Every request produced the same tokens in all three passes. */
  sameOutputs: boolean;
  /** Chained block hashes of the first request (chain order), for `inspectKeys(store, { hashes })`. */
  firstChain: BlockHash[];
  /** Prometheus text of both workers' stores (one registry). */
  metricsText: string;
  stats: StoreStats[];
}

/**
 * Time to first token with and without KV reused from Redis, measured with the serving engine:
 * 1. no cache: every prompt is prefilled whole;
 * 2. worker A: a block-prefix cache in Redis (KV serialized with the serde codec), starting empty —
 *    requests reuse what earlier requests stored;
 * 3. worker B: another engine with its own Redis connection, same requests: it finds everything
 *    worker A stored (what a second server behind a load balancer would see).
 * Outputs of the three passes are compared token for token.
 */
export async function ttftWithRedis(model: LlamaModel, tokenizer: RedisLabTokenizer, url: string, options: TtftWithRedisOptions = {}): Promise<RedisTtftResult> {
  assertModel(model);
  assertTokenizer(tokenizer);
  assertUrl(url, 'ttftWithRedis url');
  assertOptions(options, 'ttftWithRedis');
  const blockSize = options.blockSize ?? 16;
  const dtype = options.dtype ?? 'fp16';
  const ttlSeconds = options.ttlSeconds ?? 3600;
  assertInt(blockSize, 'blockSize', 1, 4096);
  assertInt(ttlSeconds, 'ttlSeconds', 0, 365 * 86400);
  const codec = serdeBlockCodec({ dtype }); // unknown dtype → InvalidInputError
  let requests: ServeRequest[];
  if (options.requests !== undefined) {
    if (!Array.isArray(options.requests) || options.requests.length === 0) throw new InvalidInputError(`requests must be a non-empty array, got ${describeValue(options.requests)}`);
    options.requests.forEach((r, i) => assertTokens(r?.tokens, `requests[${i}].tokens`));
    requests = options.requests;
  } else {
    requests = makeWorkload(options.workload ?? 'chat', (t) => tokenizer.encode(t), {
      requests: options.count ?? sized(6, 8),
      sharedTokens: options.sharedTokens ?? sized(256, 1536),
      turnTokens: options.turnTokens ?? 96,
      sessions: options.sessions ?? 3,
      maxNewTokens: options.maxNewTokens ?? 4,
    });
  }
  const namespace = options.namespace ?? freshNamespace('ttft');
  const registry = new Registry();
  const storeA = await createStore(url, { namespace, name: 'worker-a', registry, ttlSeconds, requireReachable: true });
  let storeB: KVStore | undefined;
  const bar = progress(1 + 3 * requests.length, 'TTFT with and without Redis', { target: options.progress ?? 'auto' });
  try {
    storeB = await createStore(url, { namespace, name: 'worker-b', registry, ttlSeconds, requireReachable: true });
    const connA = new PrefixCacheConnector(model, storeA, codec, { blockSize, name: 'worker A (Redis)' });
    const connB = new PrefixCacheConnector(model, storeB, codec, { blockSize, name: 'worker B (Redis)' });
    const plain = new ServingEngine(model, new NoCacheConnector());
    await plain.serve({ ...requests[0]!, id: 'warm-up' }); // first prefill pays for wasm heap growth
    bar.tick(1, 'no cache');
    const run = async (engine: ServingEngine, label: string): Promise<RequestRecord[]> => {
      const out: RequestRecord[] = [];
      for (const r of requests) {
        out.push(await engine.serve(r));
        bar.tick(1, label);
      }
      return out;
    };
    const noCache = await run(plain, 'no cache');
    const workerA = await run(new ServingEngine(model, connA), 'worker A, Redis');
    const workerB = await run(new ServingEngine(model, connB), 'worker B, Redis');
    bar.done('TTFT with and without Redis');
    const same = (i: number): boolean => noCache[i]!.output.join() === workerA[i]!.output.join() && noCache[i]!.output.join() === workerB[i]!.output.join();
    const rows: RedisLabRow[] = requests.map((r, i) => ({
      request: r.id,
      'prompt tokens': r.tokens.length,
      'TTFT no cache (ms)': round(noCache[i]!.ttftMs, 1),
      'TTFT worker A (ms)': round(workerA[i]!.ttftMs, 1),
      'reused A': workerA[i]!.reusedTokens,
      'TTFT worker B (ms)': round(workerB[i]!.ttftMs, 1),
      'reused B': workerB[i]!.reusedTokens,
      'same output': same(i) ? 'yes' : 'NO',
    }));
    const summarize = (pass: string, recs: RequestRecord[]): TtftPassSummary => {
      const prompt = recs.reduce((a, r) => a + r.promptTokens, 0);
      const reused = recs.reduce((a, r) => a + r.reusedTokens, 0);
      return {
        pass,
        requests: recs.length,
        'median TTFT (ms)': round(median(recs.map((r) => r.ttftMs)), 1),
        'prompt tokens': prompt,
        'tokens reused': reused,
        'share reused': round(reused / Math.max(1, prompt), 3),
        'KiB loaded': round(recs.reduce((a, r) => a + r.bytesLoaded, 0) / 1024, 1),
        'KiB saved': round(recs.reduce((a, r) => a + r.bytesSaved, 0) / 1024, 1),
        'median lookup (ms)': round(median(recs.map((r) => r.lookupMs)), 2),
        'median load (ms)': round(median(recs.map((r) => r.loadMs)), 2),
        'median prefill (ms)': round(median(recs.map((r) => r.prefillMs)), 1),
        fallbacks: recs.reduce((a, r) => a + r.fallbacks, 0),
      };
    };
    const firstChain = hashBlocks(requests[0]!.tokens, connA.namespaceFor(requests[0]!.tenant));
    return {
      url: redactStoreUrl(url),
      namespace,
      dtype: codec.dtype,
      blockSize,
      requests,
      passes: { noCache, workerA, workerB },
      rows,
      summary: [summarize('no cache', noCache), summarize('worker A (Redis, starts empty)', workerA), summarize('worker B (Redis, after A)', workerB)],
      sameOutputs: requests.every((_, i) => same(i)),
      firstChain,
      metricsText: await storeA.metricsText(),
      stats: [storeA.stats(), storeB.stats()],
    };
  } finally {
    await storeA.close();
    await storeB?.close();
  }
}

/** TTFT of every request in the three passes. */
export function redisTtftFigure(result: RedisTtftResult): PlotlyFigure {
  if (!result || !result.passes) throw new InvalidInputError(`redisTtftFigure needs the result of ttftWithRedis, got ${describeValue(result)}`);
  const x = result.requests.map((r) => `${r.id} (${r.tokens.length} tok)`);
  const trace = (name: string, recs: RequestRecord[], color: string): Record<string, unknown> => ({
    type: 'bar',
    name,
    x,
    y: recs.map((r) => round(r.ttftMs, 2)),
    marker: { color },
    customdata: recs.map((r) => r.reusedTokens),
    hovertemplate: `${name}: %{y} ms, %{customdata} tokens from Redis<extra></extra>`,
  });
  return {
    data: [
      trace('no cache', result.passes.noCache, '#9aa5b1'),
      trace('worker A: Redis, starts empty', result.passes.workerA, '#1f77b4'),
      trace('worker B: Redis, after worker A', result.passes.workerB, '#2ca02c'),
    ],
    layout: {
      title: { text: 'Time to first token, with and without KV loaded from Redis' },
      barmode: 'group',
      xaxis: { title: { text: 'request (prompt tokens)' } },
      yaxis: { title: { text: 'TTFT (ms)' }, rangemode: 'tozero' },
      legend: { orientation: 'h', y: -0.3 },
    },
  };
}

/** Where TTFT goes in each pass: lookup, load from Redis (+ decode), prefill of the rest (medians). */
export function redisTtftBreakdownFigure(result: RedisTtftResult): PlotlyFigure {
  if (!result || !Array.isArray(result.summary)) throw new InvalidInputError(`redisTtftBreakdownFigure needs the result of ttftWithRedis, got ${describeValue(result)}`);
  const passes = result.summary.map((s) => s.pass);
  const part = (name: string, key: 'median lookup (ms)' | 'median load (ms)' | 'median prefill (ms)', color: string): Record<string, unknown> => ({
    type: 'bar',
    name,
    x: passes,
    y: result.summary.map((s) => s[key]),
    marker: { color },
  });
  return {
    data: [
      part('lookup (EXISTS of the chain)', 'median lookup (ms)', '#ff7f0e'),
      part('load (GET + decode of the blocks)', 'median load (ms)', '#1f77b4'),
      part('prefill of the rest', 'median prefill (ms)', '#9aa5b1'),
    ],
    layout: {
      title: { text: 'Median time to first token, split into its parts' },
      barmode: 'stack',
      yaxis: { title: { text: 'ms (median of each part)' }, rangemode: 'tozero' },
      legend: { orientation: 'h', y: -0.2 },
    },
  };
}

// ───────────────────────────── 6 · health and metrics ─────────────────────────────

export interface StoreHealthTables {
  /** One row per store (a tiered store adds one per tier). */
  summary: RedisLabRow[];
  /** One row per Redis server (every master of a cluster). */
  nodes: RedisLabRow[];
  warnings: RedisLabRow[];
}

const mib = (b: number | undefined): number | null => (b === undefined ? null : round(b / MiB, 2));

/** A `health()` report as three tables: stores, servers, warnings. */
export function storeHealthTables(health: StoreHealth): StoreHealthTables {
  if (!health || typeof health !== 'object' || typeof health.ok !== 'boolean') {
    throw new InvalidInputError(`storeHealthTables needs a health() report, got ${describeValue(health)}`);
  }
  const all: StoreHealth[] = [health, ...(health.tiers ?? [])];
  const summary = all.map((h) => ({
    store: h.name,
    tier: h.tier,
    ok: h.ok ? '✓' : '✗',
    reachable: h.reachable,
    'PING (ms)': h.latencyMs === undefined ? null : round(h.latencyMs, 2),
    circuit: h.circuit ?? '',
    'used memory (MiB)': mib(h.usedMemoryBytes),
    'maxmemory (MiB)': h.maxMemoryBytes === 0 ? 'no limit' : mib(h.maxMemoryBytes),
    policy: h.maxmemoryPolicy ?? '',
    'cluster state': h.cluster?.state ?? '',
    'slots ok': h.cluster ? `${h.cluster.slotsOk} / 16384` : '',
    error: h.error ?? '',
  }));
  const nodes = all.flatMap((h) =>
    (h.nodes ?? []).map((n) => ({
      store: h.name,
      node: n.address,
      reachable: n.reachable ? '✓' : '✗',
      role: n.role ?? '',
      version: n.version ?? '',
      'used memory (MiB)': mib(n.usedMemoryBytes),
      'maxmemory (MiB)': n.maxMemoryBytes === 0 ? 'no limit' : mib(n.maxMemoryBytes),
      policy: n.maxmemoryPolicy ?? '',
      keys: n.keys ?? null,
      error: n.error ?? '',
    })),
  );
  const warnings = [...new Set(all.flatMap((h) => h.warnings))].map((w) => ({ warning: w }));
  return { summary, nodes, warnings: warnings.length ? warnings : [{ warning: '(none)' }] };
}

/** One sample of a Prometheus text exposition. */
export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parse the Prometheus text format (what `metricsText()` returns) into samples. */
export function parseMetricsText(text: string): MetricSample[] {
  if (typeof text !== 'string') throw new InvalidInputError(`parseMetricsText needs the text of metricsText(), got ${describeValue(text)}`);
  const out: MetricSample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/.exec(line.trim());
    if (!m) throw new InvalidInputError(`not a Prometheus sample line: ${describeValue(line)}`);
    const labels: Record<string, string> = {};
    const body = m[2] ?? '';
    const re = /([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/g;
    let lm: RegExpExecArray | null;
    while ((lm = re.exec(body)) !== null) labels[lm[1]!] = lm[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    const v = m[3]!;
    const value = v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : Number(v);
    out.push({ name: m[1]!, labels, value });
  }
  return out;
}

export interface StoreMetricsTables {
  /** Prompt tokens served from the cache (hit) or recomputed (miss), per store and tier. */
  tokens: RedisLabRow[];
  /** Block lookups per operation. */
  blocks: RedisLabRow[];
  /** Bytes and writes. */
  bytes: RedisLabRow[];
  /** Operation latency from the histogram (quantiles are bucket upper bounds). */
  latency: RedisLabRow[];
  /** Errors and fallbacks (never thrown to callers). */
  faults: RedisLabRow[];
}

function sumBy(samples: MetricSample[], name: string, key: (l: Record<string, string>) => string): Map<string, number> {
  const m = new Map<string, number>();
  for (const s of samples) if (s.name === name) m.set(key(s.labels), (m.get(key(s.labels)) ?? 0) + s.value);
  return m;
}

interface HistogramSeries {
  store: string;
  tier: string;
  op: string;
  /** Cumulative counts per upper bound (seconds), ascending, +Inf last. */
  buckets: { le: number; count: number }[];
  count: number;
  sum: number;
}

function histograms(samples: MetricSample[], prefix: string): HistogramSeries[] {
  const base = `${prefix}store_operation_duration_seconds`;
  const series = new Map<string, HistogramSeries>();
  const get = (l: Record<string, string>): HistogramSeries => {
    const k = `${l.store}|${l.tier}|${l.op}`;
    let h = series.get(k);
    if (!h) series.set(k, (h = { store: l.store ?? '', tier: l.tier ?? '', op: l.op ?? '', buckets: [], count: 0, sum: 0 }));
    return h;
  };
  for (const s of samples) {
    if (s.name === `${base}_bucket`) get(s.labels).buckets.push({ le: s.labels.le === '+Inf' ? Infinity : Number(s.labels.le), count: s.value });
    else if (s.name === `${base}_count`) get(s.labels).count = s.value;
    else if (s.name === `${base}_sum`) get(s.labels).sum = s.value;
  }
  for (const h of series.values()) h.buckets.sort((a, b) => a.le - b.le);
  return [...series.values()].filter((h) => h.count > 0);
}

function quantileBound(h: HistogramSeries, q: number): number {
  const target = q * h.count;
  for (const b of h.buckets) if (b.count >= target) return b.le;
  return Infinity;
}

function msLabel(seconds: number, lastFinite?: number): string {
  if (!Number.isFinite(seconds)) return lastFinite !== undefined ? `> ${round(lastFinite * 1000, 1)} ms` : '> last bucket';
  const ms = seconds * 1000;
  return ms < 1 ? `≤ ${round(ms, 2)} ms` : `≤ ${round(ms, 1)} ms`;
}

/** The metrics of `metricsText()` as tables: tokens per tier, blocks, bytes, latency, faults. */
export function storeMetricsTables(text: string, options: { prefix?: string } = {}): StoreMetricsTables {
  const samples = parseMetricsText(text);
  const p = options.prefix ?? 'kvlab_';
  const st = (l: Record<string, string>): string => `${l.store}|${l.tier}`;
  const split = (k: string): { store: string; tier: string; op?: string } => {
    const [store = '', tier = '', op] = k.split('|');
    return { store, tier, ...(op !== undefined ? { op } : {}) };
  };
  // Tokens: the store label is the store that counted them, tier the tier that served them.
  const tokHit = sumBy(samples.filter((s) => s.labels.result === 'hit'), `${p}cache_tokens_total`, st);
  const tokMiss = sumBy(samples.filter((s) => s.labels.result === 'miss'), `${p}cache_tokens_total`, st);
  const tokens = [...new Set([...tokHit.keys(), ...tokMiss.keys()])].map((k) => {
    const hit = tokHit.get(k) ?? 0;
    const miss = tokMiss.get(k) ?? 0;
    return { ...split(k), 'hit tokens': hit, 'miss tokens': miss, 'hit ratio': round(hit / Math.max(1, hit + miss), 3) };
  });
  const sto = (l: Record<string, string>): string => `${l.store}|${l.tier}|${l.op}`;
  const lookups = sumBy(samples, `${p}store_lookups_total`, sto);
  const hits = sumBy(samples, `${p}store_hits_total`, sto);
  const misses = sumBy(samples, `${p}store_misses_total`, sto);
  const blocks = [...new Set([...lookups.keys(), ...hits.keys(), ...misses.keys()])].sort().map((k) => ({
    ...split(k),
    lookups: lookups.get(k) ?? 0,
    'blocks hit': hits.get(k) ?? 0,
    'blocks missed': misses.get(k) ?? 0,
  }));
  const read = sumBy(samples, `${p}store_read_bytes_total`, st);
  const written = sumBy(samples, `${p}store_written_bytes_total`, st);
  const writesBy = (result: string): Map<string, number> => sumBy(samples.filter((s) => s.labels.result === result), `${p}store_writes_total`, st);
  const stored = writesBy('stored');
  const exists = writesBy('exists');
  const failed = writesBy('failed');
  const bytes = [...new Set([...read.keys(), ...written.keys(), ...stored.keys(), ...exists.keys(), ...failed.keys()])].sort().map((k) => ({
    ...split(k),
    'KiB read': round((read.get(k) ?? 0) / 1024, 1),
    'KiB written': round((written.get(k) ?? 0) / 1024, 1),
    'blocks stored': stored.get(k) ?? 0,
    'blocks already there': exists.get(k) ?? 0,
    'writes failed': failed.get(k) ?? 0,
  }));
  const latency = histograms(samples, p).map((h) => ({
    store: h.store,
    tier: h.tier,
    op: h.op,
    calls: h.count,
    'mean (ms)': round((h.sum / h.count) * 1000, 3),
    p50: msLabel(quantileBound(h, 0.5)),
    p99: msLabel(quantileBound(h, 0.99)),
  }));
  const faults = samples
    .filter((s) => (s.name === `${p}store_errors_total` || s.name === `${p}store_fallbacks_total`) && s.value > 0)
    .map((s) => ({
      store: s.labels.store ?? '',
      tier: s.labels.tier ?? '',
      metric: s.name.endsWith('errors_total') ? 'error' : 'fallback',
      op: s.labels.op ?? '',
      'kind / reason': s.labels.kind ?? s.labels.reason ?? '',
      count: s.value,
    }));
  return { tokens, blocks, bytes, latency, faults: faults.length ? faults : [{ store: '', tier: '', metric: '(none)', op: '', 'kind / reason': '', count: 0 }] };
}

/**
 * The latency histograms of `metricsText()`: calls per bucket, one series per store and operation.
 * `ops` picks the operations. @default ['has', 'get'] (the lookup and the load: on the path to the first token)
 */
export function storeLatencyFigure(text: string, options: { prefix?: string; ops?: string[] } = {}): PlotlyFigure {
  const samples = parseMetricsText(text);
  const ops = options.ops ?? ['has', 'get'];
  const series = histograms(samples, options.prefix ?? 'kvlab_').filter((h) => ops.includes(h.op));
  if (series.length === 0) throw new InvalidInputError('storeLatencyFigure: the metrics hold no operation latencies yet');
  const bounds = series[0]!.buckets.map((b) => b.le);
  const finite = bounds.filter((b) => Number.isFinite(b));
  const labels = bounds.map((le) => msLabel(le, finite[finite.length - 1]));
  return {
    data: series.map((h) => ({
      type: 'bar',
      name: `${h.store} · ${h.op}`,
      x: labels,
      y: h.buckets.map((b, i) => b.count - (i > 0 ? h.buckets[i - 1]!.count : 0)),
    })),
    layout: {
      title: { text: `Store latency of ${ops.join(' and ')} (Prometheus histogram buckets)` },
      barmode: 'group',
      xaxis: { title: { text: 'latency bucket (upper bound)' }, type: 'category' },
      yaxis: { title: { text: 'calls' }, rangemode: 'tozero' },
      legend: { orientation: 'h', y: -0.3 },
    },
  };
}

/** Hit and miss tokens per store and tier, from `metricsText()`. */
export function storeTokensFigure(text: string, options: { prefix?: string } = {}): PlotlyFigure {
  const rows = storeMetricsTables(text, options).tokens;
  if (rows.length === 0) throw new InvalidInputError('storeTokensFigure: the metrics hold no token counts yet (no lookups through a connector)');
  const x = rows.map((r) => `${r.store} (${r.tier})`);
  return {
    data: [
      { type: 'bar', name: 'hit tokens (KV loaded)', x, y: rows.map((r) => r['hit tokens']), marker: { color: '#2ca02c' } },
      { type: 'bar', name: 'miss tokens (prefilled)', x, y: rows.map((r) => r['miss tokens']), marker: { color: '#9aa5b1' } },
    ],
    layout: {
      title: { text: 'Prompt tokens per store: served from the cache vs recomputed' },
      barmode: 'stack',
      yaxis: { title: { text: 'tokens' }, rangemode: 'tozero' },
      legend: { orientation: 'h', y: -0.2 },
    },
  };
}

/** Check a URL is a Redis one and say what it points at (password hidden), for the notebook's first cell. */
export function describeRedisUrl(url: string): RedisLabRow[] {
  assertUrl(url, 'url');
  const p = parseStoreUrl(url);
  if (!p.nodes.length) throw new ConfigError(`no Redis node in "${p.redacted}"`);
  return [{ url: p.redacted, kind: p.kind === 'cluster' ? 'Redis Cluster' : 'Redis', nodes: p.nodes.map((n) => `${n.host}:${n.port}`).join(', '), tls: p.tls, db: p.db ?? 0 }];
}
