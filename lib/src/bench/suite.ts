/**
 * The benchmark suite: workloads × strategies on the same request streams, the oracle, and the
 * multi-worker comparison; results with machine, versions and config, written as JSON.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LlamaModel } from '../model/transformer';
import type { RunnablePresetName } from '../model/presets';
import { Tokenizer } from '../model/tokenizer';
import type { KVDtype } from '../serde/types';
import { backendReport, initBackend } from '../runtime/backend';
import { InvalidInputError, describeValue } from '../runtime/errors';
import { sized } from '../runtime/env';
import { progress as makeProgress } from '../runtime/progress';
import { ServingEngine } from '../engine/engine';
import { NoCacheConnector } from '../engine/connector';
import { makeWorkload, type WorkloadName, type WorkloadOptions } from './workloads';
import { oracleReuse, type StrategyName } from './strategies';
import { reuseVsOracle, runInProcess, runWorkers, summarize, type StreamSummary, type WorkerConfig } from './runner';

/**
 * What {@link runBenchmark} runs: workloads, strategies, worker counts, model preset, dtype, block
 * size, memory budget and store URLs.
 */
export interface BenchmarkOptions {
  workloads: WorkloadName[];
  strategies: StrategyName[];
  /** Worker counts for the multi-worker comparison of prefix-memory vs prefix-redis (1 = skip). */
  workers: number;
  preset: RunnablePresetName;
  seed: number;
  dtype: KVDtype;
  blockSize: number;
  memoryBytes: number;
  workload: Omit<WorkloadOptions, 'seed'>;
  redisUrl?: string;
  clusterUrl?: string;
}

/** Sizes for fast mode (KVLAB_FAST=1, CI) and full mode (the published charts). */
export function defaultBenchmarkOptions(): BenchmarkOptions {
  return {
    workloads: ['agent', 'chat', 'rag', 'none'],
    strategies: ['no-cache', 'exact-prompt', 'prefix-memory', 'prefix-redis', 'tiered'],
    workers: sized(2, 4),
    preset: sized<RunnablePresetName>('tiny', 'default'),
    seed: 0,
    dtype: 'fp16',
    blockSize: 16,
    memoryBytes: 256 * 2 ** 20,
    workload: {
      requests: sized(12, 48),
      sharedTokens: sized(256, 1536),
      turnTokens: sized(48, 96),
      sessions: 4,
      maxNewTokens: sized(2, 8),
    },
  };
}

/** A benchmark run as written to its results file: the machine, the configuration and a summary per workload and strategy. */
export interface BenchmarkResults {
  kind: 'kvlab-benchmark';
  version: 1;
  startedAt: string;
  durationS: number;
  machine: { platform: string; arch: string; cpus: number; cpuModel: string; memoryGiB: number; node: string; backend: string };
  config: BenchmarkOptions & { redisUrl?: string; clusterUrl?: string };
  workloads: { workload: WorkloadName; requests: number; promptTokens: number; oracleTokens: number; summaries: StreamSummary[] }[];
  multiWorker: { workload: WorkloadName; summaries: StreamSummary[] }[];
}

const needsRedis = (s: StrategyName): boolean => s === 'prefix-redis' || s === 'tiered';

/**
 * Run every strategy on every workload (and the multi-worker comparison) and return the results;
 * the Redis strategies need `redisUrl` / `clusterUrl`.
 */
