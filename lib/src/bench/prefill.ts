/**
 * `npm run bench:prefill`: how fast the model prefills on the tfjs wasm backend with 1 and N threads,
 * against a BLAS reference (numpy) timed in the same run on the same cores.
 *
 * Each wasm thread count runs in its own process (the wasm backend picks its threads once per
 * process); the BLAS runs in a Python process. They take turns, round after round, in alternating
 * order, so that a change in the shared machine's load hits every engine alike. Medians and fastest
 * samples are both reported (see `Timing` in prefill-report.ts).
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
import { BlasUnavailable, defaultPython, runBlasReference, type BlasRun } from './blas-reference';
import { modelMatmulShapes, productsPerSample, type MatmulShape } from './prefill-flops';
import { assemble, type PrefillBenchResult } from './prefill-report';

export type { PrefillBenchResult } from './prefill-report';
export { formatPrefillBench } from './prefill-report';

export interface PrefillBenchOptions {
  /** Model preset to prefill. @default 'default' */
  preset?: RunnablePresetName;
  /** Prompt lengths, in tokens. @default [500, 1000, 2000] ([128, 256] with KVLAB_FAST) */
  promptLengths?: number[];
  /** wasm thread counts to compare, each in its own process. @default [1, the 'auto' count] */
  threadCounts?: number[];
  /** BLAS thread counts. @default the wasm thread counts */
  blasThreadCounts?: number[];
  /** Matmul shapes timed on both engines. @default 512³, 1024³, 2048³ and the preset's own shapes, {@link modelMatmulShapes} (512³ and those with KVLAB_FAST) */
  shapes?: MatmulShape[];
  /** Timed repetitions of each measurement in one process, after a warm-up. @default 2 */
  repeats?: number;
  /** Every engine runs once per round, in turn (more rounds: finer interleaving against load changes). @default 3 (1 with KVLAB_FAST) */
  rounds?: number;
  /** Python with numpy. @default '/usr/bin/python3' if present, else 'python3' */
  python?: string;
  /** Where progress is drawn. @default 'auto' */
  progressTarget?: 'auto' | 'notebook' | 'terminal' | 'silent';
}

/** Defaults of {@link PrefillBenchOptions}; the full and KVLAB_FAST variants side by side. */
export const DEFAULT_PREFILL_BENCH_OPTIONS = {
  preset: 'default' as RunnablePresetName,
  fullPromptLengths: [500, 1000, 2000],
  fastPromptLengths: [128, 256],
  fullSquares: [512, 1024, 2048],
  fastSquares: [512],
  repeats: 2,
  fullRounds: 3,
  fastRounds: 1,
  progressTarget: 'auto',
} as const;

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

/** Deterministic prompt ids (as test/model/measure-default-prefill.ts uses). */
function promptIds(tokens: number, vocab: number): number[] {
  return Array.from({ length: tokens }, (_, i) => (i * 7919 + 13) % vocab);
}

/** ms per product, one sample per repeat (each the mean over {@link productsPerSample} products). */
function timeMatmul(shape: MatmulShape, repeats: number): number[] {
  const a = tf.randomUniform([shape.m, shape.k], 0, 1, 'float32', 1);
  const b = tf.randomUniform([shape.k, shape.n], 0, 1, 'float32', 2);
  const perSample = productsPerSample(shape);
  try {
    tf.matMul(a, b).dispose(); // warm-up: heap growth, operator creation
    const samples: number[] = [];
    for (let i = 0; i < repeats; i++) {
      const t = performance.now();
      // wasm kernels run synchronously: the product is done when matMul returns
      for (let j = 0; j < perSample; j++) tf.matMul(a, b).dispose();
      samples.push((performance.now() - t) / perSample);
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
      let logits: Float32Array = new Float32Array(0);
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

export interface Resolved extends Required<Omit<PrefillBenchOptions, 'progressTarget'>> {
  progressTarget: NonNullable<PrefillBenchOptions['progressTarget']>;
}

function resolveOptions(options: PrefillBenchOptions): Resolved {
  const fast = isFastMode();
  const D = DEFAULT_PREFILL_BENCH_OPTIONS;
  const preset = options.preset ?? D.preset;
  const config = getPreset(preset);
  const threadCounts = options.threadCounts ?? [...new Set([1, resolveWasmThreads({ wasmThreads: 'auto' })])];
  const squares = (fast ? D.fastSquares : D.fullSquares).map((n) => ({ m: n, k: n, n }));
  const r: Resolved = {
    preset,
    promptLengths: options.promptLengths ?? [...(fast ? D.fastPromptLengths : D.fullPromptLengths)],
    threadCounts,
    blasThreadCounts: options.blasThreadCounts ?? threadCounts,
    shapes: options.shapes ?? [...squares, ...modelMatmulShapes(config, DEFAULT_MODEL_OPTIONS.prefillChunkSize)],
    repeats: options.repeats ?? D.repeats,
    rounds: options.rounds ?? (fast ? D.fastRounds : D.fullRounds),
    python: options.python ?? defaultPython(),
    progressTarget: options.progressTarget ?? D.progressTarget,
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
