/**
 * One model suite, run on every TensorFlow.js backend (tfjs-core's style): the tests that check what
 * the model computes are written once and repeated per backend, so a backend that gets the numbers
 * wrong fails the same assertions as the others.
 *
 * `KVLAB_TEST_BACKENDS` lists the backends (comma-separated); without it, `wasm,cpu`, the two every
 * machine has. A listed backend that cannot load fails its suite: nothing is skipped. The GPU run
 * (`npm run gpu:bundle`, then on the GPU machine) sets `KVLAB_TEST_BACKENDS=webgpu,wasm`.
 */
import { BACKEND_PREFERENCE, backendReport, initBackend, type BackendName } from '../../lib/src/runtime/backend';

export const DEFAULT_TEST_BACKENDS: readonly BackendName[] = ['wasm', 'cpu'];

/** The backends model suites run on, from `KVLAB_TEST_BACKENDS` or {@link DEFAULT_TEST_BACKENDS}. */
export function testBackends(env: string | undefined = process.env.KVLAB_TEST_BACKENDS): BackendName[] {
  if (env === undefined || env.trim() === '') return [...DEFAULT_TEST_BACKENDS];
  const names = env.split(',').map((s) => s.trim()).filter(Boolean);
  for (const n of names) {
    if (!(BACKEND_PREFERENCE as readonly string[]).includes(n)) throw new Error(`KVLAB_TEST_BACKENDS: ${JSON.stringify(n)} is not one of ${BACKEND_PREFERENCE.join(', ')}`);
  }
  return names as BackendName[];
}

/**
 * `describe(title [backend])` once per test backend. The suite's `before` hooks run on that backend
 * (so its models' weights live there); afterwards the backend in use before is restored, so the
 * suites that follow run where they would have.
 */
export function describeOnEachBackend(title: string, body: (backend: BackendName) => void): void {
  for (const backend of testBackends()) {
    describe(`${title} [${backend}]`, function () {
      let automatic: BackendName;
      before(async function () {
        automatic = (backendReport() ?? (await initBackend())).backend;
        const report = await initBackend(backend);
        if (report.gpu) console.log(`      on ${report.gpu.vendor} ${report.gpu.description || report.gpu.device}`);
      });
      after(async () => {
        await initBackend(automatic);
      });
      body(backend);
    });
  }
}
