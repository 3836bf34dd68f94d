import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { BackendUnavailableError, ConfigError } from './errors';
import { withWasmThreads } from './wasm-threads';

/** The TensorFlow.js backends kvcache-lab knows how to pick, in order of preference. */
export type BackendName = 'tensorflow-gpu' | 'webgpu' | 'tensorflow' | 'wasm' | 'cpu';

/**
 * The order in which backends are tried when none is requested: native GPU (tfjs-node-gpu), WebGPU
 * (Dawn, through the `webgpu` package), native CPU, WebAssembly, plain JS. The first two need
 * optional packages and a GPU; without them they are skipped at the cost of a failed `require`.
 */
export const BACKEND_PREFERENCE: readonly BackendName[] = ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu'];

/** The GPU a WebGPU backend runs on, as its adapter describes itself (fields may be empty strings). */
export interface GpuAdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
}

/** Which TensorFlow.js backend runs the model, why it was chosen, and which were tried before it. */
export interface BackendReport {
  /** The backend tfjs now runs on. */
  backend: BackendName;
  /** Why this one: `KVLAB_BACKEND` or automatic choice. */
  reason: 'env' | 'auto' | 'explicit';
  /** Backends that were tried first and could not load, with the reason. */
  skipped: { backend: BackendName; why: string }[];
  tfjsVersion: string;
  /** On the wasm backend: threads in its XNNPACK pool (1 = the single-threaded SIMD build). */
  wasmThreads?: number;
  /** On the wasm backend: why it runs on fewer threads than asked for (the threaded build did not start). */
  wasmThreadsFallback?: string;
  /** On the webgpu backend: the adapter Dawn chose. */
  gpu?: GpuAdapterReport;
}

export interface BackendOptions {
  /**
   * Threads for the wasm backend's matmuls: 1 loads the single-threaded SIMD build; more loads the
   * threaded SIMD build (in Node through `wasm-threads.ts`), which falls back to 1 thread if it
   * cannot start; `'auto'` is one thread per CPU the process may use, at most 8. Results are the same
   * either way (XNNPACK splits a product by output tiles: logits came out bit-identical).
   * Threads pay only for long prefills, and only on idle cores: every threaded matmul wakes the other
   * threads and waits for them, which a 512-token chunk amortises and a decode step (dozens of
   * one-row products) does not, and a thread that another process holds off its core stalls the rest.
   * `npm run bench:prefill` measures both sides (results/prefill.json: prefill, decode steps and the
   * decode-shaped 1×hidden×hidden product); hence 1 by default, more for processes that mostly prefill.
   * `KVLAB_WASM_THREADS` sets it when this option is absent. Fixed when the wasm backend first
   * initialises in a process.
   * @default 1
   */
  wasmThreads?: number | 'auto';
  /**
   * How long the threaded wasm build may take to start before the single-threaded one is used instead.
   * @default 30000
   */
  wasmThreadsTimeoutMs?: number;
}

export const DEFAULT_BACKEND_OPTIONS: Readonly<Required<BackendOptions>> = Object.freeze({ wasmThreads: 1, wasmThreadsTimeoutMs: 30_000 });

/** The threaded wasm build starts 8 pthread workers; XNNPACK uses at most that many. */
export const MAX_WASM_THREADS = 8;

let current: BackendReport | undefined;
let pending: Promise<BackendReport> | undefined;

// Optional native packages: loaded by name at run time so that their absence costs nothing.
const NATIVE_PACKAGES: Partial<Record<BackendName, string>> = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
};

/** The optional packages behind the webgpu backend: Dawn's Node binding and tfjs's WebGPU kernels. */
export const WEBGPU_PACKAGES = Object.freeze({ dawn: 'webgpu', backend: '@tensorflow/tfjs-backend-webgpu' });

type BackendExtras = Pick<BackendReport, 'wasmThreads' | 'wasmThreadsFallback' | 'gpu'>;

async function tryBackend(name: BackendName, options: BackendOptions): Promise<BackendExtras> {
  const pkg = NATIVE_PACKAGES[name];
  if (pkg !== undefined) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require(pkg);
    } catch (err) {
      if (isModuleMissing(err, pkg)) throw new Error(`not installed: npm install ${pkg}`, { cause: err });
      throw err;
    }
    // tfjs-node registers the backend under the name "tensorflow" in both variants.
    if (!(await tf.setBackend('tensorflow'))) throw new Error(`${pkg} loaded but did not register a backend`);
    return {};
  }
  if (name === 'wasm') return loadWasm(options);
  if (name === 'webgpu') return loadWebGpu();
  await setBackend(name);
  return {};
}

