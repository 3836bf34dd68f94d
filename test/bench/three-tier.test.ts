/**
 * The three cache layers (device → host memory → Redis): each prompt token is attributed to the
 * layer that supplied it, the counts add up, a hit from any layer gives the no-cache output, and
 * each layer answers once the layers above it have lost the blocks.
 */
import { strict as assert } from 'node:assert';
import { LlamaModel } from '../../lib/src/model';
import { MemoryStore, TieredStore, createStore } from '../../lib/src/store';
import { NoCacheConnector, ServingEngine, serdeBlockCodec, type ServeRequest } from '../../lib/src/engine';
import { DeviceBlockCache, ThreeTierConnector } from '../../lib/src/bench/three-tier';
import { runTiersBench, type TierSetupResult } from '../../lib/src/bench/tiers';
import type { KVCacheArrays } from '../../lib/src/model';
import { RedisServer } from '../harness/redis';

function seq(n: number, offset = 0): number[] {
  return Array.from({ length: n }, (_, i) => (i * 7919 + offset * 104729) % 50000);
}

describe('three cache layers: device → host memory → Redis', function () {
  this.timeout(60_000);
  let model: LlamaModel;
  let server: RedisServer;
  const codec = serdeBlockCodec({ dtype: 'fp32', secret: null });
  const shared = seq(64);
  const a: ServeRequest = { id: 'a', tokens: [...shared, ...seq(40, 1)], maxNewTokens: 3 };
  const b: ServeRequest = { id: 'b', tokens: [...shared, ...seq(40, 2)], maxNewTokens: 3 };
  const a2: ServeRequest = { id: 'a2', tokens: [...a.tokens, ...seq(20, 3)], maxNewTokens: 3 };
  const reference = new Map<string, number[]>();

  before(async () => {
    model = await LlamaModel.create('tiny', { seed: 0 });
    server = await RedisServer.start();
    const engine = new ServingEngine(model, new NoCacheConnector());
    for (const r of [a, b, a2]) reference.set(r.id, (await engine.serve(r)).output);
  });
  after(async () => {
    model.dispose();
    await server.stop();
  });

  const tiered = async (ns: string): Promise<TieredStore> => {
    const store = await createStore(server.url, { namespace: ns, l1Bytes: 8 * 2 ** 20 });
    assert.ok(store instanceof TieredStore);
    return store;
  };

  it('the device LRU keeps the most recently used blocks; a probe does not refresh', () => {
    const cache = new DeviceBlockCache(2);
    const blk = {} as KVCacheArrays;
    const [h1, h2, h3] = ['1', '2', '3'].map((c) => c.repeat(64)) as [string, string, string];
    cache.put(h1, blk);
    cache.put(h2, blk);
    assert.ok(cache.has(h1)); // a probe: h1 stays least recently used
    cache.put(h3, blk);
    assert.deepEqual([cache.has(h1), cache.has(h2), cache.has(h3)], [false, true, true]);
    cache.get(h2); // a use: h3 is now the oldest
    cache.put(h1, blk);
    assert.deepEqual([cache.has(h1), cache.has(h2), cache.has(h3)], [true, true, false]);
    assert.equal(cache.evictions, 2);
    // A prompt longer than the cache: its first blocks are kept, the first one most recently used.
    const run = new DeviceBlockCache(3);
    const hs = ['a', 'b', 'c', 'd', 'e'].map((c) => c.repeat(64));
    const made: number[] = [];
    run.putPrefix(hs, (i) => (made.push(i), blk));
    assert.deepEqual(hs.map((h) => run.has(h)), [true, true, true, false, false]);
    assert.deepEqual(made, [2, 1, 0], 'the tail is never even built');
    run.put(h1, blk);
    assert.deepEqual(hs.slice(0, 3).map((h) => run.has(h)), [true, true, false], 'block 2 was the least recently used, block 0 the most');
    const none = new DeviceBlockCache(0);
    none.put(h1, blk);
    assert.equal(none.size, 0);
    assert.throws(() => new DeviceBlockCache(-1), { code: 'INVALID_INPUT' });
  });

  it('attributes every prompt token to one layer, and outputs equal the no-cache run', async () => {
    const store = await tiered('three-a');
    const connector = new ThreeTierConnector(model, store, codec, { deviceBlocks: 64 });
    const engine = new ServingEngine(model, connector);
    const ra = await engine.serve(a);
    assert.deepEqual(connector.lastRequest, { device: 0, host: 0, remote: 0, computed: a.tokens.length });
    const rb = await engine.serve(b);
    assert.deepEqual(connector.lastRequest, { device: 64, host: 0, remote: 0, computed: b.tokens.length - 64 }, 'the shared blocks are still in the engine');
    const ra2 = await engine.serve(a2);
    assert.equal(connector.lastRequest.device, 96, "a2 extends a: a's six full blocks, from the engine's memory");
    for (const r of [ra, rb, ra2]) {
      assert.deepEqual(r.output, reference.get(r.id), `${r.id}: same output as without a cache`);
      assert.equal(r.fallbacks, 0);
    }
    const t = connector.tokens;
    assert.equal(t.device + t.host + t.remote + t.computed, a.tokens.length + b.tokens.length + a2.tokens.length);
    assert.equal(t.device + t.host + t.remote, ra.reusedTokens + rb.reusedTokens + ra2.reusedTokens);
    // The same counts reach the store's token counters (and its Prometheus metrics), per layer.
    const tokens = store.stats().tokens;
    assert.deepEqual(tokens.device, { hit: t.device, miss: 0 });
    assert.deepEqual(tokens.remote, { hit: t.remote, miss: t.computed });
    await connector.close();
  });

  it('each layer answers once the layers above it have lost the blocks', async () => {
    const ns = 'three-b';
    const first = new ThreeTierConnector(model, await tiered(ns), codec, { deviceBlocks: 64 });
    await new ServingEngine(model, first).serve(a);
    const host = first.store as TieredStore;

    // A fresh engine (its device layer empty) on the same host memory and Redis: host memory serves.
    const second = new ThreeTierConnector(model, host, codec, { deviceBlocks: 64 });
    const rb = await new ServingEngine(model, second).serve(b);
    assert.deepEqual(second.lastRequest, { device: 0, host: 64, remote: 0, computed: b.tokens.length - 64 });
    assert.deepEqual(rb.output, reference.get('b'));

    // Another machine: empty device and host layers, the same Redis — Redis serves.
    const third = new ThreeTierConnector(model, await tiered(ns), codec, { deviceBlocks: 64 });
    const ra2 = await new ServingEngine(model, third).serve(a2);
    assert.deepEqual(third.lastRequest, { device: 0, host: 0, remote: 96, computed: a2.tokens.length - 96 });
    assert.deepEqual(ra2.output, reference.get('a2'));
    // Redis' blocks were promoted into this machine's host memory and device layer on the way.
    const again = await new ServingEngine(model, third).serve(a2);
    assert.equal(third.lastRequest.device, 96 + 16, 'a2 is now cached whole in the engine (its last full block too)');
    assert.deepEqual(again.output, reference.get('a2'));
    await Promise.all([first.close(), third.close()]);
  });

  it('works over a single store: all its hits count for the layer it plays', async () => {
    const mem = new ThreeTierConnector(model, new MemoryStore(), codec);
    const engine = new ServingEngine(model, mem);
    await engine.serve(a);
    await engine.serve(b);
    assert.deepEqual(mem.lastRequest, { device: 0, host: 64, remote: 0, computed: b.tokens.length - 64 });
    await mem.close();
  });
});

