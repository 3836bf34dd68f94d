/**
 * The metric and alert names the written course tells operators to watch (chapter 4's rollout gates
 * and runbooks, chapter 2's layers) must be names the stores really export and rules that exist.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MemoryStore } from '../../lib/src/store';

const DOCS = path.resolve(__dirname, '..', '..', 'docs');
const CHAPTERS = ['02_architecture_deep_dive.md', '04_production_deployment.md'];

describe('metric and alert names quoted in the docs', () => {
  it('every kvlab_* metric the chapters name is exported by the stores', async () => {
    const store = new MemoryStore();
    await store.put([{ hash: 'a'.repeat(64), value: Buffer.alloc(8) }]);
    await store.get(['a'.repeat(64)]);
    store.recordTokens('memory', 16, 4);
    const exported = new Set([...(await store.metricsText()).matchAll(/^# TYPE (\S+) (\S+)/gm)].flatMap((m) =>
      m[2] === 'histogram' ? [m[1]!, `${m[1]}_bucket`, `${m[1]}_sum`, `${m[1]}_count`] : [m[1]!]));
    await store.close();
    for (const chapter of CHAPTERS) {
      const used = new Set([...fs.readFileSync(path.join(DOCS, chapter), 'utf8').matchAll(/\b(kvlab_[a-z_]+)\b/g)].map((m) => m[1]!));
      assert.ok(used.size > 0 || chapter.startsWith('02'), chapter);
      for (const name of used) assert.ok(exported.has(name), `${chapter}: ${name} is exported by the stores`);
    }
  });

  it('every alert the chapters name is a rule of prometheus-alerts.yml', () => {
    const rules = new Set([...fs.readFileSync(path.join(DOCS, 'prometheus-alerts.yml'), 'utf8').matchAll(/- alert: (\S+)/g)].map((m) => m[1]!));
    const named = new Set(CHAPTERS.flatMap((c) => [...fs.readFileSync(path.join(DOCS, c), 'utf8').matchAll(/\b(KVCache[A-Z][A-Za-z]+)\b/g)].map((m) => m[1]!)));
    assert.ok(named.size >= 3);
    for (const name of named) assert.ok(rules.has(name), `${name} is a rule in prometheus-alerts.yml`);
  });
});
