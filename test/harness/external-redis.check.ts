/**
 * The Docker path: a learner whose Redis is not the lab's own (a container, a managed Redis) sets
 * REDIS_URL, and every notebook must run against it. Here that Redis is a `redis-server` this test
 * starts itself, outside the lab, the way `docker compose up redis` would configure it; the notebooks
 * run through `npm run notebooks` (scripts/run-notebooks.mjs) with REDIS_URL pointing at it.
 *
 * Then the case where this machine cannot start private Redis servers at all (only the container):
 * `redis-server` and `redis-cli` on PATH answer "command not found", and notebook 04's eviction and
 * cluster demos must say what to install and skip, while the notebook still passes.
 *
 * Not a `*.test.ts`: it executes notebooks (a few minutes), so `npm test` runs it as its own stage
 * after the notebook stage; by hand: `npx mocha test/harness/external-redis.check.ts`.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RedisServer } from './redis';

const ROOT = path.resolve(__dirname, '..', '..');
const OUT = path.join(ROOT, 'out', 'external-redis');

interface RunResult { notebook: string; status: string; error?: string }

/** `npm run notebooks -- --solutions --out DIR files…` with this environment; resolves to its exit code and results. */
function runNotebooks(files: string[], outDir: string, env: NodeJS.ProcessEnv): Promise<{ status: number; results: RunResult[]; log: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'scripts', 'run-notebooks.mjs'), '--solutions', '--out', outDir, ...files], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout.on('data', (d: Buffer) => { log += d; process.stdout.write(d); });
    child.stderr.on('data', (d: Buffer) => { log += d; process.stderr.write(d); });
    child.on('error', reject);
    child.on('exit', (code) => {
      const file = path.join(outDir, 'notebooks', 'results.json');
      resolve({ status: code ?? 1, results: fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : [], log });
    });
  });
}

/** Every notebook of the course: all of them must run with only REDIS_URL, not just those that read it. */
function allNotebooks(): string[] {
  return fs.readdirSync(path.join(ROOT, 'notebooks')).filter((f) => f.endsWith('.ipynb')).sort().map((f) => path.join('notebooks', f));
}

function outputsText(file: string): string {
  const nb = JSON.parse(fs.readFileSync(file, 'utf8')) as { cells: { outputs?: { text?: string | string[]; data?: Record<string, string | string[]> }[] }[] };
  const join = (s: string | string[] | undefined): string => (Array.isArray(s) ? s.join('') : (s ?? ''));
  return nb.cells.flatMap((c) => c.outputs ?? []).map((o) => join(o.text) + Object.values(o.data ?? {}).map((v) => (typeof v === 'string' || Array.isArray(v) ? join(v) : '')).join('')).join('\n');
}

async function commandsProcessed(server: RedisServer): Promise<number> {
  return Number(/total_commands_processed:(\d+)/.exec(await server.cli('INFO', 'stats'))?.[1] ?? 0);
}

describe('notebooks against an external Redis (REDIS_URL, as with Docker)', function () {
  this.timeout(900_000);
  let server: RedisServer;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    // Configured like docker-compose.yml's `redis` service: a cache with a memory limit, no persistence.
    server = await RedisServer.start({ args: ['--maxmemory', '512mb', '--maxmemory-policy', 'allkeys-lru', '--save', '', '--appendonly', 'no'] });
    env = { ...process.env, REDIS_URL: server.url, KVLAB_FAST: process.env.KVLAB_FAST ?? '1' };
    fs.rmSync(OUT, { recursive: true, force: true });
  });

  after(async () => {
    await server?.stop();
  });

  it('every notebook passes, and the ones that use Redis use that one (no embedded Redis)', async () => {
    const files = allNotebooks();
    const before = await commandsProcessed(server);
    const r = await runNotebooks(files, path.join(OUT, 'with-redis-server'), env);
    assert.deepEqual(r.results.map((x) => [x.notebook, x.status]), files.map((f) => [path.basename(f), 'passed']), r.results.map((x) => x.error).filter(Boolean).join('\n'));
    assert.equal(r.status, 0);
    const served = (await commandsProcessed(server)) - before;
    assert.ok(served > 100, `the external Redis served the notebooks (${served} commands)`);
    assert.doesNotMatch(r.log, /embedded Redis/);
  });

  it('without redis-server on this machine, notebook 04 skips its private-server demos with what to install, and passes', async () => {
    const stubs = fs.mkdtempSync(path.join(os.tmpdir(), 'kvlab-no-redis-'));
    try {
      for (const cmd of ['redis-server', 'redis-cli']) {
        fs.writeFileSync(path.join(stubs, cmd), `#!/bin/sh\necho "sh: ${cmd}: command not found" >&2\nexit 127\n`, { mode: 0o755 });
      }
      const out = path.join(OUT, 'without-redis-server');
      const r = await runNotebooks(['notebooks/04_redis_cache.ipynb'], out, { ...env, PATH: `${stubs}${path.delimiter}${process.env.PATH}` });
      assert.deepEqual(r.results.map((x) => x.status), ['passed'], r.results.map((x) => x.error).filter(Boolean).join('\n'));
      const text = outputsText(path.join(out, 'notebooks', '04_redis_cache.ipynb'));
      assert.match(text, /Skipped:.*needs `redis-server` and `redis-cli`/);
      assert.match(text, /apt-get install redis-server/);
      assert.match(text, /brew install redis/);
      assert.doesNotMatch(text, /REDIS_URL is not set/);
    } finally {
      fs.rmSync(stubs, { recursive: true, force: true });
    }
  });
});
