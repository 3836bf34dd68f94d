/**
 * Backends benchmark: the same KV-block workload (multi-MiB values written once, read many times, and
 * batched existence lookups of small keys) against every server and client that runs on this machine —
 * Redis with three Node clients (ioredis, node-redis, valkey-glide) and through our stores, a 3-master
 * Redis Cluster, memcached (two clients) and the in-process memory store — side by side in one run,
 * as ratios to raw ioredis `getBuffer`/`set`.
 *
 * Every server is private: started on a free loopback port, stopped at the end. A client that cannot
 * be loaded (e.g. valkey-glide's native binary missing) or a server that cannot start (no `memcached`
 * on the PATH) is reported as unavailable with the reason, and the rest still runs.
 */
import { execFile } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import * as net from 'node:net';
import * as os from 'node:os';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { isFastMode } from '../runtime/env';
import { libVersion, packageVersion } from '../runtime/versions';
import { InvalidInputError } from '../runtime/errors';
import { progress, type ProgressOptions } from '../runtime/progress';
import { freeLoopbackPort, startLoopbackServer } from '../runtime/loopback-server';
import { startEmbeddedRedis, type EmbeddedRedis } from '../store/embedded-redis';
import { median, summarizeTimings, type TimingSummary } from './stats';
import { MemoryStore } from '../store/memory-store';
import { RedisClusterStore } from '../store/redis-cluster-store';
import { RedisStore } from '../store/redis-store';

const execFileP = promisify(execFile);
const MiB = 2 ** 20;

/** Every measured (server, client) pair. `redis/ioredis` is the baseline of every ratio. */
export const BACKEND_TARGETS = [
  'redis/ioredis',
  'redis/RedisStore',
  'redis/node-redis',
  'redis/valkey-glide',
  'redis-cluster/RedisClusterStore',
  'memcached/memjs',
  'memcached/meta-client',
  'memory/MemoryStore',
] as const;
export type BackendTargetId = (typeof BACKEND_TARGETS)[number];

export const BASELINE_TARGET: BackendTargetId = 'redis/ioredis';

export interface BackendsBenchOptions {
  /** Value sizes to measure, in bytes. @default 0.5, 1, 2, 4, 8 MiB; 0.5, 2, 8 MiB with KVLAB_FAST=1 */
  blockSizes?: number[];
  /** Bytes moved by one timed pass (blocks = this ÷ block size, at least 1). @default 128 MiB; 16 MiB with KVLAB_FAST=1 */
  bytesPerPass?: number;
  /** Timed passes of each target per size (medians are reported). @default 9; 3 with KVLAB_FAST=1 */
  iterations?: number;
  /** Keys per batched existence lookup. @default 128 */
  lookupKeys?: number;
  /** Of those, how many exist. @default 96 */
  lookupPresent?: number;
  /** Bytes of each small value behind a lookup key. @default 1024 */
  lookupValueBytes?: number;
  /** Timed lookups per target. @default 31; 9 with KVLAB_FAST=1 */
  lookupIterations?: number;
  /** Which targets to run. @default every target in BACKEND_TARGETS */
  targets?: readonly BackendTargetId[];
  /** memcached's `-m` (MiB of item memory) for the measured server. @default 2048 */
  memcachedMemoryMiB?: number;
  /** memcached's `-I` (largest item) for the measured server. @default '16m' */
  memcachedItemMax?: string;
  /** Value sizes tried against a memcached started with its defaults (1 MiB item limit). @default 0.5, 1, 2, 8 MiB */
  memcachedProbeSizes?: number[];
  /** Called as work progresses; when absent, lib's `progress()` bar is drawn (see `progressTarget`). */
  onProgress?: (done: number, total: number, label: string) => void;
  /** Where the default progress bar draws. @default 'auto' (notebook display or stderr) */
  progressTarget?: ProgressOptions['target'];
}

export const DEFAULT_BACKENDS_BENCH_OPTIONS = {
  blockSizes: [0.5 * MiB, 1 * MiB, 2 * MiB, 4 * MiB, 8 * MiB],
  blockSizesFast: [0.5 * MiB, 2 * MiB, 8 * MiB],
  bytesPerPass: 128 * MiB,
  bytesPerPassFast: 16 * MiB,
  iterations: 9,
  iterationsFast: 3,
  lookupKeys: 128,
  lookupPresent: 96,
  lookupValueBytes: 1024,
  lookupIterations: 31,
  lookupIterationsFast: 9,
  memcachedMemoryMiB: 2048,
  memcachedItemMax: '16m',
  memcachedProbeSizes: [0.5 * MiB, 1 * MiB, 2 * MiB, 8 * MiB],
} as const;

export interface BackendTargetInfo {
  id: BackendTargetId;
  server: string;
  client: string;
  /** What exactly is timed: the commands of a write, a read and a lookup, and how they are batched. */
  how: { write: string; read: string; lookup: string };
  available: boolean;
  /** Why the target could not run. */
  error?: string;
}

export interface TransferRow {
  target: BackendTargetId;
  write: TimingSummary;
  read: TimingSummary;
  /**
   * Write / read throughput relative to `redis/ioredis` at the same size (1 = as fast, 2 = twice as
   * fast): the median over passes of (ioredis time ÷ this target's time) within the same pass, so that
   * a slow stretch of the machine affects both sides of each ratio.
   */
  writeRatio: number;
  readRatio: number;
  /** Every value read back (warm-up and every timed pass) was byte-identical to what was written. */
  verified: boolean;
  /** Set when the target failed at this size (then the timings are empty). */
  error?: string;
}

export interface TransferResult {
  blockBytes: number;
  blocks: number;
  totalBytes: number;
  rows: TransferRow[];
}

export interface LookupRow {
  target: BackendTargetId;
  medianMs: number;
  minMs: number;
  /** Time relative to `redis/ioredis` (lower is faster): median over rounds of the per-round time ratio. */
  ratio: number;
  /** Answers matched the stored keys exactly (first `present` found, the rest not). */
  correct: boolean;
  error?: string;
}

