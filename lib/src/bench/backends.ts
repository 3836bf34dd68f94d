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
import * as os from 'node:os';
import { promisify } from 'node:util';
import { isFastMode } from '../runtime/env';
import { libVersion, packageVersion } from '../runtime/versions';
import { InvalidInputError, errorText } from '../runtime/errors';
import { progress, type ProgressOptions } from '../runtime/progress';
import { memcachedLimits, memcachedVersion } from './memcached';
import { REDIS_ARGS, openBackends } from './backend-targets';
import { median, summarizeTimings, type TimingSummary } from './stats';
import { MiB, round } from '../runtime/units';

const execFileP = promisify(execFile);

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

async function timeIt<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = process.hrtime.bigint();
  const out = await fn();
  return [Number(process.hrtime.bigint() - t0) / 1e6, out];
}

// ────────────────────────────────────────────────────────────────────────────────────────────────
// The benchmark

function positiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw InvalidInputError.at(name, 'an integer ≥ 1', v);
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
  for (const [i, t] of wanted.entries()) {
    if (!BACKEND_TARGETS.includes(t)) throw InvalidInputError.at(`options.targets[${i}]`, `a known target: ${BACKEND_TARGETS.join(', ')}`, t);
  }
  for (const [i, s] of blockSizes.entries()) positiveInt(`options.blockSizes[${i}]`, s);
  for (const [k, v] of Object.entries({ bytesPerPass, iterations, lookupKeys, lookupValueBytes, lookupIterations })) positiveInt(`options.${k}`, v);
  const probeSizes = options.memcachedProbeSizes ?? [...d.memcachedProbeSizes];
  const memcachedArgs = ['-m', String(options.memcachedMemoryMiB ?? d.memcachedMemoryMiB), '-I', options.memcachedItemMax ?? d.memcachedItemMax];
  const clusterMasters = 3;
  const redisArgs = [...REDIS_ARGS];
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
