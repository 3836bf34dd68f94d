/**
 * `npm run bench:restart`: disaster recovery of a KV cache. A real redis-server is filled by serving
 * a seeded stream, killed (SIGKILL) and restarted on the same port and folder — without persistence,
 * after an RDB snapshot (fresh, or taken halfway through the fill), or with the append-only file —
 * and the rest of the stream is served. Measured: keys after the restart, the time Redis took to load
 * its data, the snapshot's size, the hit rate (in tokens) right after the restart and how many
 * requests it took until every request reused as much as it would have without the restart.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LlamaModel } from '../model/transformer';
import { getPreset, type RunnablePresetName } from '../model/presets';
import { Tokenizer } from '../model/tokenizer';
import { encodedSize } from '../serde/container';
import type { KVDtype } from '../serde/types';
import { backendReport, initBackend } from '../runtime/backend';
import { isFastMode, sized } from '../runtime/env';
import { InvalidInputError } from '../runtime/errors';
import { progress, type ProgressReporter } from '../runtime/progress';
import { libVersion } from '../runtime/versions';
import { serdeBlockCodec, type BlockCodec } from '../engine/codec';
import { NoCacheConnector, PrefixCacheConnector } from '../engine/connector';
import { ServingEngine } from '../engine/engine';
import type { ServeRequest } from '../engine/types';
import { createStore } from '../store/factory';
import { LocalRedisNode } from '../store/local-cluster';
import { makeWorkload, type WorkloadName, type WorkloadOptions } from './workloads';
import { measureAofWriteCost, type AofCostResult } from './aof-cost';
import { bgsave, bytesUnder, crashAndRestart, filesystemType, loadSecondsFromLog, measureLoadTime, type LoadTimeRow } from './persistence';
import { sum } from './stats';

/**
 * How the server comes back:
 * - `no-restart`: it never goes down (the reference);
 * - `no-persistence`: killed and restarted empty (`--save ""`, no AOF: the lab's default);
 * - `rdb`: an RDB snapshot (`BGSAVE`) right before the kill, loaded on restart;
 * - `rdb-stale`: the snapshot was taken halfway through the fill (a periodic snapshot is always
 *   somewhat old): what was written after it is lost;
 * - `aof`: `appendonly yes`, `appendfsync everysec`; the log is replayed on restart.
 */
export type RestartScenario = 'no-restart' | 'no-persistence' | 'rdb' | 'rdb-stale' | 'aof';
/** Every scenario, the reference (`no-restart`) first. */
export const RESTART_SCENARIOS: readonly RestartScenario[] = ['no-restart', 'no-persistence', 'rdb', 'rdb-stale', 'aof'];

/** The `redis-server` arguments of each scenario (on top of the lab's `--save "" --appendonly no`). */
export const RESTART_SERVER_ARGS: Readonly<Record<RestartScenario, readonly string[]>> = {
  'no-restart': [],
  'no-persistence': [],
  // A snapshot an hour if anything changed: the bench takes its own with BGSAVE, as that schedule would.
  rdb: ['--save', '3600 1'],
  'rdb-stale': ['--save', '3600 1'],
  aof: ['--appendonly', 'yes', '--appendfsync', 'everysec'],
};

/** What {@link runRestartBench} serves and measures. */
export interface RestartBenchOptions {
  /** @default 'default' (full mode), 'tiny' (KVLAB_FAST) */
  preset: RunnablePresetName;
  /** Seed of the model and the stream. @default 0 */
  seed: number;
  /** @default 'fp16' */
  dtype: KVDtype;
  /** @default 16 */
  blockSize: number;
  /** @default 'agent' (shared tool descriptions, sessions that grow step by step) */
  workload: WorkloadName;
  /** The whole stream: the first `fillRequests` before the restart, the rest after it. */
  workloadOptions: Omit<WorkloadOptions, 'seed'>;
  /** Requests served before the restart. */
  fillRequests: number;
  /** N: the hit rate of the last N requests before and the first N after the restart is reported. */
  windowRequests: number;
  /** @default every scenario */
  scenarios: RestartScenario[];
  /** The AOF write-cost measurement (skipped when undefined). */
  aofWrite?: { bytesPerPass: number; rounds: number };
  /** Load time of RDB and AOF for this many bytes of Llama-3-8B-sized blocks (skipped when undefined). */
  loadTime?: { totalBytes: number };
  /** The `redis-server` executable. @default 'redis-server' */
  redisCommand?: string;
  /** Draw a progress bar (stderr, or the notebook). @default true */
  showProgress?: boolean;
}