export interface MemcachedProbe {
  valueBytes: number;
  /** Stored and read back byte-identical. */
  stored: boolean;
  /** The server's (meta client) or client's (memjs) answer when not stored. */
  error?: string;
}

export interface MemcachedLimitResult {
  available: boolean;
  error?: string;
  /** Arguments of the server started with memcached's default item limit. */
  args: string[];
  /** `item_size_max` reported by that server (`stats settings`). */
  itemSizeMax?: number;
  /** Per probe size, through the meta client and through memjs. */
  probes: { valueBytes: number; meta: MemcachedProbe; memjs?: MemcachedProbe }[];
  /** Largest value the default server stored (binary search, meta client), in bytes. */
  largestStoredBytes?: number;
  /** The same probe sizes against the measured server (`-I` raised). */
  raisedLimit: { args: string[]; itemSizeMax?: number; probes: MemcachedProbe[] };
}

export interface BackendsBenchResult {
  benchmark: 'backends';
  date: string;
  fast: boolean;
  config: {
    blockSizes: number[];
    bytesPerPass: number;
    iterations: number;
    lookupKeys: number;
    lookupPresent: number;
    lookupValueBytes: number;
    lookupIterations: number;
    baseline: BackendTargetId;
    servers: {
      redis: { embedded: true; args: string[] };
      redisCluster: { masters: number; args: string[] };
      memcached: { args: string[] };
    };
    /** How a timed pass runs: every request of a pass in flight at once on one connection per client. */
    method: string;
  };
  machine: {
    platform: string;
    release: string;
    arch: string;
    cpus: number;
    cpuModel: string;
    totalMemoryGiB: number;
    /** 1-minute load average when the run started and ended: above the core count, other work competed. */
    loadAverage: { start: number; end: number };
  };
  versions: {
    node: string;
    kvcacheLab: string;
    ioredis: string;
    nodeRedis: string;
    valkeyGlide: string;
    memjs: string;
    redisServer: string;
    memcached: string;
  };
  targets: BackendTargetInfo[];
  measurements: {
    transfer: TransferResult[];
    lookup: { keys: number; present: number; valueBytes: number; rows: LookupRow[] };
    memcachedItemLimit: MemcachedLimitResult;
  };
}

// ────────────────────────────────────────────────────────────────────────────────────────────────
// Small helpers


const round = (x: number, digits = 3): number => Math.round(x * 10 ** digits) / 10 ** digits;

/** Median over i of a[i] / b[i]: a ratio of two series measured side by side, pass by pass. */
function pairedRatio(a: number[], b: number[]): number {
  const n = Math.min(a.length, b.length);
  if (n === 0) return 0;
  return median(Array.from({ length: n }, (_, i) => a[i]! / b[i]!));
}

function hashes(n: number, seed: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(createHash('sha256').update(seed).update(String(i)).digest('hex'));
  return out;
}

function errorText(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0]!.slice(0, 300);
}



async function timeIt<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = process.hrtime.bigint();
  const out = await fn();
  return [Number(process.hrtime.bigint() - t0) / 1e6, out];
}

// ────────────────────────────────────────────────────────────────────────────────────────────────
// memcached: a private server and a minimal meta-protocol client

