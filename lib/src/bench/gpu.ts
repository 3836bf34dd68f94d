/**
 * `npm run bench:gpu`: the model on a GPU (the webgpu backend) against the CPU (wasm) in the same run.
 *
 * Three questions, each answered by a measurement of our own code:
 * 1. How fast does each preset prefill and decode on the GPU, in ms and GFLOP/s, next to wasm?
 *    (The same seeded weights on both; their logits must agree.)
 * 2. What does the Redis prefix cache do to time-to-first-token once prefill is this fast?
 *    A long shared document, then requests that add a short question: served without a cache, and
 *    with the document's KV loaded from Redis.
 * 3. Where is the break-even: the load bandwidth above which loading a prefix's KV beats computing
 *    it again on this GPU (KV bytes per token × prefill tokens per second), next to the speed the
 *    store actually loaded at in (2).
 */
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import { serdeBlockCodec } from '../engine/codec';
import { NoCacheConnector, PrefixCacheConnector } from '../engine/connector';
import { ServingEngine, type RequestRecord } from '../engine/engine';
import { kvBytesPerToken, parameterCount } from '../model/config';
import { getPreset, type RunnablePresetName } from '../model/presets';
import { DEFAULT_MODEL_OPTIONS, LlamaModel } from '../model/transformer';
import { initBackend, type BackendName, type GpuAdapterReport } from '../runtime/backend';
import { InvalidInputError } from '../runtime/errors';
import { progress, type ProgressOptions } from '../runtime/progress';
import { SeededRng } from '../runtime/rng';
import { createStore } from '../store/factory';
import { breakEvenGBps } from './cost';
import { prefillFlops } from './prefill-flops';
import { quantile } from './stats';

export interface GpuBenchOptions {
  /** The backend under test. @default 'webgpu' */
  backend?: BackendName;
  /** The baseline measured in the same run. @default 'wasm' */
  baseline?: BackendName;
  /** Presets run on the backend under test. @default ['tiny', 'default', 'gpu-1b'] */
  presets?: RunnablePresetName[];
  /** Presets also run on the baseline (gpu-1b does not fit the wasm heap). @default ['tiny', 'default'] */
  baselinePresets?: RunnablePresetName[];
  /** Prompt lengths for prefill, in tokens. @default [128, 512, 2000] */
  promptLengths?: number[];
  /** Timed prefills per length, after one untimed warm-up. @default 3 */
  repeats?: number;
  /** Timed one-token decode steps after the longest prefill. @default 8 */
  decodeSteps?: number;
  /** Redis for the TTFT comparison; without one, that part is left out and the result says so. */
  redisUrl?: string;
  /** Tokens of the shared document in the TTFT comparison. @default 2000 */
  sharedTokens?: number;
  /** Tokens each request adds after the document. @default 32 */
  questionTokens?: number;
  /** Requests served each way (the first one with the cache stores the document). @default 4 */
  requests?: number;
  /** Where progress is drawn. @default 'auto' */
  progressTarget?: NonNullable<ProgressOptions['target']>;
}

export const DEFAULT_GPU_BENCH_OPTIONS = Object.freeze({
  backend: 'webgpu' as BackendName,
  baseline: 'wasm' as BackendName,
  presets: ['tiny', 'default', 'gpu-1b'] as readonly RunnablePresetName[],
  baselinePresets: ['tiny', 'default'] as readonly RunnablePresetName[],
  promptLengths: [128, 512, 2000] as readonly number[],
  repeats: 3,
  decodeSteps: 8,
  sharedTokens: 2000,
  questionTokens: 32,
  requests: 4,
  progressTarget: 'auto' as NonNullable<ProgressOptions['target']>,
});

type Resolved = Required<Omit<GpuBenchOptions, 'redisUrl'>>;