/** The defaults, in fast mode (KVLAB_FAST=1) and full mode. */
export function defaultRestartBenchOptions(): RestartBenchOptions {
  return {
    preset: sized<RunnablePresetName>('tiny', 'default'),
    seed: 0,
    dtype: 'fp16',
    blockSize: 16,
    workload: 'agent',
    workloadOptions: { requests: sized(24, 64), sessions: sized(4, 8), sharedTokens: sized(256, 1024), turnTokens: sized(48, 96), maxNewTokens: sized(2, 4) },
    fillRequests: sized(12, 32),
    windowRequests: sized(4, 8),
    scenarios: [...RESTART_SCENARIOS],
    aofWrite: { bytesPerPass: sized(4, 64) * 2 ** 20, rounds: sized(2, 5) },
    loadTime: { totalBytes: sized(16, 256) * 2 ** 20 },
  };
}

/** One request after the restart. */
export interface AfterRestartRequest {
  promptTokens: number;
  reusedTokens: number;
  ttftMs: number;
}

/** One scenario's run. */
export interface RestartScenarioResult {
  scenario: RestartScenario;
  serverArgs: string[];
  /** Token hit rate of the last `windowRequests` requests before the restart. */
  hitRateBefore: number;
  keysBefore: number;
  usedMemoryBytesBefore: number;
  /** BGSAVE: wall time until it finished (rdb scenarios). */
  snapshotMs: number | null;
  /** Size of dump.rdb when the server went down. */
  rdbBytes: number | null;
  /** Size of the append-only files when the server went down. */
  aofBytes: number | null;
  /** Keys after the restart (the reference: keys at the same point, never restarted). */
  keysAfter: number;
  /** Time Redis reported for loading its data ("DB loaded from …: X seconds" in its log); null when it loaded nothing. */
  loadSeconds: number | null;
  /** From starting the process to its first PONG (null without a restart). */
  restartToReadyMs: number | null;
  /** Token hit rate of the first `windowRequests` requests after the restart. */
  hitRateFirstAfter: number;
  /** Token hit rate of every request after the restart. */
  hitRateAfter: number;
  /**
   * Requests after the restart until every later request reused as many tokens as in the
   * no-restart run (0: none was affected); null without a reference run or if that never happened.
   */
  requestsToWarm: number | null;
  /**
   * Prompt tokens recomputed because of the restart: over the requests after it, the tokens the
   * no-restart run reused and this run did not (time would mix in the machine's noise; tokens do not).
   */
  extraComputedTokens: number | null;
  /** Requests after the restart whose output differs from the no-restart run's (must be 0). */
  outputMismatches: number | null;
  after: AfterRestartRequest[];
}

/** What `npm run bench:restart` writes to results/restart.json. */
export interface RestartBenchResult {
  benchmark: 'restart';
  date: string;
  fast: boolean;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string; backend: string; loadAverage: { start: number; end: number }; filesystem: string };
  versions: { kvcacheLab: string; redis: string };
  config: RestartBenchOptions;
  stream: { requests: number; fillRequests: number; promptTokens: number; blockValueBytes: number };
  scenarios: RestartScenarioResult[];
  /** SET throughput with and without AOF (undefined when not measured). */
  aofWrite?: AofCostResult;
  /** Crash and restart with `loadTime.totalBytes` of data, from RDB and from AOF (undefined when not measured). */
  loadTime?: LoadTimeRow[];
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** Token hit rate of a run of requests. */
function hitRate(records: readonly { promptTokens: number; reusedTokens: number }[]): number {
  const prompt = sum(records.map((r) => r.promptTokens));
  return prompt === 0 ? 0 : round3(sum(records.map((r) => r.reusedTokens)) / prompt);
}

interface Served {
  records: { promptTokens: number; reusedTokens: number; ttftMs: number; output: number[] }[];
}