export interface MemcachedServer {
  readonly port: number;
  /** The arguments that matter for a comparison (without the port and `-u root`). */
  readonly args: string[];
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

/**
 * Start a private `memcached` on loopback (UDP off). `extraArgs` e.g. `['-m', '2048', '-I', '16m']`.
 * Throws if `memcached` is not installed (`apt-get install memcached`).
 */
export async function startMemcached(extraArgs: string[] = []): Promise<MemcachedServer> {
  const port = await freeLoopbackPort();
  const server = await startLoopbackServer({
    command: 'memcached',
    args: ['-l', '127.0.0.1', '-p', String(port), '-U', '0', ...(process.getuid?.() === 0 ? ['-u', 'root'] : []), ...extraArgs],
    port,
    startTimeoutMs: 10_000,
    notInstalled: "'memcached' not found: install it (apt-get install memcached / brew install memcached)",
    makeError: (message, cause) => new Error(message, cause === undefined ? undefined : { cause }),
  });
  return { port, args: ['-l', '127.0.0.1', '-U', '0', ...extraArgs], pid: server.pid, stop: () => server.stop() };
}

type MetaReply = { line: string; value?: Buffer };

interface Pending {
  resolve: (r: MetaReply) => void;
  reject: (e: Error) => void;
}

const EMPTY = Buffer.alloc(0);

/**
 * A minimal memcached client for the meta text protocol (memcached ≥ 1.6): `ms` (set), `mg` (get /
 * exists), `md` (delete). Requests are written back to back on one socket and answered in order; a
 * value is copied once from the socket chunks into a buffer of its exact size. It exists to measure
 * the *server* without a general-purpose client's overheads; it has no reconnects, no timeouts, no
 * server pool: not for production.
 */
export class MemcachedMetaClient {
  private readonly socket: net.Socket;
  private readonly pending: Pending[] = [];
  private line: Buffer = EMPTY;
  private body: { buf: Buffer; filled: number; line: string } | undefined;
  private skip = 0;
  private failure: Error | undefined;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    const fail = (err: Error): void => {
      this.failure = err;
      for (const p of this.pending.splice(0)) p.reject(err);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('memcached connection closed')));
  }

  static connect(port: number, host = '127.0.0.1'): Promise<MemcachedMetaClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host }, () => {
        s.off('error', reject);
        resolve(new MemcachedMetaClient(s));
      });
      s.once('error', reject);
    });
  }

  private onData(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) {
      if (this.body) {
        const b = this.body;
        const n = Math.min(b.buf.length - b.filled, chunk.length - off);
        chunk.copy(b.buf, b.filled, off, off + n);
        b.filled += n;
        off += n;
        if (b.filled === b.buf.length) {
          this.body = undefined;
          this.skip = 2;
          this.pending.shift()?.resolve({ line: b.line, value: b.buf });
        }
        continue;
      }
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - off);
        this.skip -= n;
        off += n;
        continue;
      }
      const nl = chunk.indexOf(10, off);
      if (nl < 0) {
        this.line = Buffer.concat([this.line, chunk.subarray(off)]);
        return;
      }
      const raw = this.line.length ? Buffer.concat([this.line, chunk.subarray(off, nl + 1)]) : chunk.subarray(off, nl + 1);
      this.line = EMPTY;
      off = nl + 1;
      const line = raw.toString('latin1', 0, Math.max(0, raw.length - 2));
      if (line.startsWith('VA ')) {
        const size = Number.parseInt(line.slice(3), 10);
        if (size === 0) {
          this.skip = 2;
          this.pending.shift()?.resolve({ line, value: Buffer.alloc(0) });
        } else this.body = { buf: Buffer.allocUnsafe(size), filled: 0, line };
      } else {
        this.pending.shift()?.resolve({ line });
      }
    }
  }

  private request(parts: (string | Buffer)[]): Promise<MetaReply> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<MetaReply>((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.socket.cork();
      for (const p of parts) this.socket.write(p);
      this.socket.uncork();
    });
  }

  /** Store a value; resolves to the server's status line (`HD` = stored). */
  async set(key: string, value: Buffer): Promise<string> {
    return (await this.request([`ms ${key} ${value.length} T0\r\n`, value, '\r\n'])).line;
  }

  /** The value of a key, or `undefined`. */
  async get(key: string): Promise<Buffer | undefined> {
    const r = await this.request([`mg ${key} v\r\n`]);
    if (r.value) return r.value;
    if (r.line === 'EN') return undefined;
    throw new Error(`memcached mg: ${r.line}`);
  }

  /** Whether each key exists, asked in one write (`mg key` without flags answers HD / EN, no value). */
  exists(keys: readonly string[]): Promise<boolean[]> {
    if (this.failure) return Promise.reject(this.failure);
    const replies = keys.map(
      () => new Promise<MetaReply>((resolve, reject) => this.pending.push({ resolve, reject })),
    );
    this.socket.write(keys.map((k) => `mg ${k}\r\n`).join(''));
    return Promise.all(replies).then((rs) =>
      rs.map((r) => {
        if (r.line === 'HD') return true;
        if (r.line === 'EN') return false;
        throw new Error(`memcached mg: ${r.line}`);
      }),
    );
  }

  /** Delete a key; resolves to whether it existed. */
  async delete(key: string): Promise<boolean> {
    return (await this.request([`md ${key}\r\n`])).line === 'HD';
  }

  /** `stats settings` as a map. */
  async settings(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    await new Promise<void>((resolve, reject) => {
      // Collect STAT lines until END through the normal line parser.
      const onLine = (r: MetaReply): void => {
        if (r.line === 'END') return resolve();
        const m = /^STAT (\S+) (.*)$/.exec(r.line);
        if (!m) return reject(new Error(`memcached stats: ${r.line}`));
        out[m[1]!] = m[2]!;
        this.pending.unshift({ resolve: onLine, reject });
      };
      this.pending.push({ resolve: onLine, reject });
      this.socket.write('stats settings\r\n');
    });
    return out;
  }

  close(): void {
    this.socket.destroy();
  }
}

// ────────────────────────────────────────────────────────────────────────────────────────────────
// Targets: one uniform face over each (server, client)

/**
 * One (server, client) pair behind a uniform face. Keys are 64-hex block hashes (raw clients prefix
 * them like the stores do); values are Buffers.
 */
export interface BackendTarget {
  info: BackendTargetInfo;
  /** Write every value under its key, all in flight at once; throws unless every write succeeded. */
  write(keys: string[], values: Buffer[]): Promise<void>;
  /** Read every key, all in flight at once; `undefined` for a miss. */
  read(keys: string[]): Promise<(Buffer | undefined)[]>;
  /** One batched existence lookup. */
  exists(keys: string[]): Promise<boolean[]>;
  remove(keys: string[]): Promise<void>;
  close(): Promise<void>;
}

/** Keys are 64-hex block hashes; raw clients prefix them like the stores do. */
const rawKey = (client: string, hash: string): string => `kvlab:bench-${client}:${hash}`;

interface Servers {
  redis?: EmbeddedRedis;
  cluster?: { nodes: EmbeddedRedis[] };
  memcached?: MemcachedServer;
}

function ensure(cond: boolean, message: string): void {
  if (!cond) throw new Error(message);
}

