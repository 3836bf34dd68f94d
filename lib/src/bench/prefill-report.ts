/** The results of `npm run bench:prefill` (results/prefill.json): pooled samples, rates, ratios, and their text summary. */
import { describeHost, type HostDescription } from './machine';
import * as os from 'node:os';
import { DEFAULT_MODEL_OPTIONS } from '../model/transformer';
import { getPreset } from '../model/presets';
import type { RunnablePresetName } from '../model/presets';
import { packageVersion } from '../runtime/versions';
import type { BlasLibrary, BlasRun } from './blas-reference';
import type { Resolved, WasmMeasurement } from './prefill';
import { matmulFlops, prefillFlops, modelMatmulShapes, type MatmulShape } from './prefill-flops';
import { median } from './stats';

/**
 * Timed samples of one measurement. Both the median and the fastest sample are kept: on a shared
 * machine the fastest is the closest to what the cores do when nothing else runs, the median to
 * what a user of this machine got.
 */
export interface Timing {
  samplesMs: number[];
  medianMs: number;
  minMs: number;
}

/** A ratio of two measurements, at their medians and at their fastest samples. */
export interface Ratio {
  median: number;
  fastest: number;
}

export interface MatmulRow extends Timing {
  engine: 'tfjs-wasm' | 'numpy-blas';
  threads: number;
  /** At the median and at the fastest sample. */
  gflops: Ratio;
  /** This row's GFLOP/s ÷ the BLAS at the most threads on the same shape. */
  vsBlas: Ratio | null;
}

export interface PrefillRow extends Timing {
  threads: number;
  gflops: Ratio;
  /** 1 thread's time ÷ this time (below 1: slower than 1 thread). */
  speedupVsOneThread: Ratio | null;
  /** GFLOP/s ÷ the BLAS reference's (see `blasReference`). */
  vsBlas: Ratio | null;
  /** max |logit difference| against the 1-thread run of the same prompt (0 = identical). */
  logitsMaxAbsDiffVsOneThread: number | null;
}

export interface DecodeRow extends Timing {
  threads: number;
  /** 1 thread's time ÷ this time (below 1: slower than 1 thread). */
  speedupVsOneThread: Ratio | null;
}

export interface PrefillBenchResult {
  benchmark: 'prefill';
  createdAt: string;
  machine: HostDescription & { availableParallelism: number };
  versions: { tfjsCore: string; tfjsBackendWasm: string; python: string | null; numpy: string | null; blas: BlasLibrary[] };
  config: {
    preset: RunnablePresetName;
    promptLengths: number[];
    threadCounts: number[];
    blasThreadCounts: number[];
    shapes: MatmulShape[];
    repeats: number;
    rounds: number;
    prefillChunkSize: number;
    flops: string;
  };
  /** Each wasm process: threads asked for, threads run, and why fewer (if so). */
  wasmProcesses: { threadsRequested: number; threads: number; fallback?: string }[];
  /** Why there are no BLAS numbers (numpy missing, …); null when it ran. */
  blasUnavailable: string | null;
  /** The BLAS number prefill is compared with: the preset's MLP gate/up product of one prefill chunk, at the most BLAS threads. */
  blasReference: { threads: number; shape: MatmulShape; gflops: Ratio } | null;
  /** The BLAS's best GFLOP/s (fastest sample) over all shapes, at the most threads: this machine's matmul peak. */
  blasPeak: { threads: number; shape: MatmulShape; gflops: number } | null;
  /**
   * Median over shapes of BLAS GFLOP/s at the most threads ÷ at 1 thread: how much of the extra
   * cores this run could get at all (near 1: other work held them, and wasm threads cannot gain either).
   */
  blasThreadScaling: Ratio | null;
  matmul: { shape: MatmulShape; flops: number; rows: MatmulRow[] }[];
  prefill: { tokens: number; flops: number; rows: PrefillRow[] }[];
  /** Decode steps (one token) after the longest prompt: the other half of serving, where threads cost. */
  decode: { contextTokens: number; rows: DecodeRow[] };
}

const r3 = (x: number): number => Math.round(x * 1000) / 1000;

// Times to 0.1 µs: a decode-shaped product takes tens of microseconds.
const r4 = (x: number): number => Math.round(x * 10_000) / 10_000;