async function serve(model: LlamaModel, codec: BlockCodec, url: string, blockSize: number, requests: readonly ServeRequest[], bar: ProgressReporter, label: string, at?: { index: number; run: () => Promise<void> }): Promise<Served> {
  // A fresh connection, as a process that reconnects after the outage would have.
  const store = await createStore(url, { namespace: 'restart', requireReachable: true });
  const engine = new ServingEngine(model, new PrefixCacheConnector(model, store, codec, { blockSize }));
  const records: Served['records'] = [];
  try {
    for (const [i, r] of requests.entries()) {
      if (at && i === at.index) await at.run();
      bar.tick(1, label);
      const x = await engine.serve(r);
      records.push({ promptTokens: x.promptTokens, reusedTokens: x.reusedTokens, ttftMs: x.ttftMs, output: x.output });
    }
  } finally {
    await store.close();
  }
  return { records };
}

async function runScenario(
  scenario: RestartScenario,
  o: RestartBenchOptions,
  model: LlamaModel,
  codec: BlockCodec,
  fill: readonly ServeRequest[],
  rest: readonly ServeRequest[],
  bar: ProgressReporter,
): Promise<Omit<RestartScenarioResult, 'requestsToWarm' | 'extraComputedTokens' | 'outputMismatches'> & { outputs: number[][] }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvlab-restart-'));
  const logfile = path.join(dir, 'redis.log');
  const serverArgs = [...RESTART_SERVER_ARGS[scenario]];
  const node = await LocalRedisNode.start({ dir, args: [...serverArgs, '--logfile', logfile], ...(o.redisCommand ? { command: o.redisCommand } : {}) });
  try {
    let snapshotMs: number | null = null;
    const half = scenario === 'rdb-stale' ? { index: Math.floor(fill.length / 2), run: async () => void (snapshotMs = await bgsave(node)) } : undefined;
    const before = await serve(model, codec, node.url, o.blockSize, fill, bar, `restart · ${scenario} · fill`, half);
    if (scenario === 'rdb') snapshotMs = await bgsave(node);
    const keysBefore = Number((await node.cli('DBSIZE')).trim());
    const usedMemoryBytesBefore = Number((await node.info('memory')).used_memory);
    const rdbFile = path.join(dir, 'dump.rdb');
    const rdbBytes = fs.existsSync(rdbFile) ? fs.statSync(rdbFile).size : null;
    const aofBytes = scenario === 'aof' ? bytesUnder(path.join(dir, 'appendonlydir')) : null;
    let restartToReadyMs: number | null = null;
    if (scenario !== 'no-restart') restartToReadyMs = await crashAndRestart(node);
    const keysAfter = Number((await node.cli('DBSIZE')).trim());
    const loadSeconds = scenario === 'no-restart' ? null : loadSecondsFromLog(fs.existsSync(logfile) ? fs.readFileSync(logfile, 'utf8') : '');
    const after = await serve(model, codec, node.url, o.blockSize, rest, bar, `restart · ${scenario} · after`);
    const w = o.windowRequests;
    return {
      scenario,
      serverArgs,
      hitRateBefore: hitRate(before.records.slice(-w)),
      keysBefore,
      usedMemoryBytesBefore,
      snapshotMs,
      rdbBytes,
      aofBytes,
      keysAfter,
      loadSeconds: keysAfter > 0 ? loadSeconds : null,
      restartToReadyMs,
      hitRateFirstAfter: hitRate(after.records.slice(0, w)),
      hitRateAfter: hitRate(after.records),
      after: after.records.map((r) => ({ promptTokens: r.promptTokens, reusedTokens: r.reusedTokens, ttftMs: Math.round(r.ttftMs * 10) / 10 })),
      outputs: after.records.map((r) => r.output),
    };
  } finally {
    await node.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Requests after the restart until every later one reused at least as many tokens as in the
 * reference run: the length of the stretch the restart affected.
 */
export function requestsToWarm(after: readonly { reusedTokens: number }[], reference: readonly { reusedTokens: number }[]): number | null {
  if (after.length !== reference.length) return null;
  let k = after.length;
  while (k > 0 && after[k - 1]!.reusedTokens >= reference[k - 1]!.reusedTokens) k--;
  return k === after.length && k > 0 ? null : k;
}

/** Run every scenario (each on its own redis-server) and, if asked, the AOF write-cost measurement. */
export async function runRestartBench(options: RestartBenchOptions = defaultRestartBenchOptions()): Promise<RestartBenchResult> {
  const o = options;
  if (!Number.isInteger(o.fillRequests) || o.fillRequests < 1 || o.fillRequests >= o.workloadOptions.requests) {
    throw InvalidInputError.at('options.fillRequests', `an integer in [1, ${o.workloadOptions.requests - 1}] (requests before the restart)`, o.fillRequests);
  }
  if (!Number.isInteger(o.windowRequests) || o.windowRequests < 1) throw InvalidInputError.at('options.windowRequests', 'a positive integer', o.windowRequests);
  await initBackend();
  const loadStart = os.loadavg()[0] ?? 0;
  const model = await LlamaModel.create(o.preset, { seed: o.seed });
  const tokenizer = new Tokenizer();
  const requests = makeWorkload(o.workload, (t) => tokenizer.encode(t), { ...o.workloadOptions, seed: o.seed + 1 });
  const fill = requests.slice(0, o.fillRequests);
  const rest = requests.slice(o.fillRequests);
  const codec = serdeBlockCodec({ dtype: o.dtype, secret: null });
  const c = model.config;
  const valueBytes = encodedSize({ layers: c.numLayers, kvHeads: c.numKvHeads, headDim: c.headDim, tokens: o.blockSize }, { dtype: o.dtype });
  try {
    const warm = new ServingEngine(model, new NoCacheConnector());
    for (const r of requests.slice(0, 2)) await warm.serve(r);
    const bar = progress(requests.length * o.scenarios.length, 'restart', { target: o.showProgress === false ? 'silent' : 'auto' });
    const runs = [];
    for (const s of o.scenarios) runs.push(await runScenario(s, o, model, codec, fill, rest, bar));
    bar.done('restart done');
    const reference = runs.find((r) => r.scenario === 'no-restart');
    const scenarios: RestartScenarioResult[] = runs.map(({ outputs, ...r }) => ({
      ...r,
      requestsToWarm: reference ? requestsToWarm(r.after, reference.after) : null,
      extraComputedTokens: reference ? sum(r.after.map((x, i) => Math.max(0, reference.after[i]!.reusedTokens - x.reusedTokens))) : null,
      outputMismatches: reference ? outputs.filter((out, i) => out.join(',') !== reference.outputs[i]!.join(',')).length : null,
    }));
    // Two value sizes: a block of this run's model, and a 16-token fp16 block of Llama-3-8B (2 MiB + header).
    const llama = getPreset('llama3-8b');
    const largeBlock = encodedSize({ layers: llama.numLayers, kvHeads: llama.numKvHeads, headDim: llama.headDim, tokens: o.blockSize }, { dtype: 'fp16' });
    const command = o.redisCommand ? { command: o.redisCommand } : {};
    const aofWrite = o.aofWrite ? await measureAofWriteCost({ valueBytes: [valueBytes, largeBlock], ...o.aofWrite, ...command }) : undefined;
    const loadTime = o.loadTime ? await measureLoadTime({ totalBytes: o.loadTime.totalBytes, valueBytes: largeBlock, ...command }) : undefined;
    const probe = await LocalRedisNode.start(o.redisCommand ? { command: o.redisCommand } : {});
    const redisVersion = (await probe.info('server')).redis_version ?? 'unknown';
    await probe.stop();
    const cpus = os.cpus();
    return {
      benchmark: 'restart',
      date: new Date().toISOString(),
      fast: isFastMode(),
      machine: { cpus: cpus.length, cpuModel: cpus[0]?.model ?? '', memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, backend: backendReport()?.backend ?? '?', loadAverage: { start: round3(loadStart), end: round3(os.loadavg()[0] ?? 0) }, filesystem: filesystemType(os.tmpdir()) },
      versions: { kvcacheLab: libVersion(), redis: redisVersion },
      config: o,
      stream: { requests: requests.length, fillRequests: fill.length, promptTokens: sum(requests.map((r) => r.tokens.length)), blockValueBytes: valueBytes },
      scenarios,
      ...(aofWrite ? { aofWrite } : {}),
      ...(loadTime ? { loadTime } : {}),
    };
  } finally {
    model.dispose();
  }
}
