import { strict as assert } from 'node:assert';
import { Registry } from 'prom-client';
import { MemoryStore, RedisStore, TieredStore, createStore } from '../../lib/src/store';
import { RedisServer } from '../harness/redis';
import { blockHash, hashes, metricValue, uniqueNamespace } from './helpers';
import { describeStoreSuite } from './suite';

const MiB = 1024 * 1024;

describe('store: TieredStore (memory L1 + Redis L2)', function () {
  let server: RedisServer;
  const open: TieredStore[] = [];

  async function make(l1Bytes = 32 * MiB): Promise<TieredStore> {
    const registry = new Registry();
    const l2 = new RedisStore({ url: server.url, namespace: uniqueNamespace(), registry });
    await l2.ready();
    const store = new TieredStore({ l1: { maxBytes: l1Bytes }, l2, registry });
    open.push(store);
    return store;
  }

  before(async () => {
    server = await RedisServer.start();
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });
  after(async () => {
    await server.stop();
  });

  describeStoreSuite('TieredStore', async () => {
    const l2 = new RedisStore({ url: server.url, namespace: uniqueNamespace() });
    await l2.ready();
    return new TieredStore({ l1: { maxBytes: 32 * MiB }, l2 });
  });

  it('promotes L2 hits into L1 and counts hits per tier', async () => {
    const store = await make();
    const [a, b] = hashes(2) as [string, string];
    await store.l2.put([{ hash: a, value: Buffer.from('from-l2') }]); // another worker wrote it
    assert.deepEqual(await store.l1.has([a]), [false]);
    assert.equal((await store.get([a, b]))[0]?.toString(), 'from-l2');
    assert.deepEqual(await store.l1.has([a]), [true], 'promoted');
    assert.equal((await store.get([a]))[0]?.toString(), 'from-l2');
    const s = store.stats();
    assert.deepEqual(s.hitsByTier, { redis: 1, memory: 1 });
    assert.equal(s.hits, 2);
    assert.equal(s.misses, 1);
    assert.equal(s.promoted, 1);
    assert.equal(s.tiers?.[0]?.tier, 'memory');
    assert.equal(s.tiers?.[1]?.tier, 'redis');
    // L2 was asked only for what L1 missed.
    assert.equal(s.tiers?.[1]?.lookups, 1);
    const text = await store.metricsText();
    assert.equal(metricValue(text, 'kvlab_store_hits_total', { tier: 'memory', op: 'get' }), 1);
    assert.equal(metricValue(text, 'kvlab_store_hits_total', { tier: 'redis', op: 'get' }), 1);
    assert.equal(metricValue(text, 'kvlab_store_misses_total', { tier: 'redis', op: 'get' }), 1);
    assert.equal(metricValue(text, 'kvlab_store_hits_total', { tier: 'tiered', op: 'get' }), 2);
  });

  it('has() asks L2 only for L1 misses', async () => {
    const store = await make();
    const [a, b, c] = hashes(3) as [string, string, string];
    await store.put([{ hash: a, value: Buffer.from('a') }]);
    await store.l2.put([{ hash: b, value: Buffer.from('b') }]);
    assert.deepEqual(await store.has([a, b, c]), [true, true, false]);
    assert.equal(store.stats().tiers?.[1]?.hits, 1);
    assert.equal(store.stats().tiers?.[1]?.misses, 1);
  });

  it('falls back to L2 when L1 evicted a block', async () => {
    const store = await make(3000);
    const hs = hashes(5);
    await store.put(hs.map((hash) => ({ hash, value: Buffer.alloc(1000, 1) })));
    assert.ok((store.l1 as MemoryStore).size < 5, 'L1 evicted some');
    assert.deepEqual(await store.has(hs), [true, true, true, true, true]);
    const got = await store.get(hs);
    assert.equal(got.filter(Boolean).length, 5);
    assert.ok((store.stats().hitsByTier.redis ?? 0) > 0, 'served by redis');
  });

  it('a block larger than L1 goes to L2 only', async () => {
    const store = await make(10_000);
    const h = blockHash();
    const r = await store.put([{ hash: h, value: Buffer.alloc(20_000) }]);
    assert.deepEqual(r.statuses, ['stored']);
    assert.deepEqual(await store.l1.has([h]), [false]);
    assert.equal((await store.get([h]))[0]?.length, 20_000);
  });

  it('put: L2 decides (SET NX); an existing L2 block is not shadowed in L1 by another value', async () => {
    const store = await make();
    const h = blockHash();
    await store.l2.put([{ hash: h, value: Buffer.from('first') }]);
    assert.deepEqual((await store.put([{ hash: h, value: Buffer.from('second') }])).statuses, ['exists']);
    assert.equal((await store.get([h]))[0]?.toString(), 'first');
  });

  it('one Prometheus exposition for the tiered store and both tiers', async () => {
    const store = await make();
    await store.get([blockHash()]);
    const text = await store.metricsText();
    const helps = text.split('\n').filter((l) => l.startsWith('# HELP kvlab_store_lookups_total'));
    assert.equal(helps.length, 1);
    for (const tier of ['tiered', 'memory', 'redis']) {
      assert.equal(metricValue(text, 'kvlab_store_lookups_total', { tier, op: 'get' }), 1, tier);
    }
  });

  it('merges expositions of tiers that use different registries', async () => {
    const l2 = new RedisStore({ url: server.url, namespace: uniqueNamespace() });
    const store = new TieredStore({ l1: new MemoryStore(), l2 });
    open.push(store);
    await l2.ready();
    await store.get([blockHash()]);
    const text = await store.metricsText();
    assert.equal(text.split('\n').filter((l) => l.startsWith('# HELP kvlab_store_lookups_total')).length, 1);
    for (const tier of ['tiered', 'memory', 'redis']) {
      assert.equal(metricValue(text, 'kvlab_store_lookups_total', { tier, op: 'get' }), 1, tier);
    }
  });

  it('health lists both tiers', async () => {
    const store = await make();
    const h = await store.health();
    assert.equal(h.ok, true);
    assert.deepEqual(h.tiers?.map((t) => t.tier), ['memory', 'redis']);
    assert.ok(h.warnings.every((w) => w.startsWith('L1 ') || w.startsWith('L2 ')), h.warnings.join('\n'));
  });

  it('createStore({ kind: "tiered" }) builds both tiers on one registry', async () => {
    const store = (await createStore({ kind: 'tiered', l1: { maxBytes: MiB }, l2: `${server.url}?namespace=${uniqueNamespace()}` })) as TieredStore;
    open.push(store);
    assert.ok(store instanceof TieredStore, 'store instanceof TieredStore');
    assert.equal(store.l1.metrics.registry, store.l2.metrics.registry);
    assert.equal(store.metrics.registry, store.l2.metrics.registry);
    const h = blockHash();
    await store.put([{ hash: h, value: Buffer.from('x') }]);
    assert.deepEqual(await store.l2.has([h]), [true]);
  });
});
