/**
 * Entries bound to their keys, and authenticated caches, on a real Redis: valid entries moved between
 * keys (same shape, same model) and entries written without the cache's secret are refused, counted
 * and deleted — and every request still produces exactly the no-cache output.
 */
import { strict as assert } from 'node:assert';
import type { Redis } from 'ioredis';
import { createStore, type KVStore } from '../../lib/src/store';
import { PrefixCacheConnector, ServingEngine, serdeBlockCodec, type ServeRequest } from '../../lib/src/engine';
import { hashBlocks } from '../../lib/src/hashing';
import type { LlamaModel } from '../../lib/src/model';
import { readKVHeader } from '../../lib/src/serde';
import { SeededRng } from '../../lib/src/runtime';
import { RedisServer } from '../harness/redis';
import { rawClient, referenceOutputs, stream, tinyModel, wrongOutputs } from './helpers';

const SECRET = 'entry-binding test secret 0123456789';

describe('reliability: entries bound to their keys, authenticated caches', function () {
  this.timeout(180_000);
  let model: LlamaModel;
  let server: RedisServer;
  let raw: Redis;
  let requests: ServeRequest[];
  let reference: Map<string, string>;
  const stores: KVStore[] = [];

  before(async () => {
    model = await tinyModel(0);
    requests = stream('agent', { requests: 12, seed: 31, prefix: 'binding' });
    reference = await referenceOutputs(model, requests);
    server = await RedisServer.start();
    raw = rawClient(server.port);
  });

  after(async () => {
    for (const s of stores) await s.close();
    raw?.disconnect();
    await server?.stop();
  });

  async function store(namespace: string): Promise<KVStore> {
    const s = await createStore(server.url, { namespace });
    stores.push(s);
    return s;
  }

  /** Every stored key of the stream under `connector` (the loadable blocks of each request). */
  function keysOf(connector: PrefixCacheConnector, namespace: string): string[] {
    const keys = new Set<string>();
    for (const r of requests) for (const h of hashBlocks(r.tokens, connector.namespaceFor(r.tenant))) keys.add(`kvlab:${namespace}:${h}`);
    return [...keys];
  }

  it('valid entries moved between keys: every output is the no-cache output, every move refused, counted and deleted', async () => {
    const s = await store('moved');
    const connector = new PrefixCacheConnector(model, s, serdeBlockCodec({ dtype: 'fp32', secret: null }));
    const engine = new ServingEngine(model, connector);
    for (const r of requests) await engine.serve(r);
    const keys = (await Promise.all(keysOf(connector, 'moved').map(async (k) => ((await raw.exists(k)) ? k : undefined)))).filter((k): k is string => k !== undefined);
    assert.ok(keys.length >= 10, `blocks stored: ${keys.length}`);

    // A seeded derangement of the stored values: every key ends up holding another block's valid entry.
    const rng = new SeededRng(5);
    const order = rng.shuffle(keys.map((_, i) => i));
    const values = await Promise.all(keys.map((k) => raw.getBuffer(k)));
    const moved = keys.map((k, i) => ({ key: k, value: values[order[i] === i ? (i + 1) % keys.length : order[i]!]! }));
    for (const m of moved) await raw.set(m.key, m.value);
    for (const m of moved) assert.notEqual(readKVHeader(m.value).blockHash, m.key.slice(-64), 'the moved entry names another block');

    const before = s.stats().rejected.misplaced;
    const records = [];
    for (const r of requests) records.push(await new ServingEngine(model, connector).serve({ ...r, id: `again-${r.id}` }));
    const reRef = new Map([...reference].map(([id, out]) => [`again-${id}`, out]));
    assert.deepEqual(wrongOutputs(records, reRef), [], 'no output differs from the no-cache output');
    const refused = s.stats().rejected.misplaced - before;
    assert.ok(refused > 0, 'moved entries were refused');
    assert.equal(records.reduce((a, r) => a + r.fallbacks, 0) >= refused, true, 'each refusal is a counted fallback');
    // A load stops at the first refused block, so entries after it are read on a later pass. Each
    // refused entry is deleted and rewritten by the request that recomputed it: the cache heals.
    let passes = 1;
    for (let fallbacks = -1; fallbacks !== 0; passes++) {
      assert.ok(passes <= 40, 'the cache heals: each pass refuses and rewrites at least the first bad block of every chain');
      const again = [];
      for (const r of requests) again.push(await new ServingEngine(model, connector).serve({ ...r, id: `pass${passes}-${r.id}` }));
      assert.deepEqual(wrongOutputs(again, new Map([...reference].map(([id, out]) => [`pass${passes}-${id}`, out]))), []);
      fallbacks = again.reduce((a, r) => a + r.fallbacks, 0);
    }
    console.log(`      healed after ${passes - 1} passes`);
    for (const k of keys) {
      const v = await raw.getBuffer(k);
      if (v) assert.equal(readKVHeader(v).blockHash, k.slice(-64), `${k} holds its own block (rewritten) or nothing`);
    }
    assert.match(await s.metricsText(), /kvlab_store_rejected_entries_total\{store="redis",tier="redis",reason="misplaced"\} [1-9]/);
    const health = await connector.health();
    assert.ok(health.warnings.some((w) => /another block's KV/.test(w)), `health warns: ${health.warnings.join(' | ')}`);
  });

  it('with a secret, entries written without it (or with another) are refused; the writer with the secret is served', async () => {
    const s = await store('auth');
    const signed = new PrefixCacheConnector(model, s, serdeBlockCodec({ dtype: 'fp32', secret: SECRET }));
    // An attacker with write access but not the secret fills the cache first, for the same blocks.
    for (const [i, codec] of [serdeBlockCodec({ dtype: 'fp32', secret: null }), serdeBlockCodec({ dtype: 'fp32', secret: 'another secret, not the real one!' })].entries()) {
      const forger = new PrefixCacheConnector(model, s, codec);
      await new ServingEngine(model, forger).serve({ ...requests[i]!, id: `forged-${i}` });
    }
    assert.ok((await raw.dbsize()) > 0, 'forged entries are in Redis');
    const before = s.stats().rejected.unauthenticated;
    const records = [];
    for (const r of requests) records.push(await new ServingEngine(model, signed).serve(r));
    assert.deepEqual(wrongOutputs(records, reference), []);
    assert.ok(s.stats().rejected.unauthenticated - before >= 2, `forged entries refused: ${s.stats().rejected.unauthenticated - before}`);
    // Forged entries are deleted as they are read and rewritten by the holder of the secret: within
    // a few passes the cache serves only signed entries, with no fallback.
    let again: Awaited<ReturnType<ServingEngine['serve']>>[] = [];
    for (let pass = 0; pass === 0 || again.some((r) => r.fallbacks > 0); pass++) {
      assert.ok(pass < 8, 'the cache heals within a few passes');
      again = [];
      for (const r of requests) again.push(await new ServingEngine(model, signed).serve({ ...r, id: `signed-${r.id}` }));
    }
    assert.ok(again.reduce((a, r) => a + r.reusedTokens, 0) > 0, 'entries signed with the secret are served');
    // A reader with the secret never accepts an unsigned entry, even one that is valid and in place.
    const reader = new PrefixCacheConnector(model, s, serdeBlockCodec({ dtype: 'fp32', secret: null }));
    const plainRecord = await new ServingEngine(model, reader).serve({ ...requests[0]!, id: 'plain' });
    assert.equal(plainRecord.output.join(), reference.get(requests[0]!.id));
  });

  it('tenants without a configured salt are refused unless name-derived salts are chosen explicitly (and then health warns)', async () => {
    const s = await store('salts');
    const tenantRequest = { ...requests[0]!, id: 'tenant-x', tenant: 'tenant-x' };
    const strict = new PrefixCacheConnector(model, s, serdeBlockCodec({ dtype: 'fp32', secret: null }));
    await assert.rejects(strict.getMatchedTokens(tenantRequest), { code: 'CONFIG_ERROR' });
    const r = await new ServingEngine(model, strict).serve(tenantRequest);
    assert.equal(r.output.join(), reference.get(requests[0]!.id), 'refused lookup: computed, not cached');
    assert.equal(r.fallbacks, 1);
    const secretSalted = new PrefixCacheConnector(model, s, serdeBlockCodec({ dtype: 'fp32', secret: null }), { saltSecret: 'a tenant salt secret of some length' });
    const named = new PrefixCacheConnector(model, s, serdeBlockCodec({ dtype: 'fp32', secret: null }), { nameDerivedSalts: true });
    assert.notEqual(secretSalted.namespaceFor('tenant-x').hash, named.namespaceFor('tenant-x').hash, 'a secret-derived salt differs from the name');
    assert.ok((await named.health()).warnings.some((w) => /no secrecy/.test(w)));
    assert.ok(!(await secretSalted.health()).warnings.some((w) => /no secrecy/.test(w)));
  });
});
