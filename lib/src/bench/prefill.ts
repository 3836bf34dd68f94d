/**
 * `npm run bench:prefill`: how fast the model prefills on the tfjs wasm backend with 1 and N threads,
 * against a BLAS reference (numpy) timed in the same run on the same cores.
 *
 * Each wasm thread count runs in its own process (the wasm backend picks its threads once per
 * process); the BLAS runs in a Python process. They take turns, round after round, in alternating
 * order, so that a change in the shared machine's load hits every engine alike; medians are reported.
 */
import { fork } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { DEFAULT_MODEL_OPTIONS, createModel, type LlamaModel } from '../model/transformer';
import { getPreset, type RunnablePresetName } from '../model/presets';
import { initBackend, resolveWasmThreads } from '../runtime/backend';
import { isFastMode } from '../runtime/env';
import { InvalidInputError } from '../runtime/errors';
import { progress } from '../runtime/progress';
import { packageVersion } from '../runtime/versions';
import { BlasUnavailable, defaultPython, runBlasReference, type BlasLibrary, type BlasRun } from './blas-reference';
import { matmulFlops, prefillFlops, prefillMatmulShapes, type MatmulShape } from './prefill-flops';
import { median } from './stats';

export interface PrefillBenchOptions {
  /** Model preset to prefill. @default 'default' */
  preset?: RunnablePresetName;
  /** Prompt lengths, in tokens. @default [500, 1000, 2000] ([128, 256] with KVLAB_FAST) */
  promptLengths?: number[];
  /** wasm thread counts to compare, each in its own process. @default [1, the 'auto' count] */
  threadCounts?: number[];
  /** BLAS thread counts. @default the wasm thread counts */
  blasThreadCounts?: number[];
  /** Matmul shapes timed on both engines. @default 512³, 1024³, 2048³ and the preset's per-chunk shapes (512³ and those with KVLAB_FAST) */
  shapes?: MatmulShape[];
  /** Timed repetitions of each measurement in one process, after a warm-up. @default 3 (2 with KVLAB_FAST) */
  repeats?: number;
  /** Every engine runs once per round, in turn. @default 2 (1 with KVLAB_FAST) */
  rounds?: number;
  /** Python with numpy. @default '/usr/bin/python3' if present, else 'python3' */
  python?: string;
  /** Where progress is drawn. @default 'auto' */
  progressTarget?: 'auto' | 'notebook' | 'terminal' | 'silent';
}

/** Work for one wasm process. */
export interface WasmJob {
  threads: number;
  preset: RunnablePresetName;
  promptLengths: number[];
  shapes: MatmulShape[];
  repeats: number;
}

/** What one wasm process measured. */
export interface WasmMeasurement {
  threadsRequested: number;
  /** Threads XNNPACK actually runs (the backend's own getThreadsCount). */
  threads: number;
  fallback?: string;
  prefillChunkSize: number;
  matmul: { shape: MatmulShape; samplesMs: number[] }[];
  prefill: { tokens: number; samplesMs: number[]; logits: Float32Array }[];
  /** One-token decode steps after a prefill of the longest prompt. */
  decode: { contextTokens: number; samplesMs: number[] };
}

export interface Timing {
  samplesMs: number[];
  medianMs: number;
  minMs: number;
  /** At the median time. */
  gflops: number;
}

export interface MatmulRow extends Timing {
  engine: 'tfjs-wasm' | 'numpy-blas';
  threads: number;
  /** gflops ÷ the BLAS at the most threads on the same shape. */
  vsBlas: number | null;
}

export interface PrefillRow extends Timing {
  threads: number;
  /** medianMs of 1 thread ÷ this medianMs. */
  speedupVsOneThread: number | null;
  /** gflops ÷ the BLAS reference (see `blasReference`). */
  vsBlas: number | null;
  /** gflops ÷ the BLAS's best GFLOP/s over all shapes timed, at the most threads. */
  vsBlasBest: number | null;
  /** max |logit difference| against the 1-thread run of the same prompt (0 = identical). */
  logitsMaxAbsDiffVsOneThread: number | null;
}

export interface DecodeRow extends Omit<Timing, 'gflops'> {
  threads: number;
  /** medianMs of 1 thread ÷ this medianMs (below 1: slower than 1 thread). */
  speedupVsOneThread: number | null;
}

