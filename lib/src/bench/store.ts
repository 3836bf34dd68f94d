/**
 * Store benchmark: how fast does a prefix of KV blocks come out of Redis — against the machine's
 * limit (a plain socket at its best window), raw ioredis, `RedisStore.get` and the connector's whole
 * load path (lookup + get + verify + decode), each side by side in one run — what a window costs
 * Redis in memory, what a MAC costs, and how many commands / round trips a longest-prefix lookup takes.
 */
import { createHash, randomFillSync } from 'node:crypto';
import * as os from 'node:os';
import { Redis } from 'ioredis';
import { isFastMode, redisUrlFromEnv } from '../runtime/env';
import { libVersion, packageVersion } from '../runtime/versions';
import { InvalidInputError } from '../runtime/errors';
import { RedisStore } from '../store/redis-store';
import { startEmbeddedRedis, type EmbeddedRedis } from '../store/embedded-redis';
import { parseInfo } from '../store/health';
import { parseStoreUrl, redactStoreUrl } from '../store/url';
import { startRoundTripProxy } from './store-proxy';
import { median, summarizeTimings, type TimingSummary } from './stats';
import { longestPrefix as findLongestPrefix } from '../hashing/lookup';
import { plainSocketRead } from './plain-socket';

export interface StoreBenchOptions {
  /** Redis to use. @default redisUrlFromEnv(), else a private redis-server on a free port */
  redisUrl?: string;
  /** Tokens of the cached prefix. @default 2000 */
  tokens?: number;
  /** Tokens per block (one Redis key per block). @default 16 */
  tokensPerBlock?: number;
  /**
   * KV bytes per token (2 × layers × kv_heads × head_dim × bytes per value).
   * @default 131072 (Llama-3-8B in fp16: 2 MiB blocks of 16 tokens); 16384 with KVLAB_FAST=1
   */
  kvBytesPerToken?: number;
  /** Bytes per block; overrides `kvBytesPerToken × tokensPerBlock`. @default undefined */
  blockBytes?: number;
  /** Timed repetitions of each read variant (medians are reported). @default 9; 2 with KVLAB_FAST=1 */
  iterations?: number;
  /** Blocks in the longest-prefix lookup. @default 128 */
  lookupBlocks?: number;
  /** Of those, how many leading blocks are stored. @default 96 */
  lookupPresent?: number;
  /** Keys per MGET of the store. @default the store's default (16) */
  mgetBatchSize?: number;
  /**
   * Decode hook (e.g. the serde layer's decoder). When given, a third timing runs what a serving engine
   * does: a longest-prefix lookup, then `store.stream` that calls it on each value as it arrives, with
   * the block's index in the prefix (the connector decodes block i into its rows of the prefix).
   * @default undefined
   */
  decode?: (value: Buffer, index: number) => unknown;
  /**
   * The same decode, also checking each entry's MAC (entries written with the cache secret). When
   * given, the load path runs with and without it, side by side. @default undefined
   */
  decodeVerified?: (value: Buffer, index: number) => unknown;
  /**
   * Blocks in flight to try, for the plain socket (the machine's limit is its best) and for the
   * store's load path (the best is the measured choice of `windowBytes`).
   * @default [1, 2, 3, 4, 6, 8, 12, 16]
   */
  windows?: readonly number[];
  /**
   * The stored value of block `i` (e.g. a serialized KV block, so that `decode` has real input);
   * its length then sets the block size. @default random bytes of `blockBytes`
   */
  value?: (i: number) => Buffer;
  /** Called as work progresses. */
  onProgress?: (done: number, total: number, label: string) => void;
}

export const DEFAULT_STORE_BENCH_OPTIONS = {
  tokens: 2000,
  tokensPerBlock: 16,
  kvBytesPerToken: 131072,
  kvBytesPerTokenFast: 16384,
  iterations: 9,
  iterationsFast: 2,
  lookupBlocks: 128,
  lookupPresent: 96,
  windows: [1, 2, 3, 4, 6, 8, 12, 16],
} as const;

/**
 * CPU time per byte of prefix (ns/B = seconds per GB), measured in the same run: this process while
 * the plain socket reads at its best window (receiving: the kernel's copy out of the socket), the
 * decode hook on the values already in memory (verify + decode), and Redis (`INFO cpu`) while
 * sending. From them, the fastest any client could go: one thread doing the receiving and the
 * decoding, and all the machine's cores shared with Redis when it runs on this machine.
 */
