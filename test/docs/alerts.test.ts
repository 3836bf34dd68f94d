import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MemoryStore } from '../../lib/src/store';

const RULES = path.resolve(__dirname, '..', '..', 'docs', 'prometheus-alerts.yml');

describe('example Prometheus alert rules (docs/prometheus-alerts.yml)', () => {
  it('use only metric names the stores really export', async () => {
    const store = new MemoryStore();
    await store.put([{ hash: 'a'.repeat(64), value: Buffer.alloc(8) }]);
    await store.get(['a'.repeat(64)]);
    store.recordTokens('memory', 16, 4);
    const exported = new Set([...(await store.metricsText()).matchAll(/^# TYPE (\S+) (\S+)/gm)].flatMap((m) =>
      m[2] === 'histogram' ? [`${m[1]}_bucket`, `${m[1]}_sum`, `${m[1]}_count`] : [m[1]!]));
    await store.close();
    const used = new Set([...fs.readFileSync(RULES, 'utf8').matchAll(/\b(kvlab_[a-z_]+)\b/g)].map((m) => m[1]!));
    assert.ok(used.size >= 5);
    for (const name of used) assert.ok(exported.has(name), `${name} is exported by the stores`);
  });

  it('pass `promtool check rules`', () => {
    // promtool comes from Debian's `prometheus` package, which `npm test`'s set-up installs.
    const r = spawnSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' });
    assert.ok(!r.error, `promtool did not run (${r.error?.message}): install it (\`apt-get install prometheus\`, \`brew install prometheus\`) or run \`npm run setup -- --browser\``);
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });
});