async function setBackend(name: string): Promise<void> {
  if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend('${name}') returned false`);
  await tf.ready();
}

type WasmModule = typeof import('@tensorflow/tfjs-backend-wasm');

/** The part of the WebGPU API used here (the `webgpu` package and browsers provide it). */
interface GpuLike {
  requestAdapter(options?: { powerPreference?: string }): Promise<{ info?: Partial<GpuAdapterReport> } | null>;
}
interface DawnModule {
  create(flags: string[]): GpuLike;
  globals: Record<string, unknown>;
}

/** `navigator.gpu` where the runtime has one (browsers, Deno, a Node process that installed it). */
function navigatorGpu(): GpuLike | undefined {
  const nav = (globalThis as { navigator?: { gpu?: GpuLike } }).navigator;
  return nav?.gpu ?? undefined;
}

/**
 * Give Node a `navigator.gpu` from Dawn (the `webgpu` package), once per process. The package is ESM
 * and optional, so it is imported by a name TypeScript does not resolve.
 */
async function installDawn(): Promise<GpuLike> {
  const existing = navigatorGpu();
  if (existing) return existing;
  const specifier = WEBGPU_PACKAGES.dawn;
  let dawn: DawnModule;
  try {
    dawn = (await import(specifier)) as DawnModule;
  } catch (err) {
    if (isModuleMissing(err, specifier)) throw new Error(`not installed: npm install ${WEBGPU_PACKAGES.dawn} ${WEBGPU_PACKAGES.backend}`, { cause: err });
    throw err;
  }
  // tfjs-backend-webgpu looks for the WebGPU globals (GPUBufferUsage, …) and navigator.gpu.
  Object.assign(globalThis, dawn.globals);
  const gpu = dawn.create([]);
  const g = globalThis as { navigator?: object };
  if (g.navigator === undefined) g.navigator = {}; // Node 20 has no navigator; 21+ has one without gpu
  Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  return gpu;
}

let gpuAdapter: GpuAdapterReport | undefined;

async function loadWebGpu(): Promise<BackendExtras> {
  if (tf.findBackendFactory('webgpu') === null) {
    const gpu = await installDawn();
    // Ask first: tfjs's own factory assumes an adapter exists and fails obscurely without one.
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (adapter === null) {
      throw new Error('WebGPU found no adapter: no GPU driver Dawn can use (Vulkan on Linux, Metal on macOS, D3D12 on Windows)');
    }
    const info = adapter.info ?? {};
    gpuAdapter = { vendor: info.vendor ?? '', architecture: info.architecture ?? '', device: info.device ?? '', description: info.description ?? '' };
    try {
      // A literal name, so that bundlers include it; it registers 'webgpu' only when navigator.gpu exists.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require('@tensorflow/tfjs-backend-webgpu');
    } catch (err) {
      if (isModuleMissing(err, WEBGPU_PACKAGES.backend)) throw new Error(`not installed: npm install ${WEBGPU_PACKAGES.backend}@${tf.version_core}`, { cause: err });
      throw err;
    }
    if (tf.findBackendFactory('webgpu') === null) throw new Error(`${WEBGPU_PACKAGES.backend} loaded but did not register a backend`);
  }
  await setBackend('webgpu');
  return gpuAdapter === undefined ? {} : { gpu: gpuAdapter };
}

async function loadWasm(options: BackendOptions): Promise<BackendExtras> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const wasm = require('@tensorflow/tfjs-backend-wasm') as WasmModule;
  // Initialised before (threads are chosen once per process): only switch to it.
  if (tf.engine().registry.wasm !== undefined) {
    await setBackend('wasm');
    return { wasmThreads: wasm.getThreadsCount() };
  }
  const threads = resolveWasmThreads(options);
  let fallback: string | undefined;
  if (threads > 1) {
    try {
      await withWasmThreads(threads, options.wasmThreadsTimeoutMs ?? DEFAULT_BACKEND_OPTIONS.wasmThreadsTimeoutMs, () => {
        tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
        wasm.setThreadsCount(threads);
        return setBackend('wasm');
      });
      return { wasmThreads: wasm.getThreadsCount() };
    } catch (err) {
      fallback = firstLine((err as Error).message);
    }
  }
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  wasm.setThreadsCount(1);
  await setBackend('wasm');
  return fallback === undefined ? { wasmThreads: wasm.getThreadsCount() } : { wasmThreads: wasm.getThreadsCount(), wasmThreadsFallback: fallback };
}

/** The wasm thread count from the option, else `KVLAB_WASM_THREADS`, else the default (1). */
export function resolveWasmThreads(options: BackendOptions = {}): number {
  const fromEnv = process.env.KVLAB_WASM_THREADS;
  const raw = options.wasmThreads ?? (fromEnv === undefined || fromEnv.trim() === '' ? DEFAULT_BACKEND_OPTIONS.wasmThreads : fromEnv.trim().toLowerCase());
  const source = options.wasmThreads !== undefined ? 'wasmThreads' : 'KVLAB_WASM_THREADS';
  if (raw === 'auto') return Math.max(1, Math.min(MAX_WASM_THREADS, os.availableParallelism()));
  const n = typeof raw === 'number' ? raw : /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_WASM_THREADS) {
    throw new ConfigError(`${source}=${JSON.stringify(raw)} must be 'auto' or an integer from 1 to ${MAX_WASM_THREADS}`);
  }
  return n;
}

function parseEnv(value: string | undefined): BackendName | undefined {
  if (value === undefined || value === '') return undefined;
  const v = value.trim().toLowerCase();
  const aliases: Record<string, BackendName> = { gpu: 'tensorflow-gpu', node: 'tensorflow', 'tfjs-node': 'tensorflow', 'tfjs-node-gpu': 'tensorflow-gpu', dawn: 'webgpu' };
  const name = (aliases[v] ?? v) as BackendName;
  if (!BACKEND_PREFERENCE.includes(name)) {
    throw new ConfigError(`KVLAB_BACKEND=${JSON.stringify(value)} is not one of ${BACKEND_PREFERENCE.join(', ')}`);
  }
  return name;
}

/**
 * Choose and initialise the TensorFlow.js backend once per process:
 * `KVLAB_BACKEND` (or `preferred`) if set, else tfjs-node-gpu, webgpu, tfjs-node, wasm, cpu — the first that loads.
 * An explicitly requested backend that cannot load is an error, never a silent fallback; one that
 * loads stays the choice for later calls without arguments. (The wasm
 * backend's thread count, `options.wasmThreads`, does fall back to 1: same results, only slower.)
 */
export function initBackend(preferred?: BackendName, options: BackendOptions = {}): Promise<BackendReport> {
  if (preferred === undefined && pending) return pending;
  const run = async (): Promise<BackendReport> => {
    const fromEnv = parseEnv(process.env.KVLAB_BACKEND);
    const wanted = preferred ?? fromEnv;
    const skipped: BackendReport['skipped'] = [];
    resolveWasmThreads(options); // a bad thread count is a ConfigError whatever backend loads
    if (wanted !== undefined) {
      let extras: BackendExtras;
      try {
        extras = await tryBackend(wanted, options);
      } catch (err) {
        throw new BackendUnavailableError(`TensorFlow.js backend '${wanted}' could not be loaded: ${(err as Error).message}`, { cause: err });
      }
      current = { backend: wanted, reason: preferred ? 'explicit' : 'env', skipped, tfjsVersion: tf.version_core, ...extras };
      return current;
    }
    for (const name of BACKEND_PREFERENCE) {
      try {
        const extras = await tryBackend(name, options);
        current = { backend: name, reason: 'auto', skipped, tfjsVersion: tf.version_core, ...extras };
        return current;
      } catch (err) {
        skipped.push({ backend: name, why: firstLine((err as Error).message) });
      }
    }
    throw new BackendUnavailableError(`no TensorFlow.js backend could be loaded: ${skipped.map((s) => `${s.backend}: ${s.why}`).join('; ')}`);
  };
  const p = run();
  if (preferred === undefined) {
    pending = p;
    return p;
  }
  // An explicit choice that loaded is the process's choice from now on: later automatic calls (every
  // model factory makes one) keep it instead of choosing again. One that failed changes nothing.
  return p.then((report) => {
    pending = Promise.resolve(report);
    return report;
  });
}

/** The backend chosen by {@link initBackend}, or undefined before it ran. */
export function backendReport(): BackendReport | undefined {
  return current;
}

/** True when `err` says that `pkg` itself (not something it needs) cannot be found. */
function isModuleMissing(err: unknown, pkg: string): boolean {
  const e = err as { code?: string; message?: string };
  return (e.code === 'MODULE_NOT_FOUND' || e.code === 'ERR_MODULE_NOT_FOUND') && (e.message ?? '').includes(`'${pkg}'`);
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}

export { tf };