export interface CpuBudget {
  receiveNsPerByte: number;
  decodeNsPerByte: number;
  redisNsPerByte: number;
  /** This process and Redis during the load path at the store's window. */
  loadPath: { clientNsPerByte: number; redisNsPerByte: number };
  /** 1 / (receive + decode), capped by Redis alone (1 / Redis): one client thread receiving and decoding, GB/s. */
  oneThreadGbps: number;
  /**
   * The same work spread over every core, GB/s: with Redis on this machine, cores / (receive + decode
   * + Redis) — the most any client design could reach here, however it splits the work; with Redis
   * elsewhere, cores / (receive + decode). Capped by Redis alone.
   */
  allCoresGbps: number;
  /** Whether Redis shares this machine's cores (a loopback address). */
  redisLocal: boolean;
  cores: number;
}

/** A read rate at one window (blocks in flight). */
export interface WindowRate {
  window: number;
  gbps: number;
}

export interface StoreBenchResult {
  benchmark: 'store';
  date: string;
  fast: boolean;
  config: {
    redis: string;
    embeddedRedis: boolean;
    tokens: number;
    tokensPerBlock: number;
    blocks: number;
    blockBytes: number;
    totalBytes: number;
    iterations: number;
    mgetBatchSize: number;
    lookupBlocks: number;
    lookupPresent: number;
    decodeHook: boolean;
    macHook: boolean;
    /** The store's windowBytes in this run (its default unless the environment changed it). */
    windowBytes: number;
    windows: number[];
  };
  machine: { platform: string; release: string; arch: string; cpus: number; cpuModel: string; totalMemoryGiB: number };
  versions: { node: string; kvcacheLab: string; ioredis: string; promClient: string; redis: string };
  measurements: {
    /** The machine's limit: a plain socket reading the same values, per window, and its best. */
    limit: { byWindow: WindowRate[]; best: WindowRate };
    /** The connector's load path (lookup + get + decode as blocks arrive) per window, and its best. */
    loadPath: { byWindow: WindowRate[]; best: WindowRate; fractionOfLimit: number };
    /** The load path with and without checking each entry's MAC (when `decodeVerified` is given). */
    mac?: { without: TimingSummary; with: TimingSummary; overhead: number };
    /** Where the load path's CPU goes, and the rates the machine's cores allow (when `decode` is given). */
    cpu?: CpuBudget;
    /**
     * Redis' memory above the data it holds during one read of the whole prefix (`used_memory_peak`
     * minus `used_memory` before): through the store's window, then with every GET in flight.
     */
    memory: { windowBytes: number; windowedPeakBytes: number; allInFlightPeakBytes: number; prefixBytes: number };
    put: TimingSummary & { stored: number };
    get: {
      /** (a) raw ioredis: one `getBuffer` per block, all in flight at once on one connection. */
      raw: TimingSummary;
      /** (b) `RedisStore.get` of all blocks (MGETs in one pipeline). */
      store: TimingSummary;
      /** Lookup + `get` + the decode hook on every value as it arrives (`onValue`), when given. */
      storeDecode?: TimingSummary;
      /** Throughput of (b) ÷ throughput of (a): 1 = no overhead. */
      ratio: number;
      ratioDecode?: number;
      verified: boolean;
    };
    lookup: {
      blocks: number;
      longestPrefix: number;
      /** Commands Redis executed for one batched lookup (INFO commandstats delta). */
      commands: number;
      commandsByName: Record<string, number>;
      /** Round trips counted by the store. */
      roundTrips: number;
      /** Round trips seen by a TCP proxy between client and server. */
      roundTripsOnWire: number;
      medianMs: number;
      /** The same lookup as n awaited `EXISTS` calls stopping at the first miss (what not to do). */
      sequential: { commands: number; roundTrips: number; medianMs: number };
    };
  };
}

function chainHashes(n: number, seed: string): string[] {
  const out: string[] = [];
  let parent = createHash('sha256').update(seed).digest('hex');
  for (let i = 0; i < n; i++) {
    parent = createHash('sha256').update(parent).update(String(i)).digest('hex');
    out.push(parent);
  }
  return out;
}

