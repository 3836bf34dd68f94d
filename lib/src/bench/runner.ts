/**
 * Runs request streams through strategies — in this process or in several worker processes — and
 * summarizes what happened: TTFT percentiles, throughput, reuse against the oracle, bytes moved.
 */
import { fork } from 'node:child_process';
import * as path from 'node:path';
import { LlamaModel } from '../model/transformer';
import type { RunnablePresetName } from '../model/presets';
import { serdeBlockCodec } from '../engine/codec';
import { ServingEngine, type RequestRecord } from '../engine/engine';
import type { ServeRequest } from '../engine/types';
import type { KVDtype } from '../serde/types';
import type { ProgressReporter } from '../runtime/progress';
import { InvalidInputError } from '../runtime/errors';
import { makeConnector, type StrategyContext, type StrategyName } from './strategies';
import { quantile, sum } from './stats';

/** One strategy's run of a request stream: a record per request, the wall-clock time and (for Redis) the memory used. */
export interface StreamResult {
  strategy: StrategyName;
  workers: number;
  records: RequestRecord[];
  /** Wall-clock time of the whole stream (all workers), ms. */
  wallMs: number;
  /** Redis `used_memory` after the run, for Redis strategies. */
  storeMemoryBytes?: number;
}

/**
 * A {@link StreamResult} in numbers: tokens reused against the oracle, TTFT percentiles,
 * throughput, bytes moved, fallbacks and output mismatches.
 */
export interface StreamSummary {
  strategy: StrategyName;
  workers: number;
  requests: number;
  promptTokens: number;
  generatedTokens: number;
  reusedTokens: number;
  oracleTokens: number;
  /**
   * reused / oracle (1 = every token the oracle could reuse was reused); null when the oracle reuses
   * nothing (0/0: there was nothing to reuse, so the ratio says nothing — shown as "–").
   */
  reuseVsOracle: number | null;
  /** reused / prompt tokens. */
  reuseRatio: number;
  ttftP50Ms: number;
  ttftP95Ms: number;
  ttftMeanMs: number;
  /** Prompt + generated tokens per second of wall-clock time. */
  throughputTokensPerS: number;
  bytesLoaded: number;
  bytesSaved: number;
  fallbacks: number;
  storeMemoryBytes?: number;
  /** Requests whose output differs from the no-cache run (when it ran on the same stream). */
  outputMismatches?: number;
}

/** reused / oracle tokens, or null when the oracle reuses nothing (0/0 is no ratio). */
export function reuseVsOracle(reusedTokens: number, oracleTokens: number): number | null {
  return oracleTokens === 0 ? null : reusedTokens / oracleTokens;
}

/** Summarize a run against the oracle (the reusable tokens of each request) and, when given, the no-cache run's outputs. */
export function summarize(result: StreamResult, oracle: readonly number[], reference?: readonly RequestRecord[]): StreamSummary {
  const r = result.records;
  const ttft = r.map((x) => x.ttftMs);
  const promptTokens = sum(r.map((x) => x.promptTokens));
  const generatedTokens = sum(r.map((x) => x.output.length));
  const reusedTokens = sum(r.map((x) => x.reusedTokens));
  const oracleTokens = sum(oracle);
  const summary: StreamSummary = {
    strategy: result.strategy,
    workers: result.workers,
    requests: r.length,
    promptTokens,
    generatedTokens,
    reusedTokens,
    oracleTokens,
    reuseVsOracle: reuseVsOracle(reusedTokens, oracleTokens),
    reuseRatio: promptTokens === 0 ? 0 : reusedTokens / promptTokens,
    ttftP50Ms: quantile(ttft, 0.5),
    ttftP95Ms: quantile(ttft, 0.95),
    ttftMeanMs: sum(ttft) / Math.max(1, ttft.length),
    throughputTokensPerS: (promptTokens + generatedTokens) / (result.wallMs / 1000),
    bytesLoaded: sum(r.map((x) => x.bytesLoaded)),
    bytesSaved: sum(r.map((x) => x.bytesSaved)),
    fallbacks: sum(r.map((x) => x.fallbacks)),
    ...(result.storeMemoryBytes !== undefined ? { storeMemoryBytes: result.storeMemoryBytes } : {}),
  };
  if (reference) {
    const byId = new Map(reference.map((x) => [x.id, x.output.join(',')]));
    summary.outputMismatches = r.filter((x) => byId.get(x.id) !== x.output.join(',')).length;
  }
  return summary;
}