/** One preset on one backend. */
export interface GpuBenchRun {
  preset: RunnablePresetName;
  backend: BackendName;
  parameters: number;
  /** Seeded init, fingerprint and upload of the weights. */
  createMs: number;
  prefillChunkSize: number;
  prefill: { tokens: number; samplesMs: number[]; medianMs: number; gflops: number; tokensPerS: number }[];
  decode: { contextTokens: number; samplesMs: number[]; medianMs: number };
}

/** Time to first token for one preset on the backend under test, without and with the Redis cache. */
export interface GpuTtft {
  preset: RunnablePresetName;
  backend: BackendName;
  sharedTokens: number;
  questionTokens: number;
  withoutCache: Pick<RequestRecord, 'ttftMs' | 'prefillMs'>[];
  /** After the first request stored the document: each loads it and prefills only the question. */
  withCache: Pick<RequestRecord, 'ttftMs' | 'lookupMs' | 'loadMs' | 'prefillMs' | 'reusedTokens' | 'bytesLoaded'>[];
  medianWithoutMs: number;
  medianWithMs: number;
  /** Bytes loaded ÷ load time, from the connector's own timing (fetch, check, decode, upload). */
  loadGBps: number;
  /** Both ways produced the same greedy tokens for every request. */
  sameOutput: boolean;
}

/** The load bandwidth at which loading a prefix's KV (stored as fp16) costs what computing it does. */
export interface GpuBreakEven {
  preset: RunnablePresetName;
  backend: BackendName;
  tokens: number;
  kvBytesPerToken: number;
  prefillTokensPerS: number;
  breakEvenGBps: number;
}

export interface GpuBenchResult {
  kind: 'gpu-bench';
  version: 1;
  date: string;
  durationS: number;
  machine: { cpus: number; cpuModel: string; node: string; gpu?: string; driver?: string };
  backend: BackendName;
  baseline: BackendName;
  adapter?: GpuAdapterReport;
  runs: GpuBenchRun[];
  /** Largest |Δlogit| between the backend under test and the baseline, same weights and tokens. */
  agreement: { preset: RunnablePresetName; tokens: number; maxAbsDiff: number }[];
  ttft: GpuTtft[];
  /** Why the TTFT part is missing, when it is. */
  ttftSkipped?: string;
  breakEven: GpuBreakEven[];
}

const median = (xs: number[]): number => quantile(xs, 0.5);
const round = (x: number, digits = 2): number => Number(x.toFixed(digits));

/** `nvidia-smi`'s name and driver for GPU 0, if the tool is there. */
function nvidiaSmi(): { gpu?: string; driver?: string } {
  try {
    const out = execFileSync('nvidia-smi', ['--query-gpu=name,driver_version', '--format=csv,noheader'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] });
    const [gpu, driver] = (out.split('\n')[0] ?? '').split(',').map((s) => s.trim());
    return { ...(gpu ? { gpu } : {}), ...(driver ? { driver } : {}) };
  } catch {
    return {};
  }
}

function checkOptions(o: Resolved): void {
  const positive = (path: string, n: number): void => {
    if (!Number.isSafeInteger(n) || n < 1) throw InvalidInputError.at(path, 'a positive integer', n);
  };
  o.promptLengths.forEach((n, i) => positive(`promptLengths[${i}]`, n));
  for (const k of ['repeats', 'decodeSteps', 'sharedTokens', 'questionTokens', 'requests'] as const) positive(k, o[k]);
  if (o.requests < 2) throw InvalidInputError.at('requests', 'at least 2 (the first one stores the document)', o.requests);
  for (const p of [...o.presets, ...o.baselinePresets]) getPreset(p);
}

/** Seeded token ids inside the vocabulary (the same on every backend and run). */
function tokens(count: number, vocabSize: number, seed: number): number[] {
  const rng = new SeededRng(seed);
  return Array.from({ length: count }, () => rng.int(vocabSize));
}

async function timePrefill(model: LlamaModel, ids: number[]): Promise<{ ms: number; logits: Float32Array }> {
  const t0 = performance.now();
  const { logits, kv } = await model.prefill(ids); // logits are read back: the GPU has finished
  const ms = performance.now() - t0;
  kv.dispose();
  return { ms, logits };
}