/** Calls per command from `INFO commandstats` (`cmdstat_exists:calls=3,…` → `{ exists: 3 }`). */
export function parseCommandStats(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(parseInfo(text))) {
    if (!k.startsWith('cmdstat_')) continue;
    const calls = /calls=(\d+)/.exec(v);
    if (calls) out[k.slice(8)] = Number(calls[1]);
  }
  return out;
}

/** Commands executed between two `INFO commandstats` snapshots, without the INFO calls themselves. */
export function commandDelta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) {
    if (k === 'info') continue;
    const d = v - (before[k] ?? 0);
    if (d > 0) out[k] = d;
  }
  return out;
}



async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** Run the store benchmark. Uses (and cleans up) its own keys under namespace `bench-<pid>`. */
export async function runStoreBenchmark(options: StoreBenchOptions = {}): Promise<StoreBenchResult> {
  const fast = isFastMode();
  const d = DEFAULT_STORE_BENCH_OPTIONS;
  const tokens = options.tokens ?? d.tokens;
  const tokensPerBlock = options.tokensPerBlock ?? d.tokensPerBlock;
  const kvBytesPerToken = options.kvBytesPerToken ?? (fast ? d.kvBytesPerTokenFast : d.kvBytesPerToken);
  const blockBytes = options.value ? options.value(0).length : (options.blockBytes ?? kvBytesPerToken * tokensPerBlock);
  const iterations = options.iterations ?? (fast ? d.iterationsFast : d.iterations);
  const lookupBlocks = options.lookupBlocks ?? d.lookupBlocks;
  const lookupPresent = Math.min(options.lookupPresent ?? d.lookupPresent, lookupBlocks);
  for (const [k, v] of Object.entries({ tokens, tokensPerBlock, blockBytes, iterations, lookupBlocks })) {
    if (!Number.isInteger(v) || v < 1) throw InvalidInputError.at(`options.${k}`, 'an integer ≥ 1', v);
  }
  const blocks = Math.max(1, Math.floor(tokens / tokensPerBlock));
  const totalBytes = blocks * blockBytes;
  const windows = [...(options.windows ?? d.windows)];
  for (const w of windows) if (!Number.isInteger(w) || w < 1) throw InvalidInputError.at('options.windows', 'integers ≥ 1', w);
  const progress = options.onProgress ?? (() => undefined);
  const totalSteps = 4 + 2 * iterations + (options.decode ? iterations + 1 : 0) + (options.decodeVerified ? 2 * iterations : 0) + 2 * windows.length + 2;
  let step = 0;
  const tick = (label: string): void => progress(++step, totalSteps, label);

  let embedded: EmbeddedRedis | undefined;
  const url = options.redisUrl ?? redisUrlFromEnv() ?? (embedded = await startEmbeddedRedis({ args: ['--maxmemory', '2gb', '--maxmemory-policy', 'allkeys-lru'] })).url;
  const namespace = `bench-${process.pid}`;
  const raw = new Redis(url, { lazyConnect: true });
  const store = new RedisStore({ url, namespace, name: 'bench', commandTimeout: 60_000, mgetBatchSize: options.mgetBatchSize });
  const proxyTarget = { host: store.host, port: store.port };
  const proxy = await startRoundTripProxy(proxyTarget);
  const viaProxy = new RedisStore({ url, host: '127.0.0.1', port: proxy.port, namespace, name: 'bench-proxy', commandTimeout: 10_000 });
  try {
    await raw.connect();
    if (!(await store.ready()) || !(await viaProxy.ready())) throw new Error(`cannot reach Redis at ${redactStoreUrl(url)}`);
    const redisVersion = parseInfo(await raw.info('server')).redis_version ?? 'unknown';

    // Data: a chain of block hashes and random bytes (KV does not compress anyway).
    const hashes = chainHashes(blocks, `bench-get-${Date.now()}`);
    const values = hashes.map((_, i) => (options.value ? options.value(i) : randomFillSync(Buffer.allocUnsafe(blockBytes))));
    const keys = hashes.map((h) => store.keyFor(h));
    tick('data');

    const t0 = process.hrtime.bigint();
    const putResult = await store.put(hashes.map((hash, i) => ({ hash, value: values[i]! })));
    const putMs = Number(process.hrtime.bigint() - t0) / 1e6;
    if (putResult.stored !== blocks) throw new Error(`put stored ${putResult.stored} of ${blocks} blocks (is Redis full? ${store.stats().errors} errors)`);
    tick('put');

    // Redis' memory during one read: first through the store's window, then with every GET in flight
    // (used_memory_peak only grows, so the smaller one goes first).
    const memory = async (read: () => Promise<unknown>): Promise<number> => {
      const before = parseInfo(await raw.info('memory'));
      await read();
      const after = parseInfo(await raw.info('memory'));
      return Math.max(0, Number(after.used_memory_peak) - Math.max(Number(before.used_memory), 0));
    };
    await store.get(hashes.slice(0, 1)); // the store learns the value size
    const windowedPeakBytes = await memory(() => store.get(hashes));
    const allInFlightPeakBytes = await memory(() => Promise.all(keys.map((k) => raw.getBuffer(k))));
    tick('memory');

    // Warm-up + verification of the bytes.
    await Promise.all(keys.map((k) => raw.getBuffer(k)));
    const check = await store.get(hashes);
    const verified = check.every((v, i) => v !== undefined && v.equals(values[i]!));
    tick('verify');

    const rawMs: number[] = [];
    const storeMs: number[] = [];
    const decodeMs: number[] = [];
    const macOffMs: number[] = [];
    const macOnMs: number[] = [];
    /** What the engine's connector does: one batched lookup, then a get that decodes each block as it arrives. */
    const loadPath = (s: RedisStore, decode: (v: Buffer, i: number) => unknown): Promise<number> =>
      timeIt(async () => {
        const found = await findLongestPrefix(s, hashes, { blockSize: tokensPerBlock });
        let decoded = 0;
        // As the connector loads: values streamed (lent, not kept) and decoded as they arrive.
        await s.stream(hashes.slice(0, found.matchedBlocks), (i, v) => {
          decode(v, i);
          decoded++;
        });
        if (decoded !== blocks) throw new Error(`lookup + load decoded ${decoded} of ${blocks} blocks`);
      });
    for (let it = 0; it < iterations; it++) {
      const runRaw = (): Promise<number> =>
        timeIt(async () => {
          const out = await Promise.all(keys.map((k) => raw.getBuffer(k)));
          if (out.some((v) => v === null)) throw new Error('raw read missed a block');
        });
      const runStore = (): Promise<number> =>
        timeIt(async () => {
          const out = await store.get(hashes);
          if (out.some((v) => v === undefined)) throw new Error('store read missed a block');
        });
      // Alternate the order so that neither variant always runs on a warmer heap.
      if (it % 2 === 0) {
        rawMs.push(await runRaw());
        tick('raw getBuffer');
        storeMs.push(await runStore());
        tick('RedisStore.get');
      } else {
        storeMs.push(await runStore());
        tick('RedisStore.get');
        rawMs.push(await runRaw());
        tick('raw getBuffer');
      }
      if (options.decode) {
        decodeMs.push(await loadPath(store, options.decode));
        tick('lookup + RedisStore.get + decode');
      }
      if (options.decodeVerified && options.decode) {
        // With and without the MAC check, alternating, on the same signed entries.
        const pair = it % 2 === 0 ? [options.decode, options.decodeVerified] : [options.decodeVerified, options.decode];
        for (const fn of pair) (fn === options.decode ? macOffMs : macOnMs).push(await loadPath(store, fn));
        tick('load path, with and without MAC');
        tick('load path, with and without MAC');
      }
    }

    // The machine's limit (a plain socket) and the store's load path, per window, interleaved.
    const limitByWindow: WindowRate[] = [];
    const loadByWindow: WindowRate[] = [];
    const [host, port] = [store.host, store.port];
    const { password } = parseStoreUrl(url);
    for (const w of windows) {
      const sock: number[] = [];
      const path: number[] = [];
      const windowed = new RedisStore({ url, namespace, name: `bench-w${w}`, commandTimeout: 60_000, windowBytes: w * blockBytes });
      try {
        if (!(await windowed.ready())) throw new Error(`cannot reach Redis at ${redactStoreUrl(url)}`);
        await windowed.get(hashes.slice(0, 1));
        for (let it = 0; it < iterations; it++) {
          sock.push(await timeIt(async () => {
            const got = await plainSocketRead(host, port, keys, w, password);
            if (got !== totalBytes) throw new Error(`plain socket read ${got} of ${totalBytes} bytes`);
          }));
          if (options.decode) path.push(await loadPath(windowed, options.decode));
        }
      } finally {
        await windowed.close();
      }
      limitByWindow.push({ window: w, gbps: summarizeTimings(sock, totalBytes).gbps });
      tick(`plain socket, window ${w}`);
      if (path.length) loadByWindow.push({ window: w, gbps: summarizeTimings(path, totalBytes).gbps });
      tick(`load path, window ${w}`);
    }
    const best = (rates: WindowRate[]): WindowRate => rates.reduce((a, b) => (b.gbps > a.gbps ? b : a), rates[0] ?? { window: 0, gbps: 0 });

    // The CPU budget: what receiving, decoding and Redis' sending each cost per byte, in this run.
    let cpu: CpuBudget | undefined;
    if (options.decode) {
      const decode = options.decode;
      const redisCpu = async (): Promise<number> => {
        const info = parseInfo(await raw.info('cpu'));
        return Number(info.used_cpu_user ?? 0) + Number(info.used_cpu_sys ?? 0);
      };
      /** ns of CPU per byte of prefix, this process and Redis, over `iterations` runs of `fn`. */
      const cpuOf = async (fn: () => Promise<unknown>): Promise<{ client: number; redis: number }> => {
        const r0 = await redisCpu();
        const c0 = process.cpuUsage();
        for (let it = 0; it < iterations; it++) await fn();
        const c = process.cpuUsage(c0);
        const r1 = await redisCpu();
        const bytes = iterations * totalBytes;
        return { client: ((c.user + c.system) * 1000) / bytes, redis: ((r1 - r0) * 1e9) / bytes };
      };
      const limitWindow = best(limitByWindow).window;
      const receive = await cpuOf(() => plainSocketRead(host, port, keys, limitWindow, password));
      const decodeOnly = await cpuOf(async () => values.forEach((v, i) => decode(v, i)));
      const path = await cpuOf(() => loadPath(store, decode));
      const hostname = host.replace(/^\[|\]$/g, '');
      const redisLocal = hostname === 'localhost' || hostname === '::1' || hostname.startsWith('127.');
      const cores = os.cpus().length;
      const round = (x: number): number => Math.round(x * 1000) / 1000;
      const client = receive.client + decodeOnly.client;
      const redisAlone = 1 / receive.redis;
      const oneThread = Math.min(1 / client, redisAlone);
      const allCores = Math.min(redisAlone, cores / (redisLocal ? client + receive.redis : client));
      cpu = {
        receiveNsPerByte: round(receive.client),
        decodeNsPerByte: round(decodeOnly.client),
        redisNsPerByte: round(receive.redis),
        loadPath: { clientNsPerByte: round(path.client), redisNsPerByte: round(path.redis) },
        oneThreadGbps: round(oneThread),
        allCoresGbps: round(allCores),
        redisLocal,
        cores,
      };
      tick('CPU budget');
    }

    // Longest-prefix lookup: `lookupPresent` leading blocks stored, then misses.
    const lookupHashes = chainHashes(lookupBlocks, `bench-lookup-${Date.now()}`);
    const small = Buffer.alloc(1024, 7);
    await store.put(lookupHashes.slice(0, lookupPresent).map((hash) => ({ hash, value: small })));
    const before = parseCommandStats(await raw.info('commandstats'));
    const rt0 = store.stats().roundTrips;
    const found = await store.has(lookupHashes);
    const rt1 = store.stats().roundTrips;
    const after = parseCommandStats(await raw.info('commandstats'));
    const delta = commandDelta(before, after);
    const longestPrefix = found.indexOf(false) < 0 ? found.length : found.indexOf(false);
    proxy.reset();
    await viaProxy.has(lookupHashes);
    const roundTripsOnWire = proxy.roundTrips;
    const lookupMs: number[] = [];
    for (let i = 0; i < 15; i++) lookupMs.push(await timeIt(() => store.has(lookupHashes)));
    tick('lookup');

    // What not to do: one awaited EXISTS per block until the first miss.
    const lookupKeys = lookupHashes.map((h) => store.keyFor(h));
    proxy.reset();
    const seqClient = new Redis({ host: '127.0.0.1', port: proxy.port, lazyConnect: true });
    await seqClient.connect();
    proxy.reset();
    const sb = parseCommandStats(await raw.info('commandstats'));
    for (const k of lookupKeys) if (!(await seqClient.exists(k))) break;
    const sa = parseCommandStats(await raw.info('commandstats'));
    const seqRoundTrips = proxy.roundTrips;
    const seqMs: number[] = [];
    for (let i = 0; i < 5; i++) {
      seqMs.push(
        await timeIt(async () => {
          for (const k of lookupKeys) if (!(await raw.exists(k))) break;
        }),
      );
    }
    seqClient.disconnect();
    tick('sequential lookup');

    await store.delete([...hashes, ...lookupHashes]);
    tick('cleanup');

    const rawSummary = summarizeTimings(rawMs, totalBytes);
    const storeSummary = summarizeTimings(storeMs, totalBytes);
    const decodeSummary = decodeMs.length ? summarizeTimings(decodeMs, totalBytes) : undefined;
    const cpus = os.cpus();
    return {
      benchmark: 'store',
      date: new Date().toISOString(),
      fast,
      config: {
        redis: redactStoreUrl(url),
        embeddedRedis: embedded !== undefined,
        tokens,
        tokensPerBlock,
        blocks,
        blockBytes,
        totalBytes,
        iterations,
        mgetBatchSize: store.mgetBatchSize,
        lookupBlocks,
        lookupPresent,
        decodeHook: options.decode !== undefined,
        macHook: options.decodeVerified !== undefined,
        windowBytes: store.windowBytes,
        windows,
      },
      machine: {
        platform: os.platform(),
        release: os.release(),
        arch: os.arch(),
        cpus: cpus.length,
        cpuModel: cpus[0]?.model ?? 'unknown',
        totalMemoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
      },
      versions: {
        node: process.version,
        kvcacheLab: libVersion(),
        ioredis: packageVersion('ioredis'),
        promClient: packageVersion('prom-client'),
        redis: redisVersion,
      },
      measurements: {
        limit: { byWindow: limitByWindow, best: best(limitByWindow) },
        loadPath: {
          byWindow: loadByWindow,
          best: best(loadByWindow),
          fractionOfLimit: decodeSummary ? Math.round((decodeSummary.gbps / best(limitByWindow).gbps) * 1000) / 1000 : 0,
        },
        ...(macOnMs.length
          ? (() => {
              const without = summarizeTimings(macOffMs, totalBytes);
              const withMac = summarizeTimings(macOnMs, totalBytes);
              return { mac: { without, with: withMac, overhead: Math.round((withMac.medianMs / without.medianMs - 1) * 1000) / 1000 } };
            })()
          : {}),
        ...(cpu ? { cpu } : {}),
        memory: { windowBytes: store.windowBytes, windowedPeakBytes, allInFlightPeakBytes, prefixBytes: totalBytes },
        put: { ...summarizeTimings([putMs], totalBytes), stored: putResult.stored },
        get: {
          raw: rawSummary,
          store: storeSummary,
          ...(decodeSummary ? { storeDecode: decodeSummary, ratioDecode: Math.round((decodeSummary.gbps / rawSummary.gbps) * 1000) / 1000 } : {}),
          ratio: Math.round((storeSummary.gbps / rawSummary.gbps) * 1000) / 1000,
          verified,
        },
        lookup: {
          blocks: lookupBlocks,
          longestPrefix,
          commands: Object.values(delta).reduce((a, b) => a + b, 0),
          commandsByName: delta,
          roundTrips: rt1 - rt0,
          roundTripsOnWire,
          medianMs: Math.round(median(lookupMs) * 1000) / 1000,
          sequential: {
            commands: Object.values(commandDelta(sb, sa)).reduce((a, b) => a + b, 0),
            roundTrips: seqRoundTrips,
            medianMs: Math.round(median(seqMs) * 1000) / 1000,
          },
        },
      },
    };
  } finally {
    await viaProxy.close();
    await store.close();
    raw.disconnect();
    await proxy.close();
    await embedded?.stop();
  }
}

