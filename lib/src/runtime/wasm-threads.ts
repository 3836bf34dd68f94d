/**
 * Loads @tensorflow/tfjs-backend-wasm's multi-threaded SIMD build in Node.
 *
 * tfjs ships `tfjs-backend-wasm-threaded-simd.wasm` (XNNPACK on a pthreadpool) but turns it off in
 * Node (tensorflow/tfjs#3830): its Emscripten glue starts pthreads from `blob:` URLs, which Node's
 * `worker_threads` cannot load, and hands each thread the module's factory as a Blob whose text
 * refers to names of tfjs's Node bundle. What this module does, only around the one
 * `tf.setBackend('wasm')` call that initialises the backend:
 *  - sets tfjs's `WASM_HAS_MULTITHREAD_SUPPORT` flag and the wasm backend's thread count;
 *  - swaps `worker_threads.Worker` for a subclass that starts a `blob:` worker from its text (eval),
 *    in a small bootstrap that turns the factory Blob into text before the worker runs it, and
 *    defines the bundle-level names that text uses;
 *  - keeps those workers unref'd: pthreadpool threads never end, and a ref'd one would keep Node
 *    from exiting;
 *  - reports `os.cpus()` at twice the thread count: the backend caps threads at logical cores / 2
 *    (it assumes two hyperthreads per core), which on a 2-vCPU machine would leave one thread.
 * Checked with tfjs-backend-wasm 4.22.0 on Node 20, 22 and 24. Any failure rejects, so the caller
 * can fall back to the single-threaded build.
 */
import type * as WorkerThreads from 'node:worker_threads';
import type * as Os from 'node:os';
import type { Blob as NodeBlob } from 'node:buffer';

// The live module objects (not an import's namespace copy): the glue reads `Worker` and `cpus` from them.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const workerThreads = require('node:worker_threads') as typeof WorkerThreads;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const os = require('node:os') as typeof Os;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { resolveObjectURL } = require('node:buffer') as { resolveObjectURL(url: string): NodeBlob | undefined };

/** Message a pthread bootstrap posts when the glue's worker script failed to load (the glue ignores it). */
const LOAD_FAILED = 'kvlabPthreadLoadFailed';

/**
 * Runs in each pthread worker (eval'd). `workerData.script` is the glue's worker script as a Blob.
 * The names defined on globalThis are the ones the factory's text takes from tfjs's Node bundle:
 * its `require$$N` modules, `commonjsGlobal`, and three tslib helpers (same behaviour, smaller).
 */
const PTHREAD_BOOTSTRAP = `
'use strict';
const nodeRequire = require;
const threads = nodeRequire('node:worker_threads');
const vm = nodeRequire('node:vm');
const { parentPort, workerData } = threads;
const FACTORY_MARK = 'kvlab:wasm-factory';
let deliver;
let factoryText;
const port = {
  on(event, fn) { if (event === 'message') deliver = fn; },
  postMessage(message, transfer) { parentPort.postMessage(message, transfer); },
};
const glueRequire = (name) => (name === 'worker_threads' || name === 'node:worker_threads' ? { ...threads, parentPort: port } : nodeRequire(name));
Object.assign(globalThis, {
  require$$0: nodeRequire('fs'), require$$1: nodeRequire('path'), require$$3: nodeRequire('perf_hooks'), require$$4: nodeRequire('os'),
  commonjsGlobal: globalThis,
  __values: (o) => o[Symbol.iterator](),
  __read: (o, n) => { const all = Array.from(o); return n === undefined ? all : all.slice(0, n); },
  __spreadArray: (to, from) => to.concat(Array.from(from)),
});
const reportFailure = (err) => parentPort.postMessage({ ${LOAD_FAILED}: String((err && err.stack) || err) });
let queue = workerData.script.text().then((text) => {
  new Function('require', '__filename', text)(glueRequire, '[kvcache-lab pthread]');
  const importScripts = globalThis.importScripts;
  globalThis.importScripts = (f) => (f === FACTORY_MARK ? vm.runInThisContext(factoryText) : importScripts(f));
}).catch(reportFailure);
parentPort.on('message', (data) => {
  queue = queue.then(async () => {
    const load = data !== null && typeof data === 'object' && data.cmd === 'load';
    if (load && typeof data.urlOrBlob === 'object' && data.urlOrBlob !== null && typeof data.urlOrBlob.text === 'function') {
      factoryText = await data.urlOrBlob.text();
      data.urlOrBlob = FACTORY_MARK;
    }
    if (!load) return deliver(data);
    try { deliver(data); } catch (err) { reportFailure(err); }
  });
});
`;

type WorkerCtor = typeof WorkerThreads.Worker;

/**
 * Run `init` (which must initialise the wasm backend, e.g. `tf.setBackend('wasm')`) with the Node
 * patches for the threaded build in place; they are undone when it settles. Rejects if a pthread
 * worker fails to load or `init` takes longer than `timeoutMs`; then every worker started here is
 * terminated, so the caller may retry single-threaded.
 */
export async function withWasmThreads<T>(threads: number, timeoutMs: number, init: () => Promise<T>): Promise<T> {
  const started = new Set<WorkerThreads.Worker>();
  let fail: (err: Error) => void = () => undefined;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  const Original: WorkerCtor = workerThreads.Worker;
  // The glue also keeps this class as the global `Worker` for threads it starts later: workers that
  // are not pthreads (not from a `blob:` URL) behave exactly like the original.
  class PthreadWorker extends Original {
    private readonly pthread: boolean;

    constructor(filename: string | URL, options?: WorkerThreads.WorkerOptions) {
      const blob = typeof filename === 'string' && filename.startsWith('blob:') ? resolveObjectURL(filename) : undefined;
      if (blob === undefined) super(filename, options);
      else super(PTHREAD_BOOTSTRAP, { eval: true, workerData: { script: blob } });
      this.pthread = blob !== undefined;
      if (!this.pthread) return;
      started.add(this);
      this.unref();
      this.on('message', (m: unknown) => {
        if (m !== null && typeof m === 'object' && LOAD_FAILED in m) fail(new Error(`a wasm pthread failed to load: ${String((m as Record<string, unknown>)[LOAD_FAILED])}`));
      });
      this.on('error', (err: Error) => fail(err));
    }

    // The glue refs a worker while a pthread runs on it, but pool threads run forever: a ref'd one
    // would keep Node from exiting.
    override ref(): void {
      if (!this.pthread) super.ref();
    }
  }
  const mutableThreads = workerThreads as { Worker: WorkerCtor };
  const mutableOs = os as { cpus: typeof os.cpus };
  const realCpus = os.cpus;
  mutableThreads.Worker = PthreadWorker;
  mutableOs.cpus = () => {
    const cpus = realCpus.call(os);
    return Array.from({ length: 2 * threads }, (_, i) => cpus[i % cpus.length] as Os.CpuInfo);
  };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the threaded wasm backend did not start within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([init(), failed, timeout]);
  } catch (err) {
    for (const w of started) void w.terminate();
    throw err;
  } finally {
    clearTimeout(timer);
    mutableThreads.Worker = Original;
    mutableOs.cpus = realCpus;
  }
}