async function measureRun(model: LlamaModel, preset: RunnablePresetName, backend: BackendName, createMs: number, o: Resolved, tick: () => void): Promise<{ run: GpuBenchRun; logits: Map<number, Float32Array> }> {
  const logits = new Map<number, Float32Array>();
  const prefill: GpuBenchRun['prefill'] = [];
  for (const n of o.promptLengths) {
    const ids = tokens(n, model.config.vocabSize, n);
    logits.set(n, (await timePrefill(model, ids)).logits); // warm-up: shaders compiled, buffers grown
    const samplesMs: number[] = [];
    for (let r = 0; r < o.repeats; r++) samplesMs.push((await timePrefill(model, ids)).ms);
    const medianMs = median(samplesMs);
    prefill.push({ tokens: n, samplesMs: samplesMs.map((x) => round(x)), medianMs: round(medianMs), gflops: round(prefillFlops(model.config, n) / (medianMs * 1e6), 1), tokensPerS: Math.round((n * 1000) / medianMs) });
    tick();
  }
  const context = Math.max(...o.promptLengths);
  let { kv } = await model.prefill(tokens(context, model.config.vocabSize, context));
  const samplesMs: number[] = [];
  for (let s = 0; s <= o.decodeSteps; s++) {
    const t0 = performance.now();
    const next = await model.decodeStep((s * 7919) % model.config.vocabSize, kv);
    if (s > 0) samplesMs.push(performance.now() - t0); // the first step compiles its shaders
    kv.dispose();
    kv = next.kv;
  }
  kv.dispose();
  tick();
  return {
    run: { preset, backend, parameters: parameterCount(model.config), createMs: round(createMs, 0), prefillChunkSize: DEFAULT_MODEL_OPTIONS.prefillChunkSize, prefill, decode: { contextTokens: context, samplesMs: samplesMs.map((x) => round(x)), medianMs: round(median(samplesMs)) } },
    logits,
  };
}

async function measureTtft(model: LlamaModel, preset: RunnablePresetName, backend: BackendName, redisUrl: string, o: Resolved): Promise<GpuTtft> {
  const vocab = model.config.vocabSize;
  const document = tokens(o.sharedTokens, vocab, 0xd0c);
  const requests = Array.from({ length: o.requests }, (_, i) => ({ id: `q${i}`, tokens: [...document, ...tokens(o.questionTokens, vocab, 0x9000 + i)], maxNewTokens: 2 }));
  const store = await createStore(redisUrl, { namespace: `bench-gpu-${preset}-${Date.now().toString(36)}` });
  try {
    const plain = new ServingEngine(model, new NoCacheConnector());
    await plain.serve(requests[0]!); // warm-up at this length
    const without: RequestRecord[] = [];
    for (const r of requests) without.push(await plain.serve(r));
    const cached = new ServingEngine(model, new PrefixCacheConnector(model, store, serdeBlockCodec()));
    const all: RequestRecord[] = [];
    for (const r of requests) all.push(await cached.serve(r));
    const withCache = all.slice(1); // the first request found nothing and stored the document
    const loadMs = withCache.reduce((a, r) => a + r.loadMs, 0);
    const bytes = withCache.reduce((a, r) => a + r.bytesLoaded, 0);
    return {
      preset,
      backend,
      sharedTokens: o.sharedTokens,
      questionTokens: o.questionTokens,
      withoutCache: without.map((r) => ({ ttftMs: round(r.ttftMs), prefillMs: round(r.prefillMs) })),
      withCache: withCache.map((r) => ({ ttftMs: round(r.ttftMs), lookupMs: round(r.lookupMs), loadMs: round(r.loadMs), prefillMs: round(r.prefillMs), reusedTokens: r.reusedTokens, bytesLoaded: r.bytesLoaded })),
      medianWithoutMs: round(median(without.map((r) => r.ttftMs))),
      medianWithMs: round(median(withCache.map((r) => r.ttftMs))),
      loadGBps: loadMs > 0 ? round(bytes / (loadMs * 1e6), 3) : 0,
      sameOutput: requests.every((_, i) => without[i]!.output.join() === all[i]!.output.join()),
    };
  } finally {
    await store.close();
  }
}