/** A short human-readable summary of a result. */
export function formatStoreBench(r: StoreBenchResult): string {
  const g = r.measurements.get;
  const l = r.measurements.lookup;
  const mib = (b: number): string => `${(b / 2 ** 20).toFixed(2)} MiB`;
  const lines = [
    `Store benchmark (${r.fast ? 'fast' : 'full'}) — Redis ${r.versions.redis} at ${r.config.redis}${r.config.embeddedRedis ? ' (embedded)' : ''}, ioredis ${r.versions.ioredis}, Node ${r.versions.node}`,
    `  prefix of ${r.config.tokens} tokens = ${r.config.blocks} blocks × ${mib(r.config.blockBytes)} = ${mib(r.config.totalBytes)}`,
    `  put (SET NX, windowed)            ${r.measurements.put.medianMs.toFixed(1)} ms   ${r.measurements.put.gbps.toFixed(2)} GB/s`,
    `  (a) raw ioredis getBuffer          ${g.raw.medianMs.toFixed(1)} ms   ${g.raw.gbps.toFixed(2)} GB/s (median of ${g.raw.samplesMs.length})`,
    `  (b) RedisStore.get                 ${g.store.medianMs.toFixed(1)} ms   ${g.store.gbps.toFixed(2)} GB/s   b/a = ${g.ratio.toFixed(2)}${g.verified ? '' : '  (BYTES DIFFER!)'}`,
  ];
  if (g.storeDecode) lines.push(`  (c) lookup + get + decode          ${g.storeDecode.medianMs.toFixed(1)} ms   ${g.storeDecode.gbps.toFixed(2)} GB/s   ratio ${g.ratioDecode?.toFixed(2)}`);
  const m = r.measurements;
  const rates = (list: WindowRate[]): string => list.map((x) => `${x.window}: ${x.gbps.toFixed(2)}`).join('  ');
  lines.push(`  plain socket by window (GB/s)      ${rates(m.limit.byWindow)}  → limit ${m.limit.best.gbps.toFixed(2)} GB/s at ${m.limit.best.window}`);
  if (m.loadPath.byWindow.length) {
    lines.push(`  load path by window (GB/s)         ${rates(m.loadPath.byWindow)}  → best ${m.loadPath.best.gbps.toFixed(2)} GB/s at ${m.loadPath.best.window}`);
    lines.push(`  load path at windowBytes ${mib(r.config.windowBytes)}: ${g.storeDecode?.gbps.toFixed(2)} GB/s = ${m.loadPath.fractionOfLimit.toFixed(2)} of the plain-socket limit`);
  }
  if (m.cpu) {
    const c = m.cpu;
    const of = (gbps: number): string => `${gbps.toFixed(2)} GB/s = ${(gbps / m.limit.best.gbps).toFixed(2)} of the limit`;
    lines.push(
      `  CPU per byte: receiving ${c.receiveNsPerByte.toFixed(2)} ns/B, verify + decode ${c.decodeNsPerByte.toFixed(2)} ns/B, Redis sending ${c.redisNsPerByte.toFixed(2)} ns/B (load path: client ${c.loadPath.clientNsPerByte.toFixed(2)}, Redis ${c.loadPath.redisNsPerByte.toFixed(2)})`,
      `  ceiling for one client thread (receive + decode): ${of(c.oneThreadGbps)}; the same work on all ${c.cores} cores${c.redisLocal ? ', shared with Redis' : ''}: ${of(c.allCoresGbps)}`,
    );
  }
  if (m.mac) lines.push(`  MAC check: ${m.mac.without.gbps.toFixed(2)} → ${m.mac.with.gbps.toFixed(2)} GB/s (+${(m.mac.overhead * 100).toFixed(1)} % time on the load path)`);
  lines.push(`  Redis memory above the data during one read: ${mib(m.memory.windowedPeakBytes)} through the store's window, ${mib(m.memory.allInFlightPeakBytes)} with every GET in flight (prefix ${mib(m.memory.prefixBytes)})`);
  lines.push(
    `  longest-prefix lookup of ${l.blocks} blocks: prefix ${l.longestPrefix}, ${l.commands} commands (${Object.entries(l.commandsByName).map(([k, v]) => `${k}×${v}`).join(', ')}), ${l.roundTrips} round trip(s) by the store, ${l.roundTripsOnWire} on the wire, ${l.medianMs.toFixed(2)} ms`,
    `  same lookup as awaited EXISTS one by one: ${l.sequential.commands} commands, ${l.sequential.roundTrips} round trips, ${l.sequential.medianMs.toFixed(2)} ms`,
  );
  return lines.join('\n');
}