export async function runBenchmark(options: BenchmarkOptions): Promise<BenchmarkResults> {
  if (options.strategies.some(needsRedis) && !options.redisUrl) {
    throw InvalidInputError.at('options.redisUrl', `a Redis URL (strategies ${options.strategies.filter(needsRedis).join(', ')} need one)`, options.redisUrl);
  }
  if (options.strategies.includes('prefix-cluster') && !options.clusterUrl) {
    throw InvalidInputError.at('options.clusterUrl', 'the cluster node URLs (strategy prefix-cluster needs them)', options.clusterUrl);
  }
  await initBackend();
  const started = Date.now();
  const runId = `${process.pid}-${started.toString(36)}`;
  const tokenizer = new Tokenizer();
  const model = await LlamaModel.create(options.preset, { seed: options.seed });
  const encode = (t: string): number[] => tokenizer.encode(t);
  const results: BenchmarkResults['workloads'] = [];
  const multi: BenchmarkResults['multiWorker'] = [];
  const multiStrategies = (['prefix-memory', 'prefix-redis'] as StrategyName[]).filter((s) => options.strategies.includes(s));
  try {
    const streams = options.workloads.map((w) => ({ w, requests: makeWorkload(w, encode, { ...options.workload, seed: options.seed + 1 }) }));
    const totalSteps = streams.reduce((a, s) => a + s.requests.length * (options.strategies.length + (options.workers > 1 && s.w === 'agent' ? multiStrategies.length : 0)), 0);
    // Warm up the backend (wasm kernels for each shape, allocations) on a few requests of every
    // workload, so that the strategy that runs first is not charged for it.
    const warmUp = new ServingEngine(model, new NoCacheConnector());
    for (const { requests } of streams) for (const r of requests.slice(0, 4)) await warmUp.serve(r);
    const bar = makeProgress(totalSteps, 'benchmark');
    for (const { w, requests } of streams) {
      const oracle = oracleReuse(requests, model.fingerprint, options.blockSize);
      const summaries: StreamSummary[] = [];
      let reference: Awaited<ReturnType<typeof runInProcess>>['records'] | undefined;
      for (const strategy of options.strategies) {
        bar.tick(0, `${w} · ${strategy}`);
        const config = workerConfig(options, strategy, `${runId}-${w}-${strategy}`);
        const result = await runInProcess(config, requests, model, bar);
        if (strategy === 'no-cache') reference = result.records;
        summaries.push(summarize(result, oracle, reference));
      }
      results.push({ workload: w, requests: requests.length, promptTokens: requests.reduce((a, r) => a + r.tokens.length, 0), oracleTokens: oracle.reduce((a, b) => a + b, 0), summaries });
      // The multi-worker effect is measured on the agent workload, where sessions share the most.
      if (options.workers > 1 && w === 'agent') {
        const ms: StreamSummary[] = [];
        for (const strategy of multiStrategies) {
          bar.tick(0, `${w} · ${strategy} × ${options.workers} workers`);
          const config = workerConfig(options, strategy, `${runId}-${w}-${strategy}-x${options.workers}`);
          ms.push(summarize(await runWorkers(config, requests, options.workers, bar), oracle, reference));
        }
        multi.push({ workload: w, summaries: ms });
      }
    }
    bar.done('benchmark done');
  } finally {
    model.dispose();
  }
  const cpus = os.cpus();
  return {
    kind: 'kvlab-benchmark',
    version: 1,
    startedAt: new Date(started).toISOString(),
    durationS: (Date.now() - started) / 1000,
    machine: { platform: os.platform(), arch: os.arch(), cpus: cpus.length, cpuModel: cpus[0]?.model ?? '', memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, backend: backendReport()?.backend ?? '?' },
    config: { ...options, ...(options.redisUrl ? { redisUrl: redact(options.redisUrl) } : {}), ...(options.clusterUrl ? { clusterUrl: redact(options.clusterUrl) } : {}) },
    workloads: results,
    multiWorker: multi,
  };
}

function workerConfig(o: BenchmarkOptions, strategy: StrategyName, storeNamespace: string): WorkerConfig {
  return {
    preset: o.preset, seed: o.seed, dtype: o.dtype, strategy, blockSize: o.blockSize, memoryBytes: o.memoryBytes,
    storeNamespace: storeNamespace.replace(/[^A-Za-z0-9_-]/g, '_'),
    ...(o.redisUrl ? { redisUrl: o.redisUrl } : {}),
    ...(o.clusterUrl ? { clusterUrl: o.clusterUrl } : {}),
  };
}

function redact(url: string): string {
  return url.replace(/\/\/([^@/]*)@/g, '//***@');
}

/** Write results as pretty JSON; returns the file path. */
export function writeResults(results: BenchmarkResults, file: string): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
  return file;
}

/** Read a benchmark results file written by a run; throws `InvalidInputError` for any other file. */
export function readResults(file: string): BenchmarkResults {
  const data = JSON.parse(fs.readFileSync(file, 'utf8')) as BenchmarkResults;
  if (data.kind !== 'kvlab-benchmark') {
    throw new InvalidInputError({
      message: `${file} is not a kvcache-lab benchmark results file`,
      path: 'kind',
      expected: '"kvlab-benchmark"',
      received: describeValue(data.kind),
    });
  }
  // Files written before reuseVsOracle became null for 0/0 carry 1 there: derive it again from the counts.
  for (const s of [...data.workloads, ...data.multiWorker].flatMap((w) => w.summaries)) s.reuseVsOracle = reuseVsOracle(s.reusedTokens, s.oracleTokens);
  return data;
}