async function makeTarget(id: BackendTargetId, servers: Servers, maxValueBytes: number): Promise<BackendTarget> {
  const redisPort = (): number => {
    if (!servers.redis) throw new Error('redis-server did not start');
    return servers.redis.port;
  };
  const storeMax = Math.max(maxValueBytes, 8 * MiB);
  switch (id) {
    case 'redis/ioredis': {
      const r = new Redis({ host: '127.0.0.1', port: redisPort(), lazyConnect: true, maxRetriesPerRequest: 0 });
      await r.connect();
      const k = (h: string): string => rawKey('ioredis', h);
      return {
        info: info(id, 'Redis (standalone)', `ioredis ${packageVersion('ioredis')}`, { write: 'SET per block, all in flight on one connection', read: 'getBuffer per block, all in flight on one connection', lookup: 'EXISTS × n in one pipeline' }),
        async write(keys, values) {
          const out = await Promise.all(keys.map((h, i) => r.set(k(h), values[i]!)));
          ensure(out.every((x) => x === 'OK'), 'SET failed');
        },
        async read(keys) {
          return (await Promise.all(keys.map((h) => r.getBuffer(k(h))))).map((v) => v ?? undefined);
        },
        async exists(keys) {
          const p = r.pipeline();
          for (const h of keys) p.exists(k(h));
          const out = (await p.exec()) ?? [];
          return out.map(([err, n]) => {
            if (err) throw err;
            return n === 1;
          });
        },
        async remove(keys) {
          if (keys.length) await r.del(...keys.map(k));
        },
        async close() {
          r.disconnect();
        },
      };
    }
    case 'redis/RedisStore': {
      const store = new RedisStore({ host: '127.0.0.1', port: redisPort(), namespace: 'bench-store', name: 'bench-backends', commandTimeout: 120_000, maxValueBytes: storeMax });
      if (!(await store.ready())) throw new Error('RedisStore could not connect');
      return storeTarget(id, store, 'Redis (standalone)', `kvcache-lab RedisStore (ioredis ${packageVersion('ioredis')} + own bulk read connection)`, { write: 'put(): SET NX per block, written back to back without waiting', read: 'get(): GET per block over the store\'s bulk read connection, all in one round trip', lookup: 'has(): EXISTS × n in one pipeline' });
    }
    case 'redis/node-redis': {
      const redis = await import('redis');
      const client = redis.createClient({ socket: { host: '127.0.0.1', port: redisPort() } });
      client.on('error', () => undefined);
      await client.connect();
      const bin = client.withTypeMapping({ [redis.RESP_TYPES.BLOB_STRING]: Buffer });
      const k = (h: string): string => rawKey('node-redis', h);
      return {
        info: info(id, 'Redis (standalone)', `node-redis (redis) ${packageVersion('redis')}`, { write: 'SET per block, all in flight on one connection', read: 'GET per block with the BLOB_STRING → Buffer type mapping, all in flight on one connection', lookup: 'EXISTS × n in multi().execAsPipeline()' }),
        async write(keys, values) {
          const out = await Promise.all(keys.map((h, i) => client.set(k(h), values[i]!)));
          ensure(out.every((x) => x === 'OK'), 'SET failed');
        },
        async read(keys) {
          const out = await Promise.all(keys.map((h) => bin.get(k(h))));
          return out.map((v) => (v === null ? undefined : (v as unknown as Buffer)));
        },
        async exists(keys) {
          const m = client.multi();
          for (const h of keys) m.exists(k(h));
          const out = (await m.execAsPipeline()) as unknown as number[];
          return out.map((n) => n === 1);
        },
        async remove(keys) {
          if (keys.length) await client.del(keys.map(k));
        },
        async close() {
          client.destroy();
        },
      };
    }
    case 'redis/valkey-glide': {
      const glide = await import('@valkey/valkey-glide');
      const client = await glide.GlideClient.createClient({ addresses: [{ host: '127.0.0.1', port: redisPort() }], requestTimeout: 120_000 });
      const k = (h: string): string => rawKey('glide', h);
      return {
        info: info(id, 'Redis (standalone)', `@valkey/valkey-glide ${packageVersion('@valkey/valkey-glide')}`, { write: 'SET per block, all in flight on one (multiplexed) client', read: 'GET per block with Decoder.Bytes, all in flight', lookup: 'EXISTS × n in one non-atomic Batch (exec)' }),
        async write(keys, values) {
          const out = await Promise.all(keys.map((h, i) => client.set(k(h), values[i]!)));
          ensure(out.every((x) => x === 'OK'), 'SET failed');
        },
        async read(keys) {
          const out = await Promise.all(keys.map((h) => client.get(k(h), { decoder: glide.Decoder.Bytes })));
          return out.map((v) => (v === null ? undefined : (v as Buffer)));
        },
        async exists(keys) {
          const b = new glide.Batch(false);
          for (const h of keys) b.exists([k(h)]);
          const out = (await client.exec(b, true)) ?? [];
          return out.map((n) => n === 1);
        },
        async remove(keys) {
          if (keys.length) await client.del(keys.map(k));
        },
        async close() {
          client.close();
        },
      };
    }
    case 'redis-cluster/RedisClusterStore': {
      if (!servers.cluster) throw new Error('Redis Cluster did not start');
      const store = new RedisClusterStore({
        nodes: servers.cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
        namespace: 'bench-cluster',
        name: 'bench-backends-cluster',
        commandTimeout: 120_000,
        maxValueBytes: storeMax,
      });
      if (!(await store.ready())) throw new Error('RedisClusterStore could not connect');
      return storeTarget(id, store, `Redis Cluster (${servers.cluster.nodes.length} masters)`, `kvcache-lab RedisClusterStore (ioredis ${packageVersion('ioredis')} Cluster)`, { write: 'put(): SET NX per block, back to back per master, masters in parallel', read: 'get(): MGET per hash slot, one pipeline per master, masters in parallel', lookup: 'has(): EXISTS × n, one pipeline per master, masters in parallel' });
    }
    case 'memcached/memjs': {
      if (!servers.memcached) throw new Error('memcached did not start');
      const memjs = (await import('memjs')).default;
      const client = memjs.Client.create(`127.0.0.1:${servers.memcached.port}`, {
        timeout: 120,
        conntimeout: 10,
        retries: 1,
        logger: { log: () => undefined },
      });
      const k = (h: string): string => rawKey('memjs', h);
      return {
        info: info(id, memcachedLabel(servers.memcached), `memjs ${packageVersion('memjs')}`, { write: 'set per block (binary protocol), all in flight on one connection', read: 'get per block, all in flight on one connection', lookup: 'get × n in flight (memjs has no exists and no multi-get)' }),
        async write(keys, values) {
          const out = await Promise.all(keys.map((h, i) => client.set(k(h), values[i]!, { expires: 0 })));
          ensure(out.every(Boolean), 'set failed');
        },
        async read(keys) {
          const out = await Promise.all(keys.map((h) => client.get(k(h))));
          return out.map((r) => r.value ?? undefined);
        },
        async exists(keys) {
          const out = await Promise.all(keys.map((h) => client.get(k(h))));
          return out.map((r) => r.value !== null);
        },
        async remove(keys) {
          await Promise.all(keys.map((h) => client.delete(k(h))));
        },
        async close() {
          client.close();
        },
      };
    }
    case 'memcached/meta-client': {
      if (!servers.memcached) throw new Error('memcached did not start');
      const client = await MemcachedMetaClient.connect(servers.memcached.port);
      const k = (h: string): string => rawKey('meta', h);
      return {
        info: info(id, memcachedLabel(servers.memcached), 'MemcachedMetaClient (this file, bench only)', { write: 'ms per block (meta protocol), all in flight on one connection', read: 'mg … v per block, all in flight on one connection', lookup: 'mg without flags (no value returned) × n in one write' }),
        async write(keys, values) {
          const out = await Promise.all(keys.map((h, i) => client.set(k(h), values[i]!)));
          const bad = out.find((x) => x !== 'HD');
          ensure(bad === undefined, `ms: ${bad}`);
        },
        read(keys) {
          return Promise.all(keys.map((h) => client.get(k(h))));
        },
        exists(keys) {
          return client.exists(keys.map(k));
        },
        async remove(keys) {
          await Promise.all(keys.map((h) => client.delete(k(h))));
        },
        async close() {
          client.close();
        },
      };
    }
    case 'memory/MemoryStore': {
      const store = new MemoryStore({ name: 'bench-backends-memory', maxBytes: 4 * 1024 * MiB, copy: true });
      return storeTarget(id, store, 'in-process (no server)', 'kvcache-lab MemoryStore({ copy: true })', { write: 'put() copies each value into the LRU map (copy: true)', read: 'get() copies each value out (copy: true; the default copy: false shares buffers and moves no bytes)', lookup: 'has(): Map lookups' });
    }
  }
}