export interface PrefillBenchResult {
  benchmark: 'prefill';
  createdAt: string;
  machine: {
    os: string;
    arch: string;
    cpu: string;
    cores: number;
    availableParallelism: number;
    totalMemGiB: number;
    node: string;
    /** 1-minute load average before and after: above the core count, other work competed for the CPU. */
    loadAverage: { start: number; end: number };
  };
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
  blasReference: { threads: number; shape: MatmulShape; gflops: number } | null;
  blasBest: { threads: number; shape: MatmulShape; gflops: number } | null;
  /**
   * Median over shapes of BLAS GFLOP/s at the most threads ÷ at 1 thread: how much of the extra
   * cores this run could get at all (near 1: other work held them, and wasm threads cannot gain either).
   */
  blasThreadScaling: number | null;
  matmul: { shape: MatmulShape; flops: number; rows: MatmulRow[] }[];
  prefill: { tokens: number; flops: number; rows: PrefillRow[] }[];
  /** Decode steps (one token) after the longest prompt: the other half of serving, where threads cost. */
  decode: { contextTokens: number; rows: DecodeRow[] };
}

/** Deterministic prompt ids (as test/model/measure-default-prefill.ts uses). */
function promptIds(tokens: number, vocab: number): number[] {
  return Array.from({ length: tokens }, (_, i) => (i * 7919 + 13) % vocab);
}

function timeMatmul(shape: MatmulShape, repeats: number): number[] {
  const a = tf.randomUniform([shape.m, shape.k], 0, 1, 'float32', 1);
  const b = tf.randomUniform([shape.k, shape.n], 0, 1, 'float32', 2);
  try {
    tf.matMul(a, b).dispose(); // warm-up: heap growth, operator creation
    const samples: number[] = [];
    for (let i = 0; i < repeats; i++) {
      const t = performance.now();
      const c = tf.matMul(a, b); // wasm kernels run synchronously: the product is done when this returns
      samples.push(performance.now() - t);
      c.dispose();
    }
    return samples;
  } finally {
    tf.dispose([a, b]);
  }
}

/** Measure in this process (called in a child per thread count by {@link runPrefillBenchmark}). */
export async function measureWasm(job: WasmJob): Promise<WasmMeasurement> {
  const report = await initBackend('wasm', { wasmThreads: job.threads });
  const matmul = job.shapes.map((shape) => ({ shape, samplesMs: timeMatmul(shape, job.repeats) }));
  const model = await createModel(job.preset, { seed: 0 });
  try {
    const vocab = model.config.vocabSize;
    const warm = await model.prefill(promptIds(Math.max(...job.promptLengths), vocab)); // first prefill grows the wasm heap
    warm.kv.dispose();
    const prefill: WasmMeasurement['prefill'] = [];
    for (const tokens of job.promptLengths) {
      const samplesMs: number[] = [];
      let logits = new Float32Array(0);
      for (let i = 0; i < job.repeats; i++) {
        const t = performance.now();
        const out = await model.prefill(promptIds(tokens, vocab));
        samplesMs.push(performance.now() - t);
        out.kv.dispose();
        logits = out.logits;
      }
      prefill.push({ tokens, samplesMs, logits });
    }
    const decode = await timeDecode(model, promptIds(Math.max(...job.promptLengths), vocab), DECODE_STEPS);
    const threads = report.wasmThreads ?? 1;
    return {
      threadsRequested: job.threads,
      threads,
      ...(report.wasmThreadsFallback !== undefined ? { fallback: report.wasmThreadsFallback } : {}),
      prefillChunkSize: DEFAULT_MODEL_OPTIONS.prefillChunkSize,
      matmul,
      prefill,
      decode,
    };
  } finally {
    model.dispose();
  }
}

/** Timed decode steps per process (after one untimed step). */
const DECODE_STEPS = 16;

async function timeDecode(model: LlamaModel, prompt: number[], steps: number): Promise<WasmMeasurement['decode']> {
  let { kv } = await model.prefill(prompt);
  const samplesMs: number[] = [];
  try {
    for (let i = 0; i <= steps; i++) {
      const t = performance.now();
      const next = await model.decodeStep(42, kv);
      if (i > 0) samplesMs.push(performance.now() - t);
      kv.dispose();
      kv = next.kv;
    }
  } finally {
    kv.dispose();
  }
  return { contextTokens: prompt.length, samplesMs };
}

