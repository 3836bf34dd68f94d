/**
 * The model suites for a GPU machine, as one file: mocha driven from code, so that esbuild can bundle
 * it with the library (the GPU machine has no node_modules). `KVLAB_TEST_BACKENDS` picks the
 * backends, as in `npm test`; scripts/gpu/run.sh sets `webgpu,wasm`.
 */
import Mocha from 'mocha';

const mocha = new Mocha({ timeout: 600_000, slow: 2_000, reporter: 'spec', color: false });
// Give the test files mocha's globals (describe, it, before, …) before they load.
mocha.suite.emit('pre-require', globalThis, 'gpu-suites', mocha);
/* eslint-disable @typescript-eslint/no-require-imports -- in this order, after the globals exist */
require('../../test/model/backends.test');
require('../../test/model/reference.test');
require('../../test/model/transformer.test');
require('../../test/model/kv-cache.test');
require('../../test/model/attention-trace.test');
require('../../test/model/memory.test');
/* eslint-enable @typescript-eslint/no-require-imports */

mocha.run((failures) => {
  console.log(`${failures === 0 ? 'all passed' : `${failures} failed`} (KVLAB_TEST_BACKENDS=${process.env.KVLAB_TEST_BACKENDS ?? ''})`);
  process.exit(failures === 0 ? 0 : 1);
});
