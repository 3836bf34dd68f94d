import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { BackendUnavailableError, ConfigError } from './errors';
import { withWasmThreads } from './wasm-threads';

/** The TensorFlow.js backends kvcache-lab knows how to pick, in order of preference. */
export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

/** The order in which backends are tried when none is requested: native GPU, native CPU, WebAssembly, plain JS. */
export const BACKEND_PREFERENCE: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

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

type WasmInfo = Pick<BackendReport, 'wasmThreads' | 'wasmThreadsFallback'>;

async function tryBackend(name: BackendName, options: BackendOptions): Promise<WasmInfo> {
  const pkg = NATIVE_PACKAGES[name];
  if (pkg !== undefined) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require(pkg);
    // tfjs-node registers the backend under the name "tensorflow" in both variants.
    if (!(await tf.setBackend('tensorflow'))) throw new Error(`${pkg} loaded but did not register a backend`);
    return {};
  }
  if (name === 'wasm') return loadWasm(options);
  await setBackend(name);
  return {};
}

async function setBackend(name: string): Promise<void> {
  if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend('${name}') returned false`);
  await tf.ready();
}

type WasmModule = typeof import('@tensorflow/tfjs-backend-wasm');

async function loadWasm(options: BackendOptions): Promise<WasmInfo> {
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
  const aliases: Record<string, BackendName> = { gpu: 'tensorflow-gpu', node: 'tensorflow', 'tfjs-node': 'tensorflow', 'tfjs-node-gpu': 'tensorflow-gpu' };
  const name = (aliases[v] ?? v) as BackendName;
  if (!BACKEND_PREFERENCE.includes(name)) {
    throw new ConfigError(`KVLAB_BACKEND=${JSON.stringify(value)} is not one of ${BACKEND_PREFERENCE.join(', ')}`);
  }
  return name;
}

/**
 * Choose and initialise the TensorFlow.js backend once per process:
 * `KVLAB_BACKEND` (or `preferred`) if set, else tfjs-node-gpu, tfjs-node, wasm, cpu — the first that loads.
 * An explicitly requested backend that cannot load is an error, never a silent fallback. (The wasm
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
      let wasmInfo: WasmInfo;
      try {
        wasmInfo = await tryBackend(wanted, options);
      } catch (err) {
        throw new BackendUnavailableError(`TensorFlow.js backend '${wanted}' could not be loaded: ${(err as Error).message}`, { cause: err });
      }
      current = { backend: wanted, reason: preferred ? 'explicit' : 'env', skipped, tfjsVersion: tf.version_core, ...wasmInfo };
      return current;
    }
    for (const name of BACKEND_PREFERENCE) {
      try {
        const wasmInfo = await tryBackend(name, options);
        current = { backend: name, reason: 'auto', skipped, tfjsVersion: tf.version_core, ...wasmInfo };
        return current;
      } catch (err) {
        skipped.push({ backend: name, why: firstLine((err as Error).message) });
      }
    }
    throw new BackendUnavailableError(`no TensorFlow.js backend could be loaded: ${skipped.map((s) => `${s.backend}: ${s.why}`).join('; ')}`);
  };
  const p = run();
  if (preferred === undefined) pending = p;
  return p;
}

/** The backend chosen by {@link initBackend}, or undefined before it ran. */
export function backendReport(): BackendReport | undefined {
  return current;
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}

export { tf };