function runWasmChild(job: WasmJob): Promise<WasmMeasurement> {
  const isTs = __filename.endsWith('.ts');
  const script = path.join(__dirname, `prefill-worker${isTs ? '.ts' : '.js'}`);
  return new Promise((resolve, reject) => {
    const child = fork(script, [], { execArgv: isTs ? ['--import', 'tsx'] : [], serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let settled = false;
    child.on('message', (msg: { type: 'done'; measurement: WasmMeasurement } | { type: 'error'; message: string }) => {
      settled = true;
      if (msg.type === 'done') resolve(msg.measurement);
      else reject(new Error(`wasm ${job.threads}-thread process failed: ${msg.message}`));
      child.disconnect();
    });
    child.on('exit', (code) => {
      if (!settled) reject(new Error(`wasm ${job.threads}-thread process exited with code ${code} before reporting`));
    });
    child.send(job);
  });
}

interface Resolved extends Required<Omit<PrefillBenchOptions, 'progressTarget'>> {
  progressTarget: NonNullable<PrefillBenchOptions['progressTarget']>;
}

function resolveOptions(options: PrefillBenchOptions): Resolved {
  const fast = isFastMode();
  const preset = options.preset ?? 'default';
  const config = getPreset(preset);
  const threadCounts = options.threadCounts ?? [...new Set([1, resolveWasmThreads({ wasmThreads: 'auto' })])];
  const squares = (fast ? [512] : [512, 1024, 2048]).map((n) => ({ m: n, k: n, n }));
  const r: Resolved = {
    preset,
    promptLengths: options.promptLengths ?? (fast ? [128, 256] : [500, 1000, 2000]),
    threadCounts,
    blasThreadCounts: options.blasThreadCounts ?? threadCounts,
    shapes: options.shapes ?? [...squares, ...prefillMatmulShapes(config, DEFAULT_MODEL_OPTIONS.prefillChunkSize)],
    repeats: options.repeats ?? (fast ? 2 : 3),
    rounds: options.rounds ?? (fast ? 1 : 2),
    python: options.python ?? defaultPython(),
    progressTarget: options.progressTarget ?? 'auto',
  };
  const positiveInts = (name: string, xs: readonly number[]): void => {
    if (xs.length === 0 || !xs.every((x) => Number.isSafeInteger(x) && x > 0)) throw new InvalidInputError(`${name} must be positive integers, got ${JSON.stringify(xs)}`);
  };
  positiveInts('promptLengths', r.promptLengths);
  positiveInts('threadCounts', r.threadCounts);
  positiveInts('blasThreadCounts', r.blasThreadCounts);
  positiveInts('repeats', [r.repeats]);
  positiveInts('rounds', [r.rounds]);
  positiveInts('shapes', r.shapes.flatMap((s) => [s.m, s.k, s.n]));
  const tooLong = r.promptLengths.find((n) => n > config.maxContext);
  if (tooLong !== undefined) throw new InvalidInputError(`prompt length ${tooLong} exceeds the ${preset} preset's maxContext of ${config.maxContext}`);
  return r;
}

/** Run the whole comparison. */
export async function runPrefillBenchmark(options: PrefillBenchOptions = {}): Promise<PrefillBenchResult> {
  const o = resolveOptions(options);
  const loadStart = os.loadavg()[0] ?? 0;
  const bar = progress(o.rounds * (o.threadCounts.length + o.blasThreadCounts.length), 'prefill bench', { target: o.progressTarget });
  const wasmRuns: WasmMeasurement[] = [];
  const blasRuns: BlasRun[] = [];
  let blasUnavailable: string | null = null;
  for (let round = 0; round < o.rounds; round++) {
    // Alternate the order between rounds so that no engine always runs first (or last) in a round.
    const order = <T>(xs: readonly T[]): T[] => (round % 2 === 0 ? [...xs] : [...xs].reverse());
    for (const threads of order(o.threadCounts)) {
      bar.tick(0, `round ${round + 1}/${o.rounds}: tfjs wasm, ${threads} thread(s)`);
      wasmRuns.push(await runWasmChild({ threads, preset: o.preset, promptLengths: o.promptLengths, shapes: o.shapes, repeats: o.repeats }));
      bar.tick();
    }
    for (const threads of order(o.blasThreadCounts)) {
      bar.tick(0, `round ${round + 1}/${o.rounds}: numpy BLAS, ${threads} thread(s)`);
      if (blasUnavailable === null) {
        try {
          blasRuns.push(await runBlasReference(o.shapes, threads, o.repeats, o.python));
        } catch (err) {
          if (!(err instanceof BlasUnavailable)) throw err;
          blasUnavailable = err.message;
        }
      }
      bar.tick();
    }
  }
  bar.done('prefill bench done');
  return assemble(o, wasmRuns, blasRuns, blasUnavailable, loadStart);
}

function timing(samplesMs: readonly number[], flops: number): Timing {
  const med = median(samplesMs);
  const r3 = (x: number): number => Math.round(x * 1000) / 1000;
  return { samplesMs: samplesMs.map(r3), medianMs: r3(med), minMs: r3(Math.min(...samplesMs)), gflops: r3(flops / (med / 1000) / 1e9) };
}

const sameShape = (a: MatmulShape, b: MatmulShape): boolean => a.m === b.m && a.k === b.k && a.n === b.n;
const ratio = (x: number, ref: number | undefined): number | null => (ref === undefined || !(ref > 0) ? null : Math.round((x / ref) * 1000) / 1000);

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs((a[i] as number) - (b[i] as number));
    if (!(d <= m)) m = d; // NaN stays NaN
  }
  return m;
}

