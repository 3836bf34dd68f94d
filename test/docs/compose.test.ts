import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

/** `docker-compose` v1.29 is what Debian 12 packages (set-up installs it for the tests); it validates without an engine. */
function compose(...args: string[]): { status: number | null; out: string } {
  const r = spawnSync('docker-compose', ['-f', path.join(ROOT, 'docker-compose.yml'), ...args], { cwd: ROOT, encoding: 'utf8' });
  assert.ok(!r.error, `docker-compose did not run (${r.error?.message}): \`apt-get install docker-compose\` or \`npm run setup -- --browser\``);
  return { status: r.status, out: r.stdout + r.stderr };
}

describe('docker-compose.yml', () => {
  it('is valid for Compose v1 (`docker-compose config`, as Debian 12 ships it)', () => {
    const r = compose('config', '-q');
    assert.equal(r.status, 0, r.out);
  });

  it('has one Redis, and six cluster nodes + an init job behind the `cluster` profile', () => {
    const services = compose('config', '--services');
    assert.equal(services.status, 0, services.out);
    assert.deepEqual(services.out.trim().split('\n').sort(), ['redis', 'redis-cluster-init', ...[0, 1, 2, 3, 4, 5].map((i) => `redis-node-${i}`)].sort());
    const config = compose('config');
    assert.equal((config.out.match(/profiles:\n\s*- cluster\n/g) ?? []).length, 7, 'every service but `redis` is in the cluster profile');
  });

  it('configures the Redis as a cache on loopback: allkeys-lru under a memory limit, no persistence', () => {
    const r = compose('config');
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /127\.0\.0\.1:6379:6379/);
    assert.match(r.out, /--maxmemory-policy\s*\n\s*- allkeys-lru/);
    assert.match(r.out, /--appendonly\s*\n\s*- "no"/);
  });

  it('is valid for Compose v2 too where it is installed (`docker compose config`)', function () {
    const v2 = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' });
    if (v2.status !== 0) {
      // No Compose v2 plugin here (Debian 12 has none): the file uses only what both versions accept,
      // which the v1 check above enforces (v1 rejects the v2-only top-level `name:`).
      assert.doesNotMatch(fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'), /^name:/m);
      return;
    }
    const r = spawnSync('docker', ['compose', '-f', path.join(ROOT, 'docker-compose.yml'), 'config', '-q'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });
});
