/** The generated blocks of the docs: each reads results files and returns Markdown. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { apiMarkdown } from './api-doc';
import { compareWithSeedClaims, loadPrefillTable, projectCost, readResults, type BenchmarkResults, getPreset, sizeRedis, DEFAULT_SIZING_INPUTS } from '../lib/src';
import { costFigure, multiWorkerFigure, reuseFigure, tableToMarkdown, ttftFigure, renderFiguresToPng, type PlotlyFigure } from '../lib/src/notebook';
import { soakTableRows, type SoakResult } from '../lib/src/bench/soak';
import type { BackendsBenchResult } from '../lib/src/bench/backends';
import type { EntryCostResult } from '../lib/src/bench/sizing-measure';
import type { SerdeBenchResult } from '../lib/src/bench/serde';
import type { StoreBenchResult } from '../lib/src/bench/store';
import type { RestartBenchResult } from '../lib/src/bench/restart';
import { AOF_MODES } from '../lib/src/bench/aof-cost';
import { REDIS_LRU_SAMPLES, type TiersBenchResult } from '../lib/src/bench/tiers';
import { breakEvenTokensPerMonth, paybackMonths, projectRoi } from '../lib/src/bench/roi';
import type { GpuBenchResult } from '../lib/src/bench/gpu';
import type { PrefillBenchResult } from '../lib/src/bench/prefill-report';
import { gpuBreakEvenRows, gpuDecodeRows, gpuPrefillRows, gpuRunPlace, gpuTtftRows } from '../lib/src/bench/gpu-report';

type Generator = (root: string) => string;

/** The stated (not measured) inputs of the published cost projection. */
export const COST_INPUTS = { promptTokens: 4096, dollarsPerGpuHour: 3.0, storeGBps: 10 } as const;

/**
 * The stated (not measured) inputs of the published ROI table: a store node's monthly price, a
 * one-time engineering cost, the working set the store is sized for (→ nodes by sizeRedis) and the
 * monthly prompt-token volumes compared. The GPU price, prompt length and store bandwidth are COST_INPUTS.
 */
export const ROI_INPUTS = { dollarsPerNodeMonth: 500, engineeringDollars: 20_000, cachedTokens: 1_000_000, tokensPerMonth: [1e10, 1e11, 1e12] } as const;

/** The seed summary's own ROI figures (claims, not measurements): monthly saving and one-time cost, in dollars. */
export const SEED_ROI_CLAIM = { monthlySaving: 3_000, implementationCost: 10_000, statedBreakEven: '< 1 month' } as const;

function readJson<T>(root: string, file: string): T | undefined {
  const p = path.join(root, file);
  return fs.existsSync(p) ? (JSON.parse(fs.readFileSync(p, 'utf8')) as T) : undefined;
}

function bench(root: string): BenchmarkResults | undefined {
  const p = path.join(root, 'results', 'bench.json');
  return fs.existsSync(p) ? readResults(p) : undefined;
}

/**
 * The sentence under the GPU break-even table, from the numbers: our largest preset on the GPU next
 * to the H100 table's Llama-3-8B at a comparable prompt length, and whether the store's measured load
 * speed in the same run was above our break-even.
 */
function gpuBreakEvenReading(r: GpuBenchResult, table: { model: string; promptTokens: number; breakevenGBps: number }[]): string {
  const longest = Math.max(...r.breakEven.map((b) => b.tokens));
  const onGpu = r.breakEven.filter((b) => b.tokens === longest && b.backend === r.backend);
  const ours = onGpu[onGpu.length - 1];
  const engine = table.filter((x) => x.model === 'llama3-8b').sort((a, b) => Math.abs(a.promptTokens - longest) - Math.abs(b.promptTokens - longest))[0];
  if (!ours || !engine) return '';
  const load = r.ttft.find((t) => t.preset === ours.preset && t.backend === ours.backend);
  const ratio = engine.breakevenGBps / ours.breakEvenGBps;
  const verdict = load
    ? ` The store loaded its KV at ${load.loadGBps.toFixed(2)} GB/s in the same run, ${load.loadGBps > ours.breakEvenGBps ? `${(load.loadGBps / ours.breakEvenGBps).toFixed(1)}× above that break-even: loading pays, and the cached requests wait on the load rather than on compute` : `below that break-even: recomputing is faster than loading here`}.`
    : '';
  return `Our \`${ours.preset}\` on ${ours.backend} breaks even at ${ours.breakEvenGBps.toFixed(3)} GB/s for a ${longest}-token prompt; an optimized engine serving Llama-3-8B on an H100 (the table at the top, ${engine.promptTokens} tokens) needs ${engine.breakevenGBps.toFixed(2)} GB/s, ${ratio >= 10 ? Math.round(ratio) : ratio.toFixed(1)}× more (break-even = KV bytes per token × prefill tokens per second: ${ours.kvBytesPerToken >= 1024 ? `${(ours.kvBytesPerToken / 1024).toFixed(0)} KiB` : `${ours.kvBytesPerToken} bytes`} × ${ours.prefillTokensPerS} tokens/s here).${verdict}`;
}

const missing = (command: string): string => `_Not measured yet: run \`${command}\` and then \`npm run docs\`._`;

function source(r: BenchmarkResults, command: string): string {
  const m = r.machine;
  return `_Measured by \`${command}\` (${r.config.preset} model, ${r.config.workload.requests} requests per workload, KV stored as ${r.config.dtype}) on ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, Node ${m.node}, tfjs ${m.backend}, ${r.startedAt.slice(0, 10)}; results/bench.json._`;
}

function agentReuse(r: BenchmarkResults): number {
  const agent = r.workloads.find((w) => w.workload === 'agent');
  return agent?.summaries.find((s) => s.strategy === 'prefix-redis')?.reuseRatio ?? 0;
}