function assemble(o: Resolved, wasmRuns: WasmMeasurement[], blasRuns: BlasRun[], blasUnavailable: string | null, loadStart: number): PrefillBenchResult {
  const config = getPreset(o.preset);
  const maxBlasThreads = Math.max(...o.blasThreadCounts);
  const blasSamples = (shape: MatmulShape, threads: number): number[] =>
    blasRuns.filter((r) => r.threads === threads).flatMap((r) => r.results.filter((x) => sameShape(x, shape)).flatMap((x) => x.samplesMs));
  const blasGflops = (shape: MatmulShape, threads = maxBlasThreads): number | undefined => {
    const s = blasSamples(shape, threads);
    return s.length ? timing(s, matmulFlops(shape)).gflops : undefined;
  };
  const matmul = o.shapes.map((shape) => {
    const flops = matmulFlops(shape);
    const ref = blasGflops(shape);
    const rows: MatmulRow[] = [];
    for (const threads of o.threadCounts) {
      const t = timing(wasmRuns.filter((r) => r.threadsRequested === threads).flatMap((r) => r.matmul.filter((x) => sameShape(x.shape, shape)).flatMap((x) => x.samplesMs)), flops);
      rows.push({ engine: 'tfjs-wasm', threads, ...t, vsBlas: ratio(t.gflops, ref) });
    }
    for (const threads of o.blasThreadCounts) {
      const s = blasSamples(shape, threads);
      if (s.length) rows.push({ engine: 'numpy-blas', threads, ...timing(s, flops), vsBlas: ratio(timing(s, flops).gflops, ref) });
    }
    return { shape, flops, rows };
  });
  const referenceShape = prefillMatmulShapes(config, DEFAULT_MODEL_OPTIONS.prefillChunkSize)[0] as MatmulShape;
  const refGflops = blasGflops(referenceShape);
  const best = o.shapes
    .map((shape) => ({ threads: maxBlasThreads, shape, gflops: blasGflops(shape) ?? 0 }))
    .reduce<{ threads: number; shape: MatmulShape; gflops: number } | null>((a, b) => (b.gflops > (a?.gflops ?? 0) ? b : a), null);
  const scalings = o.shapes.map((shape) => ratio(blasGflops(shape) ?? 0, blasGflops(shape, 1))).filter((x): x is number => x !== null && x > 0);
  const oneThread = wasmRuns.find((r) => r.threadsRequested === 1) ?? wasmRuns.find((r) => r.threads === 1);
  const prefill = o.promptLengths.map((tokens) => {
    const flops = prefillFlops(config, tokens);
    const baseline = oneThread?.prefill.find((p) => p.tokens === tokens);
    const runs = (threads: number): WasmMeasurement['prefill'] =>
      wasmRuns.filter((r) => r.threadsRequested === threads).flatMap((r) => r.prefill.filter((p) => p.tokens === tokens));
    const one = runs(1).length ? timing(runs(1).flatMap((p) => p.samplesMs), flops) : undefined;
    const rows = o.threadCounts.map((threads): PrefillRow => {
      const t = timing(runs(threads).flatMap((p) => p.samplesMs), flops);
      const diffs = baseline ? runs(threads).map((p) => maxAbsDiff(p.logits, baseline.logits)) : [];
      return {
        threads,
        ...t,
        speedupVsOneThread: one ? Math.round((one.medianMs / t.medianMs) * 1000) / 1000 : null,
        vsBlas: ratio(t.gflops, refGflops),
        vsBlasBest: ratio(t.gflops, best?.gflops),
        logitsMaxAbsDiffVsOneThread: diffs.length ? Math.max(...diffs) : null,
      };
    });
    return { tokens, flops, rows };
  });
  const decodeOne = wasmRuns.filter((r) => r.threadsRequested === 1).flatMap((r) => r.decode.samplesMs);
  const decodeRows = o.threadCounts.map((threads): DecodeRow => {
    const { gflops: _unused, ...t } = timing(wasmRuns.filter((r) => r.threadsRequested === threads).flatMap((r) => r.decode.samplesMs), 0);
    return { threads, ...t, speedupVsOneThread: decodeOne.length ? Math.round((median(decodeOne) / t.medianMs) * 1000) / 1000 : null };
  });
  const cpus = os.cpus();
  const firstBlas = blasRuns[0];
  return {
    benchmark: 'prefill',
    createdAt: new Date().toISOString(),
    machine: {
      os: `${os.type()} ${os.release()}`,
      arch: os.arch(),
      cpu: cpus[0]?.model.trim() ?? 'unknown',
      cores: cpus.length,
      availableParallelism: os.availableParallelism(),
      totalMemGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
      node: process.version,
      loadAverage: { start: Math.round(loadStart * 100) / 100, end: Math.round((os.loadavg()[0] ?? 0) * 100) / 100 },
    },
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
    blasReference: refGflops === undefined ? null : { threads: maxBlasThreads, shape: referenceShape, gflops: refGflops },
    blasBest: best && best.gflops > 0 ? best : null,
    blasThreadScaling: scalings.length && Math.max(...o.blasThreadCounts) > 1 ? Math.round(median(scalings) * 1000) / 1000 : null,
    matmul,
    prefill,
    decode: { contextTokens: Math.max(...o.promptLengths), rows: decodeRows },
  };
}

