/**
 * The `kvlab` command as a user meets it: through the link npm puts in node_modules/.bin, not
 * through `node lib/dist/cli/main.js`.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const KVLAB = path.join(ROOT, 'node_modules', '.bin', process.platform === 'win32' ? 'kvlab.cmd' : 'kvlab');

describe('kvlab command', () => {
  it('runs from node_modules/.bin (the built file is executable)', () => {
    const r = spawnSync(KVLAB, ['--help'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.error, undefined, `could not run ${KVLAB}: ${r.error?.message}`);
    assert.equal(r.status, 0, r.stderr);
    for (const command of ['bench', 'quickstart', 'doctor']) assert.match(r.stdout, new RegExp(`\\b${command}\\b`));
  });

  it('doctor names the backend in use and why each other one was not taken', () => {
    const env: NodeJS.ProcessEnv = { ...process.env, KVLAB_BACKEND: 'wasm' };
    delete env.REDIS_URL;
    const r = spawnSync(KVLAB, ['doctor'], { encoding: 'utf8', timeout: 120_000, env });
    assert.equal(r.error, undefined);
    const line = r.stdout.split('\n').find((l) => l.startsWith('TensorFlow.js backend'));
    assert.ok(line, `no backend line in:\n${r.stdout}`);
    assert.match(line, /✓\s+wasm, \d+ thread/);
    // Without REDIS_URL the Redis check fails, and the command says so with its exit status.
    assert.match(r.stdout, /Redis\s+✗\s+REDIS_URL is not set/);
    assert.equal(r.status, 1);
  });
});