function projections(r: BenchmarkResults, overlapLoad = false) {
  return ['llama2-7b', 'llama3-8b', 'llama3-70b'].map((model) => ({ label: model, p: projectCost({ ...COST_INPUTS, model, reuseFraction: agentReuse(r), overlapLoad }) }));
}

export const generators: Record<string, Generator> = {
  api: (root) => apiMarkdown(root),
  'bench-summary': (root) => {
    const r = bench(root);
    if (!r) return missing('npm run bench');
    const rows = r.workloads.flatMap((w) => w.summaries.map((s) => ({
      workload: w.workload, strategy: s.strategy, 'TTFT p50 (ms)': s.ttftP50Ms, 'TTFT p95 (ms)': s.ttftP95Ms,
      'tokens/s': s.throughputTokensPerS, 'reused / oracle': s.reuseVsOracle ?? '–', 'MB loaded': s.bytesLoaded / 1e6, 'changed outputs': s.outputMismatches ?? 0,
    })));
    return `${tableToMarkdown(rows, { digits: 3 })}\n\n${source(r, 'npm run bench')}`;
  },
  'bench-multiworker': (root) => {
    const r = bench(root);
    if (!r || r.multiWorker.length === 0) return missing('npm run bench');
    const single = r.workloads.find((w) => w.workload === r.multiWorker[0]!.workload)!;
    const summaries = [...single.summaries.filter((s) => s.strategy === 'prefix-memory' || s.strategy === 'prefix-redis'), ...r.multiWorker[0]!.summaries];
    const rows = summaries.map((s) => ({
      strategy: s.strategy, 'worker processes': s.workers, 'reused tokens': s.reusedTokens, 'reused / oracle': s.reuseVsOracle ?? '–',
      'TTFT p50 (ms)': s.ttftP50Ms, 'TTFT p95 (ms)': s.ttftP95Ms, 'tokens/s': s.throughputTokensPerS,
    }));
    // The sentence the prose needs, computed from the file.
    const redis = (workers: number) => summaries.find((s) => s.strategy === 'prefix-redis' && s.workers === workers);
    const one = redis(1);
    const many = redis(r.config.workers);
    const f = (x: number): string => Number(x.toPrecision(3)).toLocaleString('en-US');
    const said = one && many
      ? `\n\nWith ${r.config.workers} worker processes on ${r.machine.cpus} cores, \`prefix-redis\`'s median TTFT went from ${f(one.ttftP50Ms)} to ${f(many.ttftP50Ms)} ms (${f(many.ttftP50Ms / one.ttftP50Ms)}×), its p95 from ${f(one.ttftP95Ms)} to ${f(many.ttftP95Ms)} ms, and the stream's throughput from ${f(one.throughputTokensPerS)} to ${f(many.throughputTokensPerS)} tokens/s.`
      : '';
    return `${tableToMarkdown(rows, { digits: 3 })}${said}\n\n${source(r, 'npm run bench')}`;
  },
  'bench-claims': (root) => {
    const r = bench(root);
    if (!r) return missing('npm run bench');
    const cost = projections(r).find((x) => x.label === 'llama3-8b')!.p;
    return `${tableToMarkdown(compareWithSeedClaims(r, cost))}\n\n${source(r, 'npm run bench')}`;
  },
  'cost-projection': (root) => {
    const r = bench(root);
    if (!r) return missing('npm run bench');
    const overlapped = new Map(projections(r, true).map((x) => [x.label, x.p]));
    const rows = projections(r).map(({ label, p }) => ({
      model: label, 'reuse (measured, agent, prefix-redis)': p.inputs.reuseFraction, 'prompt tokens (input)': p.inputs.promptTokens,
      '$/GPU-hour (input)': p.inputs.dollarsPerGpuHour, 'store GB/s (input)': p.inputs.storeGBps, 'break-even GB/s': p.breakevenGBps,
      'cached KV is': p.reusedKV, '$/M tokens, no cache': p.dollarsPerMillionNoCache, '$/M tokens, with cache': p.dollarsPerMillionWithCache, saving: p.saving,
      'cached KV is, loads overlapped': overlapped.get(label)!.reusedKV, 'saving, loads overlapped': overlapped.get(label)!.saving,
    }));
    return `${tableToMarkdown(rows, { digits: 3 })}\n\n_Prefill speeds: lib/data/h100-prefill.tsv (measured on one H100, bf16, HF transformers). Reuse: results/bench.json. GPU price and store bandwidth are stated inputs, not measurements. \`projectCost\` loads the cached KV only when that takes the GPU less time than recomputing it; otherwise it recomputes (saving 0). "Loads overlapped": the GPU computes while KV arrives, so the slower of the two sets the time._`;
  },
  'prefill-table': (root) => {
    const { rows } = loadPrefillTable(path.join(root, 'lib', 'data', 'h100-prefill.tsv'));
    return `${tableToMarkdown(rows.map((x) => ({ model: x.model, 'prompt tokens': x.promptTokens, 'prefill ms': x.prefillMs, 'tokens/s': x.prefillTokensPerS, 'KV bytes/token': x.kvBytesPerToken, 'break-even GB/s': x.breakevenGBps, note: x.note })), { digits: 6 })}\n\n_Source: lib/data/h100-prefill.tsv (its header gives how it was measured)._`;
  },
  'prefill-cpu': (root) => {
    const r = readJson<PrefillBenchResult>(root, 'results/prefill.json');
    if (!r) return missing('npm run bench:prefill');
    const ref = r.blasReference;
    const rows = r.prefill.flatMap((p) => p.rows.map((x) => ({
      'prompt tokens': p.tokens,
      'wasm threads': x.threads,
      'prefill ms': Math.round(x.medianMs),
      'GFLOP/s': x.gflops.median,
      'vs 1 thread': x.speedupVsOneThread ? `${x.speedupVsOneThread.median.toFixed(2)}×` : '–',
      'share of the BLAS': x.vsBlas ? x.vsBlas.median.toFixed(2) : '–',
    })));
    const blas = ref ? `the BLAS reference is numpy (${r.versions.blas[0]?.internal_api ?? 'BLAS'} ${r.versions.blas[0]?.version ?? ''}) on ${ref.threads} threads, ${ref.gflops.median.toFixed(0)} GFLOP/s on the model's own ${ref.shape.m}×${ref.shape.k}×${ref.shape.n} product` : `no BLAS reference (${r.blasUnavailable})`;
    return `${tableToMarkdown(rows, { digits: 3 })}\n\n_Medians. Measured by \`npm run bench:prefill\` (${r.config.preset} model, tfjs-backend-wasm ${r.versions.tfjsBackendWasm}) on ${r.machine.cores} × ${r.machine.cpu}, Node ${r.machine.node}, ${r.createdAt.slice(0, 10)}; ${blas}; results/prefill.json._`;
  },
  'gpu-bench': (root) => {
    const r = readJson<GpuBenchResult>(root, 'results/gpu.json');
    if (!r) return '_Not measured yet: on a machine with a GPU run `npm run bench:gpu` (or `npm run gpu:bundle` here and `bash scripts/gpu/run.sh` there), then `npm run docs`._';
    const worst = r.agreement.length ? Math.max(...r.agreement.map((a) => a.maxAbsDiff)).toExponential(1) : '–';
    return [
      `**Prefill**, median of the timed runs (same seeded weights on both backends; largest |Δlogit| between them ${worst}):`,
      tableToMarkdown(gpuPrefillRows(r)),
      '**One decode step** (dispatch-bound on the GPU: dozens of small kernels per token):',
      tableToMarkdown(gpuDecodeRows(r)),
      r.ttftSkipped ? `_TTFT with the Redis cache: not measured (${r.ttftSkipped})._` : `**Time to first token**, a ${r.ttft[0]?.sharedTokens ?? ''}-token shared document then a ${r.ttft[0]?.questionTokens ?? ''}-token question, without and with the document's KV in Redis (fp16):`,
      r.ttftSkipped ? '' : tableToMarkdown(gpuTtftRows(r)),
      '**Break-even load bandwidth** at the longest prompt, next to what the store delivered in the same run:',
      tableToMarkdown(gpuBreakEvenRows(r), { digits: 3 }),
      gpuBreakEvenReading(r, loadPrefillTable(path.join(root, 'lib', 'data', 'h100-prefill.tsv')).rows),
      `_Measured by \`npm run bench:gpu\` on ${gpuRunPlace(r)}; results/gpu.json. A GPU run, not the CPU machines the rest of this page was measured on._`,
    ].filter(Boolean).join('\n\n');
  },
  'workshop-timings': (root) => {
    const run = readJson<{ date: string; fast: boolean; machine: { cpus: number; cpuModel: string; memoryGiB: number }; notebooks: { notebook: string; status: string; seconds: number }[] }>(root, 'results/notebooks.json');
    if (!run) return missing('npm run notebooks -- --record');
    const rows = run.notebooks.map((n) => ({ notebook: n.notebook, 'run all cells (s)': n.seconds, status: n.status }));
    return `${tableToMarkdown(rows)}\n\n_Measured by \`npm run notebooks -- --record\` (${run.fast ? 'fast' : 'full'} mode) on ${run.machine.cpus} × ${run.machine.cpuModel}, ${run.machine.memoryGiB} GiB, ${run.date.slice(0, 10)}; results/notebooks.json._`;
  },
  'soak-table': (root) => {
    const r = readJson<SoakResult>(root, 'results/soak.json');
    if (!r) return missing('npm run soak');
    const [header, ...rows] = soakTableRows(r);
    const md = [`| ${header!.join(' | ')} |`, `|${header!.map((_, i) => (i ? '---:' : '---')).join('|')}|`, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n');
    return `${md}\n\n_Measured by \`npm run soak\` (${r.fast ? 'fast' : 'full'} mode, seed ${r.config.seed}) on ${r.date.slice(0, 10)}; results/soak.json. Details: [soak.md](soak.md)._`;
  },
  'sizing-example': () => {
    const cases = [
      { label: 'Llama-3-8B, fp16, 1 M cached tokens', model: 'llama3-8b' as const, bytesPerValue: 2, cachedTokens: 1_000_000 },
      { label: 'Llama-3-70B, fp16, 1 M cached tokens', model: 'llama3-70b' as const, bytesPerValue: 2, cachedTokens: 1_000_000 },
      { label: 'Llama-3-70B, int8, 1 M cached tokens', model: 'llama3-70b' as const, bytesPerValue: 1, cachedTokens: 1_000_000 },
      { label: 'Llama-2-7B, fp16, 1 M cached tokens', model: 'llama2-7b' as const, bytesPerValue: 2, cachedTokens: 1_000_000 },
    ];
    const GiB = 2 ** 30;
    const rows = cases.map((c) => {
      const r = sizeRedis({ model: getPreset(c.model), bytesPerValue: c.bytesPerValue, cachedTokens: c.cachedTokens });
      return { case: c.label, 'KV bytes/token': r.kvBytesPerToken, 'value bytes (16-token block)': r.blockValueBytes, 'bytes per key in Redis': r.bytesPerKey, keys: r.keys,
        'working set GiB': r.workingSetBytes / GiB, 'maxmemory GiB (+25 %)': r.maxmemoryBytes / GiB, 'masters (≤ 25 GiB each)': r.masters, 'GiB with 1 replica each': r.totalMemoryBytes / GiB };
    });
    return `${tableToMarkdown(rows, { digits: 4 })}\n\n_Computed by \`sizeRedis()\` (lib/src/bench/sizing.ts) from the published model shapes; the inputs are in each row and in DEFAULT_SIZING_INPUTS._`;
  },
  'sizing-measured': (root) => {
    const r = readJson<EntryCostResult>(root, 'results/sizing.json');
    if (!r) return missing('npm run bench:sizing');
    const rows = r.rows.map((x) => ({ block: x.block, 'value bytes': x.valueBytes, 'MEMORY USAGE (measured)': x.memoryUsageBytes, 'sizeRedis model': x.modelBytes, 'Redis adds': `${(x.overhead * 100).toFixed(1)} %` }));
    return `${tableToMarkdown(rows)}\n\n_Measured by \`npm run bench:sizing\` on Redis ${r.redis.version} (${r.redis.allocator}), ${r.date.slice(0, 10)}; results/sizing.json._`;
  },
  backends: (root) => {
    const r = readJson<BackendsBenchResult>(root, 'results/backends.json');
    if (!r) return missing('npm run bench:backends');
    const MiB = 2 ** 20;
    const mib = (b: number): string => `${Number((b / MiB).toFixed(2))} MiB`;
    const f2 = (x: number): string => x.toFixed(2);
    const info = new Map(r.targets.map((t) => [t.id, t]));
    const who = (id: string): { server: string; client: string } => {
      const t = info.get(id as BackendsBenchResult['targets'][number]['id']);
      return { server: t?.server ?? id.split('/')[0]!, client: t?.client ?? id.split('/')[1]! };
    };
    const sizes = r.measurements.transfer;
    const ids = r.targets.map((t) => t.id);
    const throughput = (kind: 'read' | 'write'): string =>
      tableToMarkdown(
        ids.map((id) => {
          const t = info.get(id)!;
          const row: Record<string, string> = { ...who(id) };
          for (const tr of sizes) {
            const x = tr.rows.find((y) => y.target === id);
            row[mib(tr.blockBytes)] = !t.available
              ? 'unavailable'
              : !x || x.error
                ? `failed: ${x?.error ?? 'not run'}`
                : `${f2(x[kind].gbps)} (${f2(kind === 'read' ? x.readRatio : x.writeRatio)}×)${x.verified ? '' : ' NOT VERIFIED'}`;
          }
          return row;
        }),
      );
    const ratios = (id: string, kind: 'readRatio' | 'writeRatio'): number[] =>
      sizes.map((tr) => tr.rows.find((y) => y.target === id)).filter((x) => x && !x.error).map((x) => x![kind]);
    const geo = (xs: number[]): number => (xs.length ? Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length) : 0);
    const range = (xs: number[]): string => (xs.length ? `${f2(Math.min(...xs))}–${f2(Math.max(...xs))}×` : '');
    const summary = tableToMarkdown(
      ids.filter((id) => info.get(id)!.available && id !== r.config.baseline).map((id) => ({
        ...who(id),
        'read × ioredis, range over sizes': range(ratios(id, 'readRatio')),
        'read × ioredis, geometric mean': Number(geo(ratios(id, 'readRatio')).toFixed(2)),
        'write × ioredis, range over sizes': range(ratios(id, 'writeRatio')),
        'write × ioredis, geometric mean': Number(geo(ratios(id, 'writeRatio')).toFixed(2)),
      })),
    );
    const l = r.measurements.lookup;
    const lookup = tableToMarkdown(
      l.rows.map((x) => ({
        ...who(x.target),
        'median ms': x.error ? `failed: ${x.error}` : x.medianMs.toFixed(3),
        'min ms': x.error ? '' : x.minMs.toFixed(3),
        'time × ioredis pipeline': x.error ? '' : `${f2(x.ratio)}×`,
        answers: x.correct ? 'correct' : 'WRONG',
        how: info.get(x.target)?.how.lookup ?? '',
      })),
    );
    const m = r.measurements.memcachedItemLimit;
    const said = (p: { stored: boolean; error?: string } | undefined): string => (!p ? '' : p.stored ? 'stored, read back identical' : `rejected: \`${p.error}\``);
    const limits = m.available
      ? `${tableToMarkdown(
          m.probes.map((p, i) => ({
            value: mib(p.valueBytes),
            [`default server (item_size_max ${m.itemSizeMax?.toLocaleString('en-US')}), meta client`]: said(p.meta),
            'default server, memjs': said(p.memjs),
            [`measured server (${r.config.servers.memcached.args.join(' ')}, item_size_max ${m.raisedLimit.itemSizeMax?.toLocaleString('en-US')})`]: said(m.raisedLimit.probes[i]),
          })),
        )}\n\nLargest value the default server stored (binary search): ${m.largestStoredBytes?.toLocaleString('en-US')} bytes.`
      : `_memcached was not available: ${m.error}_`;
    // Conclusions computed from the file, so that prose never has to quote a number.
    const redisClients = ids.filter((id) => id.startsWith('redis/') && info.get(id)!.available);
    const bestRead = sizes.map((tr) => {
      const rows = tr.rows.filter((x) => !x.error && x.target !== 'memory/MemoryStore').sort((a, b) => b.readRatio - a.readRatio);
      const redis = tr.rows.filter((x) => !x.error && redisClients.includes(x.target)).sort((a, b) => b.readRatio - a.readRatio);
      const best = `${rows[0]?.target} (${f2(rows[0]?.readRatio ?? 0)}×)`;
      return redis[0] && redis[0] !== rows[0] ? `${mib(tr.blockBytes)} ${best}, among Redis clients ${redis[0].target} (${f2(redis[0].readRatio)}×)` : `${mib(tr.blockBytes)} ${best}`;
    });
    const everywhere = (kind: 'readRatio' | 'writeRatio', test: (x: number) => boolean): string => {
      const hits = redisClients.filter((id) => id !== r.config.baseline && ratios(id, kind).length === sizes.length && ratios(id, kind).every(test));
      return hits.length ? hits.join(', ') : 'none';
    };
    const unavailable = r.targets.filter((t) => !t.available);
    const wrong = [
      ...sizes.flatMap((tr) => tr.rows.filter((x) => !x.verified).map((x) => `${x.target} at ${mib(tr.blockBytes)}`)),
      ...l.rows.filter((x) => !x.correct).map((x) => `${x.target} (lookup)`),
    ];
    const findings = [
      `- Fastest reader through a socket at each size, by ratio to ioredis: ${bestRead.join('; ')}.`,
      `- Redis clients at least 1.1× faster than ioredis at every measured size — reads: ${everywhere('readRatio', (x) => x >= 1.1)}; writes: ${everywhere('writeRatio', (x) => x >= 1.1)}.`,
      `- Redis clients at most 0.9× as fast as ioredis at every measured size — reads: ${everywhere('readRatio', (x) => x <= 0.9)}; writes: ${everywhere('writeRatio', (x) => x <= 0.9)}.`,
      `- Every value read back was compared byte for byte with what was written: ${wrong.length ? `MISMATCHES: ${wrong.join(', ')}` : 'all identical'}.`,
      `- Unavailable here: ${unavailable.length ? unavailable.map((t) => `${t.id} (${t.error})`).join('; ') : 'none (every server started, every client loaded)'}.`,
    ].join('\n');
    const v = r.versions;
    const mach = r.machine;
    const load = mach.loadAverage ? `, 1-min load average ${mach.loadAverage.start} at start / ${mach.loadAverage.end} at end` : '';
    const source = `_Measured by \`npm run bench:backends\` (${r.fast ? 'fast mode' : 'full mode'}: ${r.config.iterations} timed passes of ${mib(r.config.bytesPerPass)} per target and size, ${r.config.lookupIterations} lookups per target) on ${mach.cpus} × ${mach.cpuModel}, ${mach.totalMemoryGiB} GiB${load}, all on loopback; Node ${v.node}, Redis ${v.redisServer}, memcached ${v.memcached}, ioredis ${v.ioredis}, node-redis ${v.nodeRedis}, @valkey/valkey-glide ${v.valkeyGlide}, memjs ${v.memjs}; ${r.date.slice(0, 10)}; results/backends.json._`;
    const method = tableToMarkdown(r.targets.map((t) => ({ ...who(t.id), write: t.how.write, read: t.how.read })));
    return [
      `**How each target is driven** (every pass moves ${mib(r.config.bytesPerPass)}; the values are the same random buffers for every target)\n\n${method}`,
      `**Read throughput**, GB/s at the median pass; in brackets, relative to raw ioredis \`getBuffer\` at the same block size (median of the per-pass ratios)\n\n${throughput('read')}`,
      `**Write throughput**, GB/s at the median pass; in brackets, relative to raw ioredis \`set\` (median of the per-pass ratios)\n\n${throughput('write')}`,
      `**Across block sizes**, relative to ioredis\n\n${summary}`,
      `**Batched existence lookup** of ${l.keys} keys, ${l.present} of them present (values of ${l.valueBytes.toLocaleString('en-US')} bytes)\n\n${lookup}`,
      `**memcached's item-size limit**\n\n${limits}`,
      `**What this run shows** (computed from the results file)\n\n${findings}`,
      source,
    ].join('\n\n');
  },
  'store-bench': (root) => {
    const s = readJson<StoreBenchResult>(root, 'results/store.json');
    if (!s) return missing('npm run bench:store');
    const g = s.measurements.get;
    const mib = (s.config.totalBytes / 2 ** 20).toFixed(0);
    const rows = [
      { read: 'raw ioredis getBuffer, one per block, all in flight', 'median (ms)': g.raw.medianMs, 'GB/s': g.raw.gbps, '× raw': 1 },
      { read: 'RedisStore.get', 'median (ms)': g.store.medianMs, 'GB/s': g.store.gbps, '× raw': g.ratio },
      ...(g.storeDecode
        ? [{ read: 'lookup + RedisStore.stream + verify + decode, each block into its rows of the prefix\'s arrays as it arrives', 'median (ms)': g.storeDecode.medianMs, 'GB/s': g.storeDecode.gbps, '× raw': g.ratioDecode ?? 0 }]
        : []),
    ];
    const l = s.measurements.lookup;
    const m = s.measurements;
    const limit = m.limit.best.gbps;
    const share = (gbps: number): string => `${gbps.toFixed(2)} GB/s, ${(gbps / limit).toFixed(2)} of the limit`;
    const budget = m.cpu
      ? ` Where the load path's time goes, as CPU time per byte in the same run: receiving ${m.cpu.receiveNsPerByte.toFixed(2)} ns/B (the kernel's copy out of the socket), checking and decoding fp16 into the prefix's fp32 arrays ${m.cpu.decodeNsPerByte.toFixed(2)} ns/B, Redis sending ${m.cpu.redisNsPerByte.toFixed(2)} ns/B. One client thread doing the receiving and the decoding cannot go faster than ${share(m.cpu.oneThreadGbps)}; spread perfectly over all ${m.cpu.cores} cores${m.cpu.redisLocal ? ', which Redis shares here,' : ''} the same work would allow ${share(m.cpu.allCoresGbps)}.`
      : '';
    const limitLine = m.limit.byWindow.length
      ? `The machine's limit in the same run: a plain socket that only skips over the same values read ${limit.toFixed(2)} GB/s at its best window (${m.limit.best.window} GET${m.limit.best.window === 1 ? '' : 's'} in flight); the load path at the store's default window reached ${share(g.storeDecode?.gbps ?? 0)} (its best window: ${m.loadPath.best.gbps.toFixed(2)} GB/s at ${m.loadPath.best.window}).${budget}`
      : '';
    return [
      tableToMarkdown(rows, { digits: 3 }),
      ...(limitLine ? [limitLine] : []),
      `A longest-prefix lookup of ${l.blocks} blocks: ${l.commands} commands, ${l.roundTrips} round trip${l.roundTrips === 1 ? "" : "s"} (${l.medianMs} ms); awaited one by one: ${l.sequential.roundTrips} round trips (${l.sequential.medianMs} ms).`,
      `_Measured by \`npm run bench:store\` (${s.fast ? 'fast' : 'full'} mode: ${s.config.blocks} blocks × ${(s.config.blockBytes / 2 ** 20).toFixed(2)} MiB = ${mib} MiB per read, median of ${g.raw.samplesMs.length}) on ${s.machine.cpus} × ${s.machine.cpuModel}, Redis ${s.versions.redis}, ${s.date.slice(0, 10)}; results/store.json._`,
    ].join('\n\n');
  },
  'serde-compression': (root) => {
    const r = readJson<SerdeBenchResult>(root, 'results/serde.json');
    if (!r) return missing('npm run bench:serde');
    const range = (xs: number[], digits = 0): string => {
      const lo = Math.min(...xs).toFixed(digits);
      const hi = Math.max(...xs).toFixed(digits);
      return lo === hi ? lo : `${lo}–${hi}`;
    };
    const saved = (ratio: number): number => 100 * (1 - 1 / ratio);
    const deflate = [...new Set(r.codecs.map((c) => c.dtype))].map((dtype) => {
      const of = (shuffled: boolean) => r.codecs.filter((c) => c.dtype === dtype && c.codec.startsWith('shuffle') === shuffled);
      return {
        payload: dtype,
        'saved by deflate (%)': range(of(false).map((c) => saved(c.ratio))),
        'after the byte shuffle (%)': range(of(true).map((c) => saved(c.ratio))),
        'compress (MB/s)': range(r.codecs.filter((c) => c.dtype === dtype).map((c) => c.compressMBps)),
        'inflate (MB/s)': range(r.codecs.filter((c) => c.dtype === dtype).map((c) => c.decompressMBps)),
      };
    });
    const fp16 = r.encodings.find((e) => e.dtype === 'fp16');
    const quantized = r.encodings
      .filter((e) => fp16 && e.bytes < fp16.bytes)
      .map((e) => ({ dtype: e.groupSize ? `${e.dtype} (groups of ${e.groupSize})` : e.dtype, 'bits per value': e.bitsPerValue, 'times smaller than fp16': fp16!.bytes / e.bytes }));
    return [
      tableToMarkdown(deflate),
      tableToMarkdown(quantized, { digits: 2 }),
      `_Measured by \`npm run bench:serde\` (${r.config.data} KV, ${(r.config.fp32Bytes / 2 ** 20).toFixed(0)} MiB of fp32, deflate level ${r.config.level}; pako and node:zlib) on ${r.machine.cores} × ${r.machine.cpu}, ${r.createdAt.slice(0, 10)}; results/serde.json._`,
    ].join('\n\n');
  },
  'restart-table': (root) => {
    const r = readJson<RestartBenchResult>(root, 'results/restart.json');
    if (!r) return missing('npm run bench:restart');
    const w = r.config.windowRequests;
    const after = r.stream.requests - r.stream.fillRequests;
    const kib = (b: number | null): string => (b === null ? '–' : `${(b / 2 ** 20).toFixed(1)} MiB`);
    const rows = r.scenarios.map((s) => ({
      scenario: s.scenario,
      'server config': s.serverArgs.length ? `\`${s.serverArgs.map((a) => (a.includes(' ') ? `"${a}"` : a)).join(' ')}\`` : 'lab default (`--save "" --appendonly no`)',
      'keys before → after': `${s.keysBefore} → ${s.keysAfter}`,
      'RDB / AOF on disk': s.rdbBytes !== null ? `RDB ${kib(s.rdbBytes)}` : s.aofBytes !== null ? `AOF ${kib(s.aofBytes)}` : '–',
      'BGSAVE (ms)': s.snapshotMs === null ? '–' : Math.round(s.snapshotMs),
      "Redis' load time (ms, its log)": s.loadSeconds === null ? '–' : Math.round(s.loadSeconds * 1000),
      'kill → PONG (ms)': s.restartToReadyMs === null ? '–' : Math.round(s.restartToReadyMs),
      [`hit rate, last ${w} before`]: s.hitRateBefore,
      [`hit rate, first ${w} after`]: s.hitRateFirstAfter,
      [`hit rate, all ${after} after`]: s.hitRateAfter,
      'requests to warm': s.requestsToWarm === null ? 'never (in this stream)' : s.requestsToWarm,
      'prompt tokens recomputed because of it': s.extraComputedTokens ?? '–',
      'changed outputs': s.outputMismatches ?? '–',
    }));
    const m = r.machine;
    return `${tableToMarkdown(rows, { digits: 3 })}\n\n_Measured by \`npm run bench:restart\` (${r.fast ? 'fast' : 'full'} mode: ${r.config.preset} model, ${r.config.workload} stream of ${r.stream.requests} requests in ${r.config.workloadOptions.sessions} sessions, ${r.stream.fillRequests} before the kill and ${after} after; ${r.stream.blockValueBytes.toLocaleString('en-US')}-byte blocks) on ${m.cpus} × ${m.cpuModel}, data on ${m.filesystem}, 1-min load average ${m.loadAverage.start} at start / ${m.loadAverage.end} at end; Redis ${r.versions.redis}, ${r.date.slice(0, 10)}; results/restart.json. Hit rates are prompt tokens loaded ÷ prompt tokens. "Requests to warm": requests after the restart until every later request reused as many tokens as in the no-restart run. "Recomputed because of it": over the requests after the restart, the prompt tokens the no-restart run reused and this run had to compute._`;
  },
  'restart-load-time': (root) => {
    const r = readJson<RestartBenchResult>(root, 'results/restart.json');
    if (!r?.loadTime) return missing('npm run bench:restart');
    const MiB = 2 ** 20;
    const rows = r.loadTime.map((x) => ({
      'persisted as': x.mode === 'rdb' ? 'RDB snapshot (BGSAVE)' : 'AOF (`appendfsync everysec`)',
      keys: x.keys,
      'data (MiB)': x.dataBytes / MiB,
      'file (MiB)': x.fileBytes / MiB,
      'BGSAVE (ms)': x.snapshotMs === null ? '–' : Math.round(x.snapshotMs),
      "Redis' load time (s, its log)": x.loadSeconds ?? '–',
      'file MiB/s loaded': x.loadSeconds ? Math.round(x.fileBytes / MiB / x.loadSeconds) : '–',
      'kill → PONG (ms)': Math.round(x.restartToReadyMs),
      'keys after': x.keysAfter,
    }));
    const rdb = r.loadTime.find((x) => x.mode === 'rdb');
    const perMaster = DEFAULT_SIZING_INPUTS.maxMemoryPerMasterBytes;
    const at = rdb?.loadSeconds ? (perMaster / rdb.fileBytes) * rdb.loadSeconds : undefined;
    const aof = r.loadTime.find((x) => x.mode === 'aof');
    const faster = rdb?.loadSeconds && aof?.loadSeconds ? rdb.loadSeconds / aof.loadSeconds : undefined;
    const compared = faster === undefined ? '' : `\n\nIn this run Redis replayed the AOF ${faster >= 1 ? `${faster.toFixed(1)}× faster than it loaded the RDB snapshot` : `${(1 / faster).toFixed(1)}× slower than it loaded the RDB snapshot`} of the same data.`;
    const said = compared + (at === undefined ? '' : `\n\nArithmetic on this run's RDB rate, not a measurement: a master holding ${perMaster / 2 ** 30} GiB (the per-master limit \`sizeRedis\` assumes) would load in about ${Math.round(at)} s, if loading stays linear in the file's size on your disk.`);
    const m = r.machine;
    return `${tableToMarkdown(rows, { digits: 3 })}${said}\n\n_Measured by \`npm run bench:restart\` (${r.fast ? 'fast' : 'full'} mode: random values of ${(r.loadTime[0]!.dataBytes / r.loadTime[0]!.keys).toLocaleString('en-US')} bytes — a 16-token fp16 block of Llama-3-8B — written 8 at a time, then SIGKILL and restart on the same folder) on ${m.cpus} × ${m.cpuModel}, data on ${m.filesystem}, Redis ${r.versions.redis}, ${r.date.slice(0, 10)}; results/restart.json._`;
  },
  'aof-write-cost': (root) => {
    const r = readJson<RestartBenchResult>(root, 'results/restart.json');
    if (!r?.aofWrite) return missing('npm run bench:restart');
    const a = r.aofWrite;
    const rows = a.rows.map((x) => ({
      'value (one block)': `${x.valueBytes.toLocaleString('en-US')} bytes${x.valueBytes > 2 ** 20 ? ' (Llama-3-8B, fp16)' : ` (${r.config.preset} model, ${r.config.dtype})`}`,
      'server config': `\`${AOF_MODES.find((m) => m.name === x.mode)?.args.join(' ') ?? x.mode}\``,
      'SET/s': Math.round(x.setsPerS),
      'GB/s': x.gbps,
      '× appendonly no': x.ratioToNoAof,
    }));
    return `${tableToMarkdown(rows, { digits: 3 })}\n\n_Measured by \`npm run bench:restart\` (${r.fast ? 'fast' : 'full'} mode: ${a.config.rounds} interleaved rounds of ${(a.config.bytesPerPass / 2 ** 20).toFixed(0)} MiB per mode and size, ${a.config.inFlight} SETs in flight on one ioredis connection, one private redis-server per mode) on ${r.machine.cpus} × ${r.machine.cpuModel}, data on ${a.filesystem}, Redis ${r.versions.redis}, ${r.date.slice(0, 10)}; results/restart.json. "× appendonly no": the median over rounds of the ratio to the \`appendonly no\` pass of the same round._`;
  },
  'tiers-table': (root) => {
    const r = readJson<TiersBenchResult>(root, 'results/tiers.json');
    if (!r) return missing('npm run bench:tiers');
    const pct = (x: number | null): string => (x === null ? '–' : `${(x * 100).toFixed(1)} %`);
    const rows = r.runs.map((x) => ({
      layers: x.setup,
      'device (engine memory)': pct(x.shares.device),
      'host memory (MemoryStore)': pct(x.shares.host),
      'Redis': pct(x.shares.remote),
      'computed': pct(x.shares.computed),
      'host hit rate of what reached it': pct(x.hitRateOfReached.host),
      'Redis hit rate of what reached it': pct(x.hitRateOfReached.remote),
      'load (ms, mean per request)': x.loadMsMean,
      'TTFT p50 (ms)': x.ttftP50Ms,
      'TTFT p95 (ms)': x.ttftP95Ms,
      'evicted blocks (device / host / Redis)': `${x.evictions.device} / ${x.evictions.host} / ${x.evictions.remote}`,
    }));
    const l = r.layers;
    const s = r.stream;
    const m = r.machine;
    return `${tableToMarkdown(rows, { digits: 3 })}\n\n_Shares of all ${s.promptTokens.toLocaleString('en-US')} prompt tokens, by the layer that supplied their KV. An infinite cache (the oracle) would have reused ${pct(s.oracleTokens / s.promptTokens)}. Layer capacities: device ${l.deviceBlocks} blocks, host memory ${l.hostBlocks} blocks (${(l.hostBytes / 2 ** 20).toFixed(2)} MiB), Redis \`maxmemory\` for ${l.remoteBlocks} blocks (\`allkeys-lru\`, \`maxmemory-samples\` ${REDIS_LRU_SAMPLES}) — ${r.config.capacity.device * 100} %, ${r.config.capacity.host * 100} % and ${r.config.capacity.remote * 100} % of the stream's ${s.distinctBlocks} distinct ${s.blockValueBytes.toLocaleString('en-US')}-byte blocks. Measured by \`npm run bench:tiers\` (${r.fast ? 'fast' : 'full'} mode: ${r.config.preset} model, ${r.config.workload} stream of ${s.requests} requests in ${r.config.workloadOptions.sessions} sessions) on ${m.cpus} × ${m.cpuModel}, 1-min load average ${m.loadAverage.start} at start / ${m.loadAverage.end} at end; Redis ${r.versions.redis}, ${r.date.slice(0, 10)}; results/tiers.json._`;
  },
  'roi-table': (root) => {
    const r = bench(root);
    if (!r) return missing('npm run bench');
    const reuse = agentReuse(r);
    const dollars = (x: number): string => `${x < 0 ? '−' : ''}$${Math.abs(Math.round(x)).toLocaleString('en-US')}`;
    const rows = (['llama3-8b', 'llama3-70b'] as const).flatMap((model) => {
      const sizing = sizeRedis({ model: getPreset(model), bytesPerValue: 2, cachedTokens: ROI_INPUTS.cachedTokens });
      const storeNodes = sizing.masters * (1 + sizing.inputs.replicasPerMaster);
      return ROI_INPUTS.tokensPerMonth.map((tokensPerMonth) => {
        const p = projectRoi({ ...COST_INPUTS, model, reuseFraction: reuse, promptTokensPerMonth: tokensPerMonth, storeNodes, dollarsPerNodeMonth: ROI_INPUTS.dollarsPerNodeMonth, engineeringDollars: ROI_INPUTS.engineeringDollars });
        const even = breakEvenTokensPerMonth(p.cost, p.storeDollarsPerMonth);
        return {
          model,
          'prompt tokens / month (input)': `${tokensPerMonth / 1e9} B`,
          'GPU $/month, no cache': dollars(p.gpuDollarsPerMonthNoCache),
          'GPU $ saved / month': dollars(p.gpuSavingPerMonth),
          'store nodes (sizeRedis, 1 M cached tokens, 1 replica)': storeNodes,
          'store $/month': dollars(p.storeDollarsPerMonth),
          'net $/month': dollars(p.netSavingPerMonth),
          'months to repay engineering': p.breakEvenMonths === null ? 'never' : Number(p.breakEvenMonths.toFixed(1)),
          'tokens/month where saving = store cost': even === null ? 'none' : `${Number((even / 1e9).toPrecision(3))} B`,
        };
      });
    });
    const seed = paybackMonths(SEED_ROI_CLAIM.implementationCost, SEED_ROI_CLAIM.monthlySaving)!;
    return `${tableToMarkdown(rows)}\n\n_Inputs (stated, not measured): ${COST_INPUTS.promptTokens}-token prompts, $${COST_INPUTS.dollarsPerGpuHour}/GPU-hour, a ${COST_INPUTS.storeGBps} GB/s store, loads not overlapped with compute, $${ROI_INPUTS.dollarsPerNodeMonth}/node-month, $${ROI_INPUTS.engineeringDollars.toLocaleString('en-US')} of engineering, a store sized by \`sizeRedis()\` for ${ROI_INPUTS.cachedTokens.toLocaleString('en-US')} cached tokens in fp16. Measured: the reuse, ${reuse.toFixed(2)} (agent workload, prefix-redis, results/bench.json), and the H100 prefill speeds behind \`projectCost\` (lib/data/h100-prefill.tsv). Computed by \`projectRoi()\` (lib/src/bench/roi.ts). The seed summary's own figures — $${SEED_ROI_CLAIM.monthlySaving.toLocaleString('en-US')} saved a month against about $${SEED_ROI_CLAIM.implementationCost.toLocaleString('en-US')} of implementation, stated as a break-even of "${SEED_ROI_CLAIM.statedBreakEven}" — give ${seed.toFixed(1)} months by the same arithmetic (\`paybackMonths\`)._`;
  },
};

/** Charts of the docs and README, rendered from the results files. */
export function figures(root: string): Record<string, PlotlyFigure> {
  const r = bench(root);
  if (!r) return {};
  const out: Record<string, PlotlyFigure> = { 'bench-ttft': ttftFigure(r), 'bench-reuse': reuseFigure(r), 'cost-projection': costFigure(projections(r)) };
  if (r.multiWorker.length) out['bench-workers'] = multiWorkerFigure(r);
  return out;
}

/** Render each figure to docs/img/NAME.png with headless Chromium. */
export async function renderCharts(root: string): Promise<void> {
  for (const file of await renderFiguresToPng(figures(root), path.join(root, 'docs', 'img'))) console.log(`rendered ${path.relative(root, file)}`);
}