describe('bench: hit rates per layer (runTiersBench)', function () {
  this.timeout(120_000);
  it('serves one stream through each layer set; every token is counted once, by the layer that supplied it', async () => {
    const r = await runTiersBench({
      preset: 'tiny',
      seed: 0,
      dtype: 'fp16',
      blockSize: 16,
      workload: 'chat',
      workloadOptions: { requests: 12, sessions: 3, sharedTokens: 128, turnTokens: 32, maxNewTokens: 1 },
      capacity: { device: 0.1, host: 0.3, remote: 0.6 },
      showProgress: false,
    });
    assert.deepEqual(r.runs.map((x) => x.setup), ['remote', 'host+remote', 'device+host+remote']);
    for (const run of r.runs) {
      const t = run.tokens;
      assert.equal(t.device + t.host + t.remote + t.computed, r.stream.promptTokens, run.setup);
      assert.equal(run.perRequest.length, r.stream.requests);
      assert.ok(t.device + t.host + t.remote <= r.stream.oracleTokens, `${run.setup}: no layer set beats an infinite cache`);
    }
    const [remote, hostRemote, all] = r.runs as [TierSetupResult, TierSetupResult, TierSetupResult];
    assert.equal(remote.tokens.device + remote.tokens.host, 0);
    assert.equal(remote.hitRateOfReached.host, null);
    assert.equal(hostRemote.tokens.device, 0);
    assert.ok(all.tokens.device > 0, 'the device layer serves the shared system prompt');
    assert.ok(r.layers.deviceBlocks < r.layers.hostBlocks && r.layers.hostBlocks < r.layers.remoteBlocks && r.layers.remoteBlocks < r.stream.distinctBlocks);
  });
});