function memcachedLabel(m: MemcachedServer): string {
  return `memcached (${m.args.slice(4).join(' ')})`;
}

function info(id: BackendTargetId, server: string, client: string, how: BackendTargetInfo['how']): BackendTargetInfo {
  return { id, server, client, how, available: true };
}

function storeTarget(
  id: BackendTargetId,
  store: RedisStore | RedisClusterStore | MemoryStore,
  server: string,
  client: string,
  how: BackendTargetInfo['how'],
): BackendTarget {
  return {
    info: info(id, server, client, how),
    async write(keys, values) {
      const r = await store.put(keys.map((hash, i) => ({ hash, value: values[i]! })));
      ensure(r.stored === keys.length, `put stored ${r.stored} of ${keys.length} (${r.failed} failed, ${r.existing} existed)`);
    },
    read(keys) {
      return store.get(keys);
    },
    exists(keys) {
      return store.has(keys);
    },
    async remove(keys) {
      await store.delete(keys);
    },
    close() {
      return store.close();
    },
  };
}

// ────────────────────────────────────────────────────────────────────────────────────────────────
// Servers

async function startCluster(masters: number, args: string[]): Promise<{ nodes: EmbeddedRedis[] }> {
  const nodes: EmbeddedRedis[] = [];
  try {
    for (let i = 0; i < masters; i++) {
      nodes.push(await startEmbeddedRedis({ args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '5000', ...args] }));
    }
    await execFileP('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes']);
    const deadline = Date.now() + 20_000;
    for (;;) {
      const states = await Promise.all(
        nodes.map((n) => execFileP('redis-cli', ['-p', String(n.port), 'cluster', 'info']).then(({ stdout }) => /cluster_state:ok/.test(stdout), () => false)),
      );
      if (states.every(Boolean)) break;
      if (Date.now() > deadline) throw new Error('Redis Cluster did not reach cluster_state:ok');
      await new Promise((r) => setTimeout(r, 100));
    }
    return { nodes };
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw err;
  }
}

async function memcachedVersion(): Promise<string> {
  try {
    const { stdout } = await execFileP('memcached', ['-V']);
    return stdout.trim().replace(/^memcached\s+/, '');
  } catch {
    return 'not installed';
  }
}

// ────────────────────────────────────────────────────────────────────────────────────────────────
// memcached item-size limit

async function probeMemcached(value: Buffer, meta: MemcachedMetaClient, key: string): Promise<MemcachedProbe> {
  const status = await meta.set(key, value);
  if (status !== 'HD') return { valueBytes: value.length, stored: false, error: status };
  const back = await meta.get(key);
  await meta.delete(key);
  return { valueBytes: value.length, stored: back !== undefined && back.equals(value), ...(back && back.equals(value) ? {} : { error: 'read back differs' }) };
}

async function probeMemjs(value: Buffer, port: number, key: string): Promise<MemcachedProbe> {
  const memjs = (await import('memjs')).default;
  const client = memjs.Client.create(`127.0.0.1:${port}`, { timeout: 30, conntimeout: 10, retries: 1, logger: { log: () => undefined } });
  try {
    await client.set(key, value, { expires: 0 });
    const back = (await client.get(key)).value;
    await client.delete(key);
    const ok = back !== null && back.equals(value);
    return { valueBytes: value.length, stored: ok, ...(ok ? {} : { error: 'read back differs' }) };
  } catch (err) {
    return { valueBytes: value.length, stored: false, error: errorText(err) };
  } finally {
    client.close();
  }
}

