import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { MAX_WASM_THREADS, resolveWasmThreads } from '../../lib/src/runtime/backend';

const ROOT = path.resolve(__dirname, '..', '..');

/** Run initBackend(args…) in a fresh process (the choice is once per process) and return its report. */
function report(env: Record<string, string | undefined>, args = ''): { out: string } {
  const script = `require('./lib/src/runtime/backend').initBackend(${args}).then((r) => console.log(JSON.stringify(r)), (e) => console.log(JSON.stringify({ error: e.code, message: e.message })))`;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8' });
  return { out: out.trim().split('\n').pop() ?? '' };
}

describe('TensorFlow.js backend selection', function () {
  this.timeout(60_000);

  it('picks the first backend that loads and reports what it skipped', () => {
    const r = JSON.parse(report({ KVLAB_BACKEND: undefined }).out);
    assert.equal(r.reason, 'auto');
    assert.ok(['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm'].includes(r.backend), r.backend);
    // The native packages are opt-in: when absent they are listed as skipped, in preference order.
    const order = ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu'];
    assert.deepEqual(r.skipped.map((s: { backend: string }) => s.backend), order.slice(0, order.indexOf(r.backend)));
    // Each skipped one says why, and a missing package says how to install it.
    for (const s of r.skipped as { backend: string; why: string }[]) assert.ok(s.why.length > 0, s.backend);
    const webgpu = (r.skipped as { backend: string; why: string }[]).find((s) => s.backend === 'webgpu');
    if (webgpu && /not installed/.test(webgpu.why)) assert.match(webgpu.why, /npm install webgpu @tensorflow\/tfjs-backend-webgpu/);
  });

  it('KVLAB_BACKEND=webgpu without a usable GPU is a BACKEND_UNAVAILABLE error that says what is missing', function () {
    const r = JSON.parse(report({ KVLAB_BACKEND: 'webgpu' }).out);
    if (r.backend === 'webgpu') {
      assert.ok(r.gpu, 'a webgpu report names its adapter');
      return;
    }
    assert.equal(r.error, 'BACKEND_UNAVAILABLE');
    assert.match(r.message, /backend 'webgpu' could not be loaded: (not installed: npm install webgpu|WebGPU found no adapter)/);
  });

  it('an explicit choice stays the choice: a later call without arguments (as every model factory makes) keeps it', () => {
    const script = `const b = require('./lib/src/runtime/backend'); b.initBackend('cpu').then(() => b.initBackend()).then((r) => console.log(JSON.stringify({ backend: r.backend, tf: b.tf.getBackend() })))`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: ROOT, env: { ...process.env, KVLAB_BACKEND: undefined }, encoding: 'utf8' });
    assert.deepEqual(JSON.parse(out.trim().split('\n').pop() ?? ''), { backend: 'cpu', tf: 'cpu' });
  });

  it('KVLAB_BACKEND overrides the choice', () => {
    const r = JSON.parse(report({ KVLAB_BACKEND: 'cpu' }).out);
    assert.equal(r.backend, 'cpu');
    assert.equal(r.reason, 'env');
  });

  it('an unknown KVLAB_BACKEND is a CONFIG_ERROR, an unavailable one a BACKEND_UNAVAILABLE error', () => {
    assert.equal(JSON.parse(report({ KVLAB_BACKEND: 'tpu' }).out).error, 'CONFIG_ERROR');
    const native = JSON.parse(report({ KVLAB_BACKEND: 'tensorflow' }).out);
    if (native.error) assert.equal(native.error, 'BACKEND_UNAVAILABLE');
    else assert.equal(native.backend, 'tensorflow');
  });
});

describe('wasm backend threads', function () {
  this.timeout(120_000);

  it('KVLAB_WASM_THREADS is honoured: 2 runs the threaded build on 2 threads, 1 the single-threaded one', () => {
    const two = JSON.parse(report({ KVLAB_BACKEND: 'wasm', KVLAB_WASM_THREADS: '2' }).out);
    assert.equal(two.backend, 'wasm');
    assert.equal(two.wasmThreadsFallback, undefined, two.wasmThreadsFallback);
    assert.equal(two.wasmThreads, 2);
    const one = JSON.parse(report({ KVLAB_BACKEND: 'wasm', KVLAB_WASM_THREADS: '1' }).out);
    assert.equal(one.wasmThreads, 1);
    assert.equal(one.wasmThreadsFallback, undefined);
    assert.equal(JSON.parse(report({ KVLAB_BACKEND: 'wasm', KVLAB_WASM_THREADS: undefined }).out).wasmThreads, 1, 'the default is 1 thread');
  });

  it('the wasmThreads option wins over KVLAB_WASM_THREADS', () => {
    const r = JSON.parse(report({ KVLAB_WASM_THREADS: '1' }, "'wasm', { wasmThreads: 2 }").out);
    assert.equal(r.wasmThreads, 2);
  });

  it('a threaded build that does not start in time falls back to 1 thread and says why', () => {
    const r = JSON.parse(report({ KVLAB_WASM_THREADS: undefined }, "'wasm', { wasmThreads: 2, wasmThreadsTimeoutMs: 1 }").out);
    assert.equal(r.backend, 'wasm');
    assert.equal(r.wasmThreads, 1);
    assert.match(r.wasmThreadsFallback, /did not start within 1 ms/);
  });

  it("1 thread unless asked; 'auto' is one per available CPU, at most 8; bad values are CONFIG_ERRORs", () => {
    const saved = process.env.KVLAB_WASM_THREADS;
    try {
      delete process.env.KVLAB_WASM_THREADS;
      assert.equal(resolveWasmThreads(), 1);
      assert.equal(resolveWasmThreads({ wasmThreads: 'auto' }), Math.min(MAX_WASM_THREADS, os.availableParallelism()));
      assert.equal(resolveWasmThreads({ wasmThreads: 3 }), 3);
      process.env.KVLAB_WASM_THREADS = '4';
      assert.equal(resolveWasmThreads(), 4);
      process.env.KVLAB_WASM_THREADS = 'AUTO';
      assert.equal(resolveWasmThreads(), Math.min(MAX_WASM_THREADS, os.availableParallelism()));
      assert.equal(resolveWasmThreads({ wasmThreads: 1 }), 1);
      for (const bad of ['0', '9', 'two', '1.5']) {
        process.env.KVLAB_WASM_THREADS = bad;
        assert.throws(() => resolveWasmThreads(), (e: { code?: string }) => e.code === 'CONFIG_ERROR', bad);
      }
      assert.throws(() => resolveWasmThreads({ wasmThreads: 0 }), (e: { code?: string }) => e.code === 'CONFIG_ERROR');
    } finally {
      if (saved === undefined) delete process.env.KVLAB_WASM_THREADS;
      else process.env.KVLAB_WASM_THREADS = saved;
    }
    assert.equal(JSON.parse(report({ KVLAB_WASM_THREADS: 'lots' }).out).error, 'CONFIG_ERROR');
  });
});
