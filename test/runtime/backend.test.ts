import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

/** Run initBackend() in a fresh process (the choice is once per process) and return its report. */
function report(env: Record<string, string | undefined>): { out: string } {
  const script = "require('./lib/src/runtime/backend').initBackend().then((r) => console.log(JSON.stringify(r)), (e) => console.log(JSON.stringify({ error: e.code, message: e.message })))";
  const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8' });
  return { out: out.trim().split('\n').pop() ?? '' };
}

describe('TensorFlow.js backend selection', function () {
  this.timeout(60_000);

  it('picks the first backend that loads and reports what it skipped', () => {
    const r = JSON.parse(report({ KVLAB_BACKEND: undefined }).out);
    assert.equal(r.reason, 'auto');
    assert.ok(['tensorflow-gpu', 'tensorflow', 'wasm'].includes(r.backend), r.backend);
    // The native packages are opt-in: when absent they are listed as skipped, in preference order.
    const order = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];
    assert.deepEqual(r.skipped.map((s: { backend: string }) => s.backend), order.slice(0, order.indexOf(r.backend)));
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