/** What a worker needs to rebuild the same model, codec and connector in its own process. */
export interface WorkerConfig {
  preset: RunnablePresetName;
  seed: number;
  dtype: KVDtype;
  strategy: StrategyName;
  blockSize: number;
  memoryBytes: number;
  storeNamespace: string;
  redisUrl?: string;
  clusterUrl?: string;
}

/** Serve `requests` in order with one engine; used in-process and by each worker process. */
export async function serveAll(config: WorkerConfig, requests: readonly ServeRequest[], model?: LlamaModel, onRequest?: (r: RequestRecord) => void): Promise<{ records: RequestRecord[]; storeMemoryBytes?: number }> {
  const own = model === undefined;
  const m = model ?? (await LlamaModel.create(config.preset, { seed: config.seed }));
  const ctx: StrategyContext = {
    model: m,
    codec: serdeBlockCodec({ dtype: config.dtype }),
    blockSize: config.blockSize,
    memoryBytes: config.memoryBytes,
    storeNamespace: config.storeNamespace,
    ...(config.redisUrl ? { redisUrl: config.redisUrl } : {}),
    ...(config.clusterUrl ? { clusterUrl: config.clusterUrl } : {}),
  };
  const connector = await makeConnector(config.strategy, ctx);
  const engine = new ServingEngine(m, connector);
  const records: RequestRecord[] = [];
  let storeMemoryBytes: number | undefined;
  try {
    for (const req of requests) {
      const rec = await engine.serve(req);
      records.push(rec);
      onRequest?.(rec);
    }
    const store = (connector as { store?: { tier: string; health(): Promise<{ usedMemoryBytes?: number }> } }).store;
    if (store && store.tier !== 'memory') storeMemoryBytes = (await store.health()).usedMemoryBytes;
  } finally {
    await connector.close();
    if (own) m.dispose();
  }
  return { records, ...(storeMemoryBytes !== undefined ? { storeMemoryBytes } : {}) };
}

/** One stream, one engine, this process. */
export async function runInProcess(config: WorkerConfig, requests: readonly ServeRequest[], model: LlamaModel, progress?: ProgressReporter): Promise<StreamResult> {
  const t0 = performance.now();
  const { records, storeMemoryBytes } = await serveAll(config, requests, model, () => progress?.tick());
  return { strategy: config.strategy, workers: 1, records, wallMs: performance.now() - t0, ...(storeMemoryBytes !== undefined ? { storeMemoryBytes } : {}) };
}

interface WorkerReply {
  type: 'record' | 'done' | 'error';
  record?: RequestRecord;
  records?: RequestRecord[];
  storeMemoryBytes?: number;
  message?: string;
}

/**
 * One stream served by `workers` OS processes at once, request i going to worker i mod N (so a
 * session's turns land on different workers, as behind a load balancer). Each worker builds its own
 * model and connector: per-process memory caches fragment, a shared Redis does not.
 */
export async function runWorkers(config: WorkerConfig, requests: readonly ServeRequest[], workers: number, progress?: ProgressReporter): Promise<StreamResult> {
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) throw InvalidInputError.at('workers', 'an integer in [1, 64]', workers);
  const isTs = __filename.endsWith('.ts');
  const script = path.join(__dirname, `worker${isTs ? '.ts' : '.js'}`);
  const shares = Array.from({ length: workers }, (_, w) => requests.filter((_, i) => i % workers === w));
  const t0 = performance.now();
  const results = await Promise.all(
    shares.map(
      (share) =>
        new Promise<{ records: RequestRecord[]; storeMemoryBytes?: number }>((resolve, reject) => {
          const child = fork(script, [], { execArgv: isTs ? ['--import', 'tsx'] : [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
          let settled = false;
          child.on('message', (msg: WorkerReply) => {
            if (msg.type === 'record') progress?.tick();
            else if (msg.type === 'done') {
              settled = true;
              resolve({ records: msg.records ?? [], ...(msg.storeMemoryBytes !== undefined ? { storeMemoryBytes: msg.storeMemoryBytes } : {}) });
              child.disconnect();
            } else if (msg.type === 'error') {
              settled = true;
              reject(new Error(`worker failed: ${msg.message}`));
            }
          });
          child.on('exit', (code) => {
            if (!settled) reject(new Error(`worker exited with code ${code} before finishing`));
          });
          child.send({ config, requests: share });
        }),
    ),
  );
  const wallMs = performance.now() - t0;
  const records = results.flatMap((r) => r.records);
  const order = new Map(requests.map((r, i) => [r.id, i]));
  records.sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0));
  const mem = results.map((r) => r.storeMemoryBytes).filter((x): x is number => x !== undefined);
  return { strategy: config.strategy, workers, records, wallMs, ...(mem.length ? { storeMemoryBytes: Math.max(...mem) } : {}) };
}