/** Run the GPU benchmark: every preset on the backend under test, the smaller ones on the baseline too. */
export async function runGpuBench(options: GpuBenchOptions = {}): Promise<GpuBenchResult> {
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as GpuBenchOptions;
  const o = { ...DEFAULT_GPU_BENCH_OPTIONS, ...given, presets: [...(options.presets ?? DEFAULT_GPU_BENCH_OPTIONS.presets)], baselinePresets: [...(options.baselinePresets ?? DEFAULT_GPU_BENCH_OPTIONS.baselinePresets)], promptLengths: [...(options.promptLengths ?? DEFAULT_GPU_BENCH_OPTIONS.promptLengths)] };
  checkOptions(o);
  const t0 = performance.now();
  const report = await initBackend(o.backend);
  const runs: GpuBenchRun[] = [];
  const agreement: GpuBenchResult['agreement'] = [];
  const ttft: GpuTtft[] = [];
  const steps = (o.presets.length + o.baselinePresets.length) * (o.promptLengths.length + 1) + (o.redisUrl ? o.presets.length : 0);
  const bar = progress(steps, `bench:gpu on ${o.backend}`, { target: o.progressTarget });
  try {
    for (const preset of o.presets) {
      await initBackend(o.backend);
      const c0 = performance.now();
      const model = await LlamaModel.create(preset, { seed: 0 });
      const createMs = performance.now() - c0;
      try {
        const gpu = await measureRun(model, preset, o.backend, createMs, o, () => bar.tick());
        runs.push(gpu.run);
        if (o.redisUrl) {
          ttft.push(await measureTtft(model, preset, o.backend, o.redisUrl, o));
          bar.tick();
        }
        if (o.baselinePresets.includes(preset)) {
          const weights = model.getWeights();
          await initBackend(o.baseline);
          const b0 = performance.now();
          const base = await LlamaModel.fromWeights(model.config, weights);
          const baseMs = performance.now() - b0;
          try {
            const cpu = await measureRun(base, preset, o.baseline, baseMs, o, () => bar.tick());
            runs.push(cpu.run);
            for (const n of o.promptLengths) {
              const a = gpu.logits.get(n)!;
              const b = cpu.logits.get(n)!;
              let worst = 0;
              for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
              agreement.push({ preset, tokens: n, maxAbsDiff: Number(worst.toPrecision(3)) });
            }
          } finally {
            base.dispose();
          }
        }
      } finally {
        model.dispose();
      }
    }
  } finally {
    bar.done();
  }
  const breakEven: GpuBreakEven[] = runs.flatMap((r) => {
    const perToken = kvBytesPerToken(getPreset(r.preset), 2);
    return r.prefill.map((p) => ({ preset: r.preset, backend: r.backend, tokens: p.tokens, kvBytesPerToken: perToken, prefillTokensPerS: p.tokensPerS, breakEvenGBps: round(breakEvenGBps(perToken, p.tokensPerS), 4) }));
  });
  const cpus = os.cpus();
  return {
    kind: 'gpu-bench',
    version: 1,
    date: new Date().toISOString(),
    durationS: round((performance.now() - t0) / 1000, 1),
    machine: { cpus: cpus.length, cpuModel: cpus[0]?.model ?? 'unknown', node: process.version, ...nvidiaSmi() },
    backend: o.backend,
    baseline: o.baseline,
    ...(report.gpu ? { adapter: report.gpu } : {}),
    runs,
    agreement,
    ttft,
    ...(o.redisUrl ? {} : { ttftSkipped: 'no Redis given (--redis-url or REDIS_URL)' }),
    breakEven,
  };
}