const shapeText = (s: MatmulShape): string => (s.m === s.k && s.k === s.n ? `${s.m}³` : `${s.m}×${s.k}×${s.n}`);
const pct = (x: number | null): string => (x === null ? '–' : `${Math.round(x * 100)} %`);

/** A plain-text summary for the terminal. */
export function formatPrefillBench(r: PrefillBenchResult): string {
  const lines: string[] = [];
  const blasLib = r.versions.blas.map((b) => `${b.internal_api ?? '?'} ${b.version ?? ''} (${b.threading_layer ?? '?'}, ${b.architecture ?? '?'})`).join(', ');
  lines.push(`machine: ${r.machine.cpu}, ${r.machine.cores} cores, Node ${r.machine.node}, load ${r.machine.loadAverage.start} → ${r.machine.loadAverage.end}`);
  lines.push(`tfjs-backend-wasm ${r.versions.tfjsBackendWasm}; BLAS: ${r.blasUnavailable ?? `numpy ${r.versions.numpy} on ${blasLib || 'unknown BLAS'}`}`);
  if (r.blasThreadScaling !== null) lines.push(`BLAS on ${Math.max(...r.config.blasThreadCounts)} threads vs 1: ×${r.blasThreadScaling.toFixed(2)} (median over shapes: how much of the extra cores this run could get)`);
  for (const p of r.wasmProcesses.filter((w) => w.fallback !== undefined)) lines.push(`wasm asked for ${p.threadsRequested} threads, ran ${p.threads}: ${p.fallback}`);
  lines.push('', 'matmul (median GFLOP/s; vs BLAS = against numpy at the most threads, same shape)');
  for (const m of r.matmul) {
    const cells = m.rows.map((row) => `${row.engine === 'tfjs-wasm' ? 'wasm' : 'blas'}×${row.threads} ${row.gflops.toFixed(1)} (${pct(row.vsBlas)})`);
    lines.push(`  ${shapeText(m.shape).padEnd(14)} ${cells.join('  ')}`);
  }
  const ref = r.blasReference;
  lines.push('', `prefill, ${r.config.preset} preset (median; vs BLAS = against ${ref ? `numpy×${ref.threads} on ${shapeText(ref.shape)}: ${ref.gflops.toFixed(1)} GFLOP/s` : 'no BLAS'})`);
  for (const p of r.prefill) {
    const cells = p.rows.map(
      (row) => `${row.threads} thr ${Math.round(row.medianMs)} ms ${row.gflops.toFixed(1)} GFLOP/s (${pct(row.vsBlas)}${row.speedupVsOneThread !== null && row.threads !== 1 ? `, ×${row.speedupVsOneThread.toFixed(2)}` : ''})`,
    );
    lines.push(`  ${String(p.tokens).padStart(5)} tokens  ${cells.join('   ')}`);
  }
  lines.push('', `decode step after ${r.decode.contextTokens} tokens (median)`);
  lines.push(`  ${r.decode.rows.map((row) => `${row.threads} thr ${row.medianMs.toFixed(1)} ms${row.threads !== 1 && row.speedupVsOneThread !== null ? ` (×${row.speedupVsOneThread.toFixed(2)})` : ''}`).join('   ')}`);
  const diffs = r.prefill.flatMap((p) => p.rows.map((row) => row.logitsMaxAbsDiffVsOneThread ?? 0));
  lines.push('', `logits, N threads vs 1: max |diff| ${Math.max(0, ...diffs)}`);
  return lines.join('\n');
}