function timing(samplesMs: readonly number[]): Timing {
  return { samplesMs: samplesMs.map(r4), medianMs: r4(median(samplesMs)), minMs: r4(Math.min(...samplesMs)) };
}

/** GFLOP/s at the median and at the fastest sample. */
function rate(t: Timing, flops: number): Ratio {
  return { median: r3(flops / t.medianMs / 1e6), fastest: r3(flops / t.minMs / 1e6) };
}

/** a ÷ b for both statistics; null when b is missing. */
function divide(a: Ratio, b: Ratio | undefined): Ratio | null {
  return b === undefined || !(b.median > 0 && b.fastest > 0) ? null : { median: r3(a.median / b.median), fastest: r3(a.fastest / b.fastest) };
}

/** Time ratio (baseline ÷ this): a speedup. */
function speedup(baseline: Timing | undefined, t: Timing): Ratio | null {
  return baseline === undefined ? null : { median: r3(baseline.medianMs / t.medianMs), fastest: r3(baseline.minMs / t.minMs) };
}

const sameShape = (a: MatmulShape, b: MatmulShape): boolean => a.m === b.m && a.k === b.k && a.n === b.n;

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs((a[i] as number) - (b[i] as number));
    if (!(d <= m)) m = d; // NaN stays NaN
  }
  return m;
}

/** All samples of a thread count, pooled over rounds (undefined when there are none). */
function pooled(samples: number[]): Timing | undefined {
  return samples.length ? timing(samples) : undefined;
}

class Pools {
  constructor(
    private readonly wasm: readonly WasmMeasurement[],
    private readonly blas: readonly BlasRun[],
  ) {}

  wasmMatmul(threads: number, shape: MatmulShape): Timing | undefined {
    return pooled(this.wasmOf(threads).flatMap((r) => r.matmul.filter((x) => sameShape(x.shape, shape)).flatMap((x) => x.samplesMs)));
  }

  blasMatmul(threads: number, shape: MatmulShape): Timing | undefined {
    return pooled(this.blas.filter((r) => r.threads === threads).flatMap((r) => r.results.filter((x) => sameShape(x, shape)).flatMap((x) => x.samplesMs)));
  }

  prefill(threads: number, tokens: number): WasmMeasurement['prefill'] {
    return this.wasmOf(threads).flatMap((r) => r.prefill.filter((p) => p.tokens === tokens));
  }

  decode(threads: number): Timing | undefined {
    return pooled(this.wasmOf(threads).flatMap((r) => r.decode.samplesMs));
  }

  private wasmOf(threads: number): WasmMeasurement[] {
    return this.wasm.filter((r) => r.threadsRequested === threads);
  }
}

function matmulSection(o: Resolved, pools: Pools, maxBlasThreads: number): PrefillBenchResult['matmul'] {
  return o.shapes.map((shape) => {
    const flops = matmulFlops(shape);
    const blasRef = pools.blasMatmul(maxBlasThreads, shape);
    const ref = blasRef && rate(blasRef, flops);
    const rows: MatmulRow[] = [];
    const add = (engine: MatmulRow['engine'], threads: number, t: Timing | undefined): void => {
      if (t === undefined) return;
      const gflops = rate(t, flops);
      rows.push({ engine, threads, ...t, gflops, vsBlas: divide(gflops, ref) });
    };
    for (const threads of o.threadCounts) add('tfjs-wasm', threads, pools.wasmMatmul(threads, shape));
    for (const threads of o.blasThreadCounts) add('numpy-blas', threads, pools.blasMatmul(threads, shape));
    return { shape, flops, rows };
  });
}

function prefillSection(o: Resolved, pools: Pools, reference: Ratio | undefined): PrefillBenchResult['prefill'] {
  const config = getPreset(o.preset);
  return o.promptLengths.map((tokens) => {
    const flops = prefillFlops(config, tokens);
    const baseline = pools.prefill(1, tokens)[0];
    const one = pooled(pools.prefill(1, tokens).flatMap((p) => p.samplesMs));
    const rows = o.threadCounts.flatMap((threads): PrefillRow[] => {
      const runs = pools.prefill(threads, tokens);
      const t = pooled(runs.flatMap((p) => p.samplesMs));
      if (t === undefined) return [];
      const gflops = rate(t, flops);
      const diffs = baseline ? runs.map((p) => maxAbsDiff(p.logits, baseline.logits)) : [];
      return [{ threads, ...t, gflops, speedupVsOneThread: speedup(one, t), vsBlas: divide(gflops, reference), logitsMaxAbsDiffVsOneThread: diffs.length ? Math.max(...diffs) : null }];
    });
    return { tokens, flops, rows };
  });
}

