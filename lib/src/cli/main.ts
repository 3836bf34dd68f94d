#!/usr/bin/env node
/**
 * `kvlab` — the command line of kvcache-lab.
 *   kvlab bench [options]   run the benchmark suite, write results JSON and chart HTML
 *   kvlab quickstart        a five-minute terminal tour
 *   kvlab doctor            what the course runs on: Node, CPU, TensorFlow.js backend (and GPU), Redis
 */
import * as path from 'node:path';
import * as fs from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { defaultBenchmarkOptions, runBenchmark, writeResults } from '../bench/suite';
import { isStrategy, type StrategyName } from '../bench/strategies';
import { WORKLOADS, type WorkloadName } from '../bench/workloads';
import { ttftFigure, reuseFigure, multiWorkerFigure } from '../notebook/charts';
import { figureToPage } from '../notebook/plot';
import { renderFiguresToPng } from '../notebook/png';
import { tableToText } from '../notebook/table';
import { startEmbeddedRedis } from '../store/embedded-redis';
import { isFastMode, redisUrlFromEnv } from '../runtime/env';
import { KVLabError } from '../runtime/errors';
import { checkEnvironment } from '../notebook/doctor';
import { quickstart } from './quickstart';

function list<T extends string>(valid: (s: string) => s is T, what: string) {
  return (value: string): T[] => {
    const items = value.split(',').map((s) => s.trim()).filter(Boolean);
    for (const i of items) if (!valid(i)) throw new InvalidArgumentError(`unknown ${what} ${JSON.stringify(i)}`);
    return items as T[];
  };
}

function int(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

const isWorkload = (s: string): s is WorkloadName => (WORKLOADS as readonly string[]).includes(s);

export function buildCli(): Command {
  const program = new Command('kvlab').description('kvcache-lab: KV caching for LLM serving, measured').showHelpAfterError();
  const d = defaultBenchmarkOptions();
  program
    .command('bench')
    .description('run workloads × strategies (and several worker processes) and write results + charts')
    .option('--workloads <list>', `comma-separated: ${WORKLOADS.join(', ')}`, list(isWorkload, 'workload'), d.workloads)
    .option('--strategies <list>', 'comma-separated: no-cache, exact-prompt, prefix-memory, prefix-redis, tiered, prefix-cluster', list(isStrategy as (s: string) => s is StrategyName, 'strategy'), d.strategies)
    .option('--workers <n>', 'worker processes for the multi-worker comparison (1 = skip)', int, d.workers)
    .option('--preset <name>', 'model preset: tiny or default', d.preset)
    .option('--requests <n>', 'requests per workload', int, d.workload.requests)
    .option('--shared-tokens <n>', 'approximate tokens of the shared part (tools, system prompt, document)', int, d.workload.sharedTokens)
    .option('--dtype <dtype>', 'stored KV encoding: fp32, fp16, bf16, int8, kivi4, kivi2', d.dtype)
    .option('--redis-url <url>', 'Redis for the Redis strategies (default: $REDIS_URL, else an embedded redis-server)')
    .option('--cluster-url <urls>', 'cluster nodes for prefix-cluster, comma-separated redis:// URLs')
    .option('--out <dir>', 'output folder', isFastMode() ? 'out/results' : 'results')
    .action(async (opts) => {
      const options = {
        ...d,
        workloads: opts.workloads,
        strategies: opts.strategies,
        workers: opts.workers,
        preset: opts.preset,
        dtype: opts.dtype,
        workload: { ...d.workload, requests: opts.requests, sharedTokens: opts.sharedTokens },
        ...(opts.clusterUrl ? { clusterUrl: opts.clusterUrl } : {}),
      };
      let embedded: Awaited<ReturnType<typeof startEmbeddedRedis>> | undefined;
      const redisUrl = opts.redisUrl ?? redisUrlFromEnv();
      if (redisUrl) Object.assign(options, { redisUrl });
      else if (options.strategies.some((s: StrategyName) => s === 'prefix-redis' || s === 'tiered')) {
        embedded = await startEmbeddedRedis();
        Object.assign(options, { redisUrl: embedded.url });
        process.stderr.write(`embedded Redis on ${embedded.url}\n`);
      }
      try {
        const results = await runBenchmark(options);
        const file = writeResults(results, path.join(opts.out, 'bench.json'));
        const charts: [string, ReturnType<typeof ttftFigure>][] = [['bench-ttft', ttftFigure(results)], ['bench-reuse', reuseFigure(results)]];
        if (results.multiWorker.length) charts.push(['bench-workers', multiWorkerFigure(results)]);
        for (const [name, fig] of charts) fs.writeFileSync(path.join(opts.out, `${name}.html`), figureToPage(fig, name));
        try {
          await renderFiguresToPng(Object.fromEntries(charts), opts.out);
        } catch (err) {
          process.stderr.write(`PNG charts skipped: ${(err as Error).message}\n`);
        }
        for (const w of results.workloads) {
          console.log(`\n${w.workload}: ${w.requests} requests, ${w.promptTokens} prompt tokens, oracle can reuse ${w.oracleTokens}`);
          console.log(tableToText(w.summaries.map((s) => ({ strategy: s.strategy, 'TTFT p50 ms': s.ttftP50Ms, 'TTFT p95 ms': s.ttftP95Ms, 'tokens/s': s.throughputTokensPerS, reused: s.reusedTokens, 'vs oracle': s.reuseVsOracle ?? '–', 'MB loaded': s.bytesLoaded / 1e6, fallbacks: s.fallbacks, 'wrong outputs': s.outputMismatches ?? '' }))));
        }
        for (const m of results.multiWorker) {
          console.log(`\n${m.workload} with ${options.workers} worker processes:`);
          console.log(tableToText(m.summaries.map((s) => ({ strategy: s.strategy, workers: s.workers, reused: s.reusedTokens, 'vs oracle': s.reuseVsOracle ?? '–', 'TTFT p50 ms': s.ttftP50Ms }))));
        }
        console.log(`\nresults: ${file} (${results.durationS.toFixed(1)} s on ${results.machine.cpus} × ${results.machine.cpuModel}, ${results.machine.backend})`);
      } finally {
        await embedded?.stop();
      }
    });
  program
    .command('quickstart')
    .description('a five-minute terminal tour: model, a shared prompt cached in Redis, TTFT with and without')
    .option('--redis-url <url>', 'Redis to use (default: $REDIS_URL, else an embedded redis-server)')
    .action(async (opts) => {
      await quickstart(opts.redisUrl);
    });
  program
    .command('doctor')
    .description('what the course runs on: Node, CPU, the TensorFlow.js backend (and its GPU), Redis, package versions')
    .action(async () => {
      const checks = await checkEnvironment();
      console.log(tableToText(checks.map((c) => ({ check: c.check, ok: c.ok ? '✓' : '✗', detail: c.detail }))));
      if (checks.some((c) => !c.ok)) process.exitCode = 1;
    });
  return program;
}

if (require.main === module) {
  buildCli()
    .parseAsync(process.argv)
    .catch((err: Error) => {
      process.stderr.write(`kvlab: ${err instanceof KVLabError ? `[${err.code}] ` : ''}${err.message}\n`);
      process.exit(1);
    });
}
