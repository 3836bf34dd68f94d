import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT, SAME_MODEL_TOLERANCE, assertClose } from './helpers';

const run = promisify(execFile);
const CHILD = path.join(__dirname, 'threads-child.ts');

async function prefillWith(threads: number): Promise<{ wasmThreads: number; logits: Float32Array }> {
  const env = { ...process.env, KVLAB_WASM_THREADS: String(threads) };
  const { stdout } = await run(process.execPath, ['--import', 'tsx', CHILD, 'default', '600'], { cwd: REPO_ROOT, env });
  const out = JSON.parse(stdout.trim().split('\n').pop() as string) as { report: { wasmThreads: number }; logitsBase64: string };
  const bytes = Buffer.from(out.logitsBase64, 'base64');
  return { wasmThreads: out.report.wasmThreads, logits: new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4) };
}

describe('wasm threads: the model on 2 threads', function () {
  this.timeout(180_000);

  it('prefills the default preset (600 tokens, two chunks) to the logits of the 1-thread build', async () => {
    // One after the other: each process wants the whole machine.
    const one = await prefillWith(1);
    const two = await prefillWith(2);
    assert.equal(one.wasmThreads, 1);
    assert.equal(two.wasmThreads, 2, 'the threaded build did not start');
    assert.equal(two.logits.length, one.logits.length);
    // XNNPACK splits a product by output tiles, so each value is summed in the same order: observed identical.
    assertClose(two.logits, one.logits, SAME_MODEL_TOLERANCE, '2 threads vs 1');
  });
});