function blasSummary(o: Resolved, pools: Pools, maxBlasThreads: number): Pick<PrefillBenchResult, 'blasReference' | 'blasPeak' | 'blasThreadScaling'> {
  const referenceShape = modelMatmulShapes(getPreset(o.preset), DEFAULT_MODEL_OPTIONS.prefillChunkSize)[0] as MatmulShape;
  const gflopsOf = (threads: number, shape: MatmulShape): Ratio | undefined => {
    const t = pools.blasMatmul(threads, shape);
    return t && rate(t, matmulFlops(shape));
  };
  const ref = gflopsOf(maxBlasThreads, referenceShape);
  let peak: PrefillBenchResult['blasPeak'] = null;
  for (const shape of o.shapes) {
    const g = gflopsOf(maxBlasThreads, shape)?.fastest ?? 0;
    if (g > (peak?.gflops ?? 0)) peak = { threads: maxBlasThreads, shape, gflops: g };
  }
  const scalings = o.shapes.map((shape) => divide(gflopsOf(maxBlasThreads, shape) ?? { median: 0, fastest: 0 }, gflopsOf(1, shape))).filter((x): x is Ratio => x !== null && x.median > 0);
  return {
    blasReference: ref === undefined ? null : { threads: maxBlasThreads, shape: referenceShape, gflops: ref },
    blasPeak: peak,
    blasThreadScaling: scalings.length && maxBlasThreads > 1 ? { median: r3(median(scalings.map((x) => x.median))), fastest: r3(median(scalings.map((x) => x.fastest))) } : null,
  };
}

function machineInfo(loadStart: number): PrefillBenchResult['machine'] {
  return { ...describeHost(loadStart), availableParallelism: os.availableParallelism() };
}

export function assemble(o: Resolved, wasmRuns: WasmMeasurement[], blasRuns: BlasRun[], blasUnavailable: string | null, loadStart: number): PrefillBenchResult {
  const pools = new Pools(wasmRuns, blasRuns);
  const maxBlasThreads = Math.max(...o.blasThreadCounts);
  const blas = blasSummary(o, pools, maxBlasThreads);
  const one = pools.decode(1);
  const firstBlas = blasRuns[0];
  return {
    benchmark: 'prefill',
    createdAt: new Date().toISOString(),
    machine: machineInfo(loadStart),
    versions: {
      tfjsCore: packageVersion('@tensorflow/tfjs-core'),
      tfjsBackendWasm: packageVersion('@tensorflow/tfjs-backend-wasm'),
      python: firstBlas?.python ?? null,
      numpy: firstBlas?.numpy ?? null,
      blas: firstBlas?.blas.libraries ?? [],
    },
    config: {
      preset: o.preset,
      promptLengths: o.promptLengths,
      threadCounts: o.threadCounts,
      blasThreadCounts: o.blasThreadCounts,
      shapes: o.shapes,
      repeats: o.repeats,
      rounds: o.rounds,
      prefillChunkSize: wasmRuns[0]?.prefillChunkSize ?? DEFAULT_MODEL_OPTIONS.prefillChunkSize,
      flops: 'prefill: projections + MLP (2 per weight per token), causal attention (4·heads·headDim per attended key), output head for the last token; see bench/prefill-flops.ts',
    },
    wasmProcesses: wasmRuns.map((r) => ({ threadsRequested: r.threadsRequested, threads: r.threads, ...(r.fallback !== undefined ? { fallback: r.fallback } : {}) })),
    blasUnavailable,
    ...blas,
    matmul: matmulSection(o, pools, maxBlasThreads),
    prefill: prefillSection(o, pools, blas.blasReference?.gflops),
    decode: {
      contextTokens: Math.max(...o.promptLengths),
      rows: o.threadCounts.flatMap((threads) => {
        const t = pools.decode(threads);
        return t ? [{ threads, ...t, speedupVsOneThread: speedup(one, t) }] : [];
      }),
    },
  };
}

