import { strict as assert } from 'node:assert';
import { DEFAULT_TEST_BACKENDS, testBackends } from './backends';

describe('KVLAB_TEST_BACKENDS: which backends the model suites run on', () => {
  it('defaults to wasm and cpu; takes a comma-separated list; refuses names it does not know', () => {
    assert.deepEqual(testBackends(''), [...DEFAULT_TEST_BACKENDS]);
    assert.deepEqual(testBackends(' '), ['wasm', 'cpu']);
    assert.deepEqual(testBackends('webgpu, wasm'), ['webgpu', 'wasm']);
    assert.throws(() => testBackends('wasm,tpu'), /"tpu" is not one of tensorflow-gpu, webgpu, tensorflow, wasm, cpu/);
  });
});