async function memcachedLimits(measured: MemcachedServer | undefined, sizes: number[]): Promise<MemcachedLimitResult> {
  const result: MemcachedLimitResult = { available: false, args: [], probes: [], raisedLimit: { args: measured?.args ?? [], probes: [] } };
  let server: MemcachedServer | undefined;
  let meta: MemcachedMetaClient | undefined;
  try {
    server = await startMemcached([]);
    result.args = server.args;
    meta = await MemcachedMetaClient.connect(server.port);
    result.itemSizeMax = Number((await meta.settings()).item_size_max);
    const maxSize = Math.max(...sizes);
    const source = randomFillSync(Buffer.allocUnsafe(maxSize));
    for (const size of sizes) {
      const value = source.subarray(0, size);
      result.probes.push({ valueBytes: size, meta: await probeMemcached(value, meta, 'probe-meta'), memjs: await probeMemjs(value, server.port, 'probe-memjs') });
    }
    // Largest storable value at the default limit (binary search on the value size).
    let lo = 0;
    let hi = Math.min(maxSize, 2 * (result.itemSizeMax || MiB));
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if ((await meta.set('probe-largest', source.subarray(0, mid))) === 'HD') lo = mid;
      else hi = mid - 1;
    }
    result.largestStoredBytes = lo;
    if (measured) {
      const m = await MemcachedMetaClient.connect(measured.port);
      try {
        result.raisedLimit.itemSizeMax = Number((await m.settings()).item_size_max);
        for (const size of sizes) result.raisedLimit.probes.push(await probeMemcached(source.subarray(0, size), m, 'probe-raised'));
      } finally {
        m.close();
      }
    }
    result.available = true;
  } catch (err) {
    result.error = errorText(err);
  } finally {
    meta?.close();
    await server?.stop();
  }
  return result;
}

export interface OpenBackendsOptions {
  /** Largest value the stores must accept. @default 8 MiB */
  maxValueBytes?: number;
  /** Arguments of the measured memcached. @default ['-m', '2048', '-I', '16m'] */
  memcachedArgs?: string[];
  /** Masters of the Redis Cluster. @default 3 */
  clusterMasters?: number;
  /** Called once the servers run (`'servers'`), then after each target connected or failed. */
  onTarget?: (id: BackendTargetId | 'servers') => void;
}

export interface OpenBackends {
  /** The targets that connected, in the order asked for. */
  targets: BackendTarget[];
  /** Every target asked for, with `available: false` and the reason for those that could not run. */
  infos: BackendTargetInfo[];
  memcached?: MemcachedServer;
  /** Close every client and stop every server. */
  close(): Promise<void>;
}

/**
 * Start the private servers the targets need (redis-server; a Redis Cluster; memcached) and connect
 * each target. A target whose server or client is unavailable is reported in `infos`, not thrown.
 */