const shapeText = (s: MatmulShape): string => (s.m === s.k && s.k === s.n ? `${s.m}³` : `${s.m}×${s.k}×${s.n}`);
const ms = (x: number): string => (x < 1 ? x.toFixed(3) : x < 100 ? x.toFixed(1) : String(Math.round(x)));
const pct = (x: number): string => `${Math.round(x * 100)} %`;
/** "median (fastest)" */
const both = (r: Ratio, f: (x: number) => string): string => `${f(r.median)} (${f(r.fastest)})`;
const gf = (x: number): string => x.toFixed(1);
const times = (x: number): string => `×${x.toFixed(2)}`;

/** A plain-text summary for the terminal: every figure as "median (fastest sample)". */
export function formatPrefillBench(r: PrefillBenchResult): string {
  const lines: string[] = [];
  const blasLib = r.versions.blas.map((b) => `${b.internal_api ?? '?'} ${b.version ?? ''} (${b.threading_layer ?? '?'}, ${b.architecture ?? '?'})`).join(', ');
  lines.push(`machine: ${r.machine.cpu}, ${r.machine.cores} cores, Node ${r.machine.node}, load ${r.machine.loadAverage.start} → ${r.machine.loadAverage.end}`);
  lines.push(`tfjs-backend-wasm ${r.versions.tfjsBackendWasm}; BLAS: ${r.blasUnavailable ?? `numpy ${r.versions.numpy} on ${blasLib || 'unknown BLAS'}`}`);
  for (const p of r.wasmProcesses.filter((w) => w.fallback !== undefined)) lines.push(`wasm asked for ${p.threadsRequested} threads, ran ${p.threads}: ${p.fallback}`);
  if (r.blasThreadScaling !== null) {
    lines.push(`BLAS on ${Math.max(...r.config.blasThreadCounts)} threads vs 1: ${both(r.blasThreadScaling, times)} — how much of the extra cores this run could get`);
  }
  lines.push('', 'matmul: ms per product (median), GFLOP/s median (fastest), [vs BLAS at the most threads, same shape]');
  for (const m of r.matmul) {
    lines.push(`  ${shapeText(m.shape)}`);
    for (const row of m.rows) {
      lines.push(`    ${row.engine === 'tfjs-wasm' ? 'wasm' : 'blas'}×${row.threads}  ${ms(row.medianMs).padStart(7)} ms  ${both(row.gflops, gf)}${row.vsBlas ? `  [${both(row.vsBlas, pct)}]` : ''}`);
    }
  }
  const ref = r.blasReference;
  lines.push('', `prefill, ${r.config.preset} preset: ms, GFLOP/s, [vs BLAS reference${ref ? ` = numpy×${ref.threads} on ${shapeText(ref.shape)}, ${both(ref.gflops, gf)} GFLOP/s` : ': none'}], speedup vs 1 thread`);
  for (const p of r.prefill) {
    const cells = p.rows.map((row) => {
      const vs = row.vsBlas ? ` [${both(row.vsBlas, pct)}]` : '';
      const sp = row.threads !== 1 && row.speedupVsOneThread ? ` ${both(row.speedupVsOneThread, times)}` : '';
      return `${row.threads} thr ${Math.round(row.medianMs)} (${Math.round(row.minMs)}) ms ${both(row.gflops, gf)}${vs}${sp}`;
    });
    lines.push(`  ${String(p.tokens).padStart(5)} tokens  ${cells.join('   ')}`);
  }
  lines.push('', `decode step after ${r.decode.contextTokens} tokens, ms`);
  const decodeCells = r.decode.rows.map((row) => `${row.threads} thr ${row.medianMs.toFixed(1)} (${row.minMs.toFixed(1)})${row.threads !== 1 && row.speedupVsOneThread ? ` ${both(row.speedupVsOneThread, times)}` : ''}`);
  lines.push(`  ${decodeCells.join('   ')}`);
  const diffs = r.prefill.flatMap((p) => p.rows.map((row) => row.logitsMaxAbsDiffVsOneThread ?? 0));
  lines.push('', `logits, N threads vs 1: max |diff| ${Math.max(0, ...diffs)}`);
  return lines.join('\n');
}