export async function openBackends(ids: readonly BackendTargetId[], options: OpenBackendsOptions = {}): Promise<OpenBackends> {
  const memcachedArgs = options.memcachedArgs ?? ['-m', String(DEFAULT_BACKENDS_BENCH_OPTIONS.memcachedMemoryMiB), '-I', DEFAULT_BACKENDS_BENCH_OPTIONS.memcachedItemMax];
  const servers: Servers = {};
  const targets: BackendTarget[] = [];
  const infos: BackendTargetInfo[] = [];
  const serverErrors: Record<string, string> = {};
  const needs = (prefix: string): boolean => ids.some((t) => t.startsWith(prefix));
  const close = async (): Promise<void> => {
    for (const t of targets.splice(0)) await t.close().catch(() => undefined);
    await servers.redis?.stop();
    await Promise.all(servers.cluster?.nodes.map((n) => n.stop()) ?? []);
    await servers.memcached?.stop();
  };
  try {
    if (needs('redis/')) {
      try {
        servers.redis = await startEmbeddedRedis({ args: REDIS_ARGS });
      } catch (err) {
        serverErrors.redis = errorText(err);
      }
    }
    if (needs('redis-cluster/')) {
      try {
        servers.cluster = await startCluster(options.clusterMasters ?? 3, REDIS_ARGS);
      } catch (err) {
        serverErrors['redis-cluster'] = errorText(err);
      }
    }
    if (needs('memcached/')) {
      try {
        servers.memcached = await startMemcached(memcachedArgs);
      } catch (err) {
        serverErrors.memcached = errorText(err);
      }
    }
    options.onTarget?.('servers');
    for (const id of ids) {
      const [server, client] = id.split('/') as [string, string];
      try {
        if (serverErrors[server]) throw new Error(serverErrors[server]);
        const t = await makeTarget(id, servers, options.maxValueBytes ?? 8 * MiB);
        targets.push(t);
        infos.push(t.info);
      } catch (err) {
        infos.push({ id, server, client, how: { write: '', read: '', lookup: '' }, available: false, error: errorText(err) });
      }
      options.onTarget?.(id);
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { targets, infos, memcached: servers.memcached, close };
}

/** Extra `redis-server` arguments of the measured servers (none: Redis defaults, no persistence). */
const REDIS_ARGS: string[] = [];

// ────────────────────────────────────────────────────────────────────────────────────────────────
// The benchmark

function positiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new InvalidInputError(`${name} must be an integer ≥ 1, got ${v}`);
}

/** Run the comparison. Starts and stops its own servers; needs `redis-server` (and `memcached` for its rows). */
export async function runBackendsBenchmark(options: BackendsBenchOptions = {}): Promise<BackendsBenchResult> {
  const fast = isFastMode();
  const d = DEFAULT_BACKENDS_BENCH_OPTIONS;
  const blockSizes = [...(options.blockSizes ?? (fast ? d.blockSizesFast : d.blockSizes))];
  const bytesPerPass = options.bytesPerPass ?? (fast ? d.bytesPerPassFast : d.bytesPerPass);
  const iterations = options.iterations ?? (fast ? d.iterationsFast : d.iterations);
  const lookupKeys = options.lookupKeys ?? d.lookupKeys;
  const lookupPresent = Math.min(options.lookupPresent ?? d.lookupPresent, lookupKeys);
  const lookupValueBytes = options.lookupValueBytes ?? d.lookupValueBytes;
  const lookupIterations = options.lookupIterations ?? (fast ? d.lookupIterationsFast : d.lookupIterations);
  const wanted = [...(options.targets ?? BACKEND_TARGETS)];
  if (!wanted.includes(BASELINE_TARGET)) wanted.unshift(BASELINE_TARGET);
  for (const t of wanted) if (!BACKEND_TARGETS.includes(t)) throw new InvalidInputError(`unknown target ${JSON.stringify(t)} (known: ${BACKEND_TARGETS.join(', ')})`);
  for (const s of blockSizes) positiveInt('block size', s);
  for (const [k, v] of Object.entries({ bytesPerPass, iterations, lookupKeys, lookupValueBytes, lookupIterations })) positiveInt(k, v);
  const probeSizes = options.memcachedProbeSizes ?? [...d.memcachedProbeSizes];
  const memcachedArgs = ['-m', String(options.memcachedMemoryMiB ?? d.memcachedMemoryMiB), '-I', options.memcachedItemMax ?? d.memcachedItemMax];
  const clusterMasters = 3;
  const redisArgs = REDIS_ARGS;
  const maxValueBytes = Math.max(...blockSizes);

  const loadStart = os.loadavg()[0]!;
  const plan = blockSizes.map((size) => ({ size, blocks: Math.max(1, Math.floor(bytesPerPass / size)) }));
  const T = wanted.length;
  const totalSteps = 1 + T + plan.length * (T + iterations * T + 1) + 2 * T + 1 + 1;
  let step = 0;
  const bar = options.onProgress ? undefined : progress(totalSteps, 'bench:backends', { target: options.progressTarget ?? 'auto' });
  const tick = (label: string): void => {
    step = Math.min(totalSteps, step + 1);
    if (options.onProgress) options.onProgress(step, totalSteps, label);
    else bar?.tick(1, `bench:backends ${label}`);
  };

  const backends = await openBackends(wanted, { maxValueBytes, memcachedArgs, clusterMasters, onTarget: (id) => tick(id === 'servers' ? 'servers' : `connect ${id}`) });
  const { targets, infos } = backends;
  try {
    if (!targets.some((t) => t.info.id === BASELINE_TARGET)) throw new Error(`the baseline ${BASELINE_TARGET} could not run: ${infos.find((i) => i.id === BASELINE_TARGET)?.error}`);

    // ── Transfers: per size, every target writes its read set once (verified), then timed passes,
    //    the order of targets rotating every pass so that none always runs on a warmer heap.
    const transfer: TransferResult[] = [];
    for (const { size, blocks } of plan) {
      const label = `${size / MiB} MiB`;
      const values = Array.from({ length: blocks }, () => randomFillSync(Buffer.allocUnsafe(size)));
      const readKeys = hashes(blocks, `read-${size}-${Date.now()}`);
      const state = new Map<BackendTargetId, { write: number[]; read: number[]; verified: boolean; error?: string }>();
      for (const t of targets) {
        const s = { write: [] as number[], read: [] as number[], verified: true, error: undefined as string | undefined };
        state.set(t.info.id, s);
        try {
          await t.write(readKeys, values);
          const back = await t.read(readKeys);
          s.verified = back.every((v, i) => v !== undefined && v.equals(values[i]!));
        } catch (err) {
          s.error = errorText(err);
          s.verified = false;
        }
        tick(`${label} load ${t.info.id}`);
      }
      for (let it = 0; it < iterations; it++) {
        const order = targets.map((_, i) => targets[(i + it) % targets.length]!);
        for (const t of order) {
          const s = state.get(t.info.id)!;
          if (s.error) {
            tick(`${label} skip ${t.info.id}`);
            continue;
          }
          try {
            const writeKeys = hashes(blocks, `write-${size}-${it}-${t.info.id}-${Date.now()}`);
            const [wMs] = await timeIt(() => t.write(writeKeys, values));
            s.write.push(wMs);
            await t.remove(writeKeys);
            const [rMs, back] = await timeIt(() => t.read(readKeys));
            s.read.push(rMs);
            if (!back.every((v, i) => v !== undefined && v.equals(values[i]!))) s.verified = false;
          } catch (err) {
            s.error = errorText(err);
          }
          tick(`${label} ${t.info.id}`);
        }
      }
      for (const t of targets) await t.remove(readKeys).catch(() => undefined);
      tick(`${label} cleanup`);
      const totalBytes = blocks * size;
      const base = state.get(BASELINE_TARGET)!;
      transfer.push({
        blockBytes: size,
        blocks,
        totalBytes,
        rows: targets.map((t) => {
          const s = state.get(t.info.id)!;
          const write = summarizeTimings(s.error ? [] : s.write, totalBytes);
          const read = summarizeTimings(s.error ? [] : s.read, totalBytes);
          return {
            target: t.info.id,
            write,
            read,
            writeRatio: s.error || base.error ? 0 : round(pairedRatio(base.write, s.write)),
            readRatio: s.error || base.error ? 0 : round(pairedRatio(base.read, s.read)),
            verified: s.verified && !s.error,
            ...(s.error ? { error: s.error } : {}),
          };
        }),
      });
    }

    // ── Lookups: `lookupPresent` of `lookupKeys` small keys exist; one batched existence check.
    const lookKeys = hashes(lookupKeys, `lookup-${Date.now()}`);
    const small = randomFillSync(Buffer.allocUnsafe(lookupValueBytes));
    const expected = lookKeys.map((_, i) => i < lookupPresent);
    const lookState = new Map<BackendTargetId, { ms: number[]; correct: boolean; error?: string }>();
    for (const t of targets) {
      const s = { ms: [] as number[], correct: true, error: undefined as string | undefined };
      lookState.set(t.info.id, s);
      try {
        await t.write(lookKeys.slice(0, lookupPresent), lookKeys.slice(0, lookupPresent).map(() => small));
        const found = await t.exists(lookKeys);
        s.correct = found.length === expected.length && found.every((f, i) => f === expected[i]);
      } catch (err) {
        s.error = errorText(err);
        s.correct = false;
      }
      tick(`lookup load ${t.info.id}`);
    }
    for (let it = 0; it < lookupIterations; it++) {
      const order = targets.map((_, i) => targets[(i + it) % targets.length]!);
      for (const t of order) {
        const s = lookState.get(t.info.id)!;
        if (s.error) continue;
        try {
          const [ms, found] = await timeIt(() => t.exists(lookKeys));
          s.ms.push(ms);
          if (!found.every((f, i) => f === expected[i])) s.correct = false;
        } catch (err) {
          s.error = errorText(err);
        }
      }
    }
    for (const t of targets) {
      await t.remove(lookKeys).catch(() => undefined);
      tick(`lookup ${t.info.id}`);
    }
    const baseLookup = lookState.get(BASELINE_TARGET)!;
    const lookupRows: LookupRow[] = targets.map((t) => {
      const s = lookState.get(t.info.id)!;
      const med = s.ms.length && !s.error ? median(s.ms) : 0;
      return {
        target: t.info.id,
        medianMs: round(med),
        minMs: s.ms.length && !s.error ? round(Math.min(...s.ms)) : 0,
        ratio: med && !baseLookup.error ? round(pairedRatio(s.ms, baseLookup.ms)) : 0,
        correct: s.correct && !s.error,
        ...(s.error ? { error: s.error } : {}),
      };
    });

    // ── memcached at its default item size (1 MiB) vs the raised limit of the measured server.
    const memcachedItemLimit = await memcachedLimits(backends.memcached, probeSizes);
    tick('memcached item limit');

    const redisVersion = await execFileP('redis-server', ['--version']).then((r) => /v=(\S+)/.exec(r.stdout)?.[1] ?? 'unknown', () => 'unknown');
    const cpus = os.cpus();
    const result: BackendsBenchResult = {
      benchmark: 'backends',
      date: new Date().toISOString(),
      fast,
      config: {
        blockSizes,
        bytesPerPass,
        iterations,
        lookupKeys,
        lookupPresent,
        lookupValueBytes,
        lookupIterations,
        baseline: BASELINE_TARGET,
        servers: {
          redis: { embedded: true, args: ['--save', '', '--appendonly', 'no', ...redisArgs] },
          redisCluster: { masters: clusterMasters, args: ['--cluster-enabled', 'yes', '--save', '', '--appendonly', 'no', ...redisArgs] },
          memcached: { args: memcachedArgs },
        },
        method:
          'Per block size: each target first writes and verifies its own read set; then, for each pass (target order rotating), a timed write of the same values under fresh keys (deleted afterwards, untimed) and a timed read of the read set. Every request of a pass is in flight at once on one connection per client; values read back are compared byte for byte after each timed pass (untimed). Ratios to the baseline are medians of per-pass ratios. All servers and the client share this machine (loopback).',
      },
      machine: {
        platform: os.platform(),
        release: os.release(),
        arch: os.arch(),
        cpus: cpus.length,
        cpuModel: cpus[0]?.model ?? 'unknown',
        totalMemoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
        loadAverage: { start: round(loadStart, 2), end: round(os.loadavg()[0]!, 2) },
      },
      versions: {
        node: process.version,
        kvcacheLab: libVersion(),
        ioredis: packageVersion('ioredis'),
        nodeRedis: packageVersion('redis'),
        valkeyGlide: packageVersion('@valkey/valkey-glide'),
        memjs: packageVersion('memjs'),
        redisServer: redisVersion,
        memcached: await memcachedVersion(),
      },
      targets: infos,
      measurements: {
        transfer,
        lookup: { keys: lookupKeys, present: lookupPresent, valueBytes: lookupValueBytes, rows: lookupRows },
        memcachedItemLimit,
      },
    };
    if (options.onProgress) tick('done');
    bar?.done('bench:backends done');
    return result;
  } finally {
    await backends.close();
  }
}

/** A short human-readable summary of a result. */
export function formatBackendsBench(r: BackendsBenchResult): string {
  const lines = [
    `Backends benchmark (${r.fast ? 'fast' : 'full'}) — Node ${r.versions.node}, Redis ${r.versions.redisServer}, memcached ${r.versions.memcached}; ${r.machine.cpus} × ${r.machine.cpuModel}`,
    `  ratios: median of per-pass ratios to ${r.config.baseline} at the same block size; ${r.config.iterations} passes of ${(r.config.bytesPerPass / MiB).toFixed(0)} MiB per size`,
  ];
  for (const t of r.targets.filter((x) => !x.available)) lines.push(`  UNAVAILABLE ${t.id}: ${t.error}`);
  for (const tr of r.measurements.transfer) {
    lines.push(`  ${(tr.blockBytes / MiB).toString()} MiB × ${tr.blocks}`);
    for (const row of tr.rows) {
      lines.push(
        `    ${row.target.padEnd(32)} write ${row.write.gbps.toFixed(2).padStart(6)} GB/s (${row.writeRatio.toFixed(2)}×)   read ${row.read.gbps.toFixed(2).padStart(6)} GB/s (${row.readRatio.toFixed(2)}×)${row.verified ? '' : '  NOT VERIFIED'}${row.error ? `  ERROR ${row.error}` : ''}`,
      );
    }
  }
  const l = r.measurements.lookup;
  lines.push(`  lookup of ${l.keys} keys (${l.present} present)`);
  for (const row of l.rows) lines.push(`    ${row.target.padEnd(32)} ${row.medianMs.toFixed(3).padStart(8)} ms (${row.ratio.toFixed(2)}×)${row.correct ? '' : '  WRONG ANSWERS'}${row.error ? `  ERROR ${row.error}` : ''}`);
  const m = r.measurements.memcachedItemLimit;
  if (m.available) {
    lines.push(`  memcached defaults (item_size_max ${m.itemSizeMax}): largest value stored ${m.largestStoredBytes} bytes`);
    for (const p of m.probes) lines.push(`    ${(p.valueBytes / MiB).toString().padStart(4)} MiB: meta ${p.meta.stored ? 'stored' : `rejected (${p.meta.error})`}; memjs ${p.memjs?.stored ? 'stored' : `rejected (${p.memjs?.error})`}`);
  } else lines.push(`  memcached item-limit probe unavailable: ${m.error}`);
  return lines.join('\n');
}
