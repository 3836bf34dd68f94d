/**
 * A Redis too small for the working set (maxmemory 2 MB, allkeys-lru) evicts blocks while the
 * stream runs: outputs stay identical to no-cache, and lookups stop at the first evicted block.
 */
import { strict as assert } from 'node:assert';
import type { Redis } from 'ioredis';
import { createStore, type KVStore } from '../../lib/src/store';
import { PrefixCacheConnector, ServingEngine, serdeBlockCodec, type RequestRecord, type ServeRequest } from '../../lib/src/engine';
import { hashBlocks, prefixLength } from '../../lib/src/hashing';
import type { LlamaModel } from '../../lib/src/model';
import { RedisServer } from '../harness/redis';
import { info, rawClient, referenceOutputs, serveArriving, stream, tinyModel, wrongOutputs } from './helpers';

describe('reliability: eviction under maxmemory + allkeys-lru', function () {
  this.timeout(90_000);
  let model: LlamaModel;
  let server: RedisServer;
  let store: KVStore;
  let raw: Redis;
  let requests: ServeRequest[];
  let reference: Map<string, string>;

  before(async () => {
    model = await tinyModel(0);
    requests = [...stream('agent', { requests: 24, seed: 3, prefix: 'ev-a' }), ...stream('rag', { requests: 24, seed: 4, prefix: 'ev-r' })];
    reference = await referenceOutputs(model, requests);
    // An empty Redis 7 uses ~0.9 MB: 2 MB leaves room for ~120 fp32 blocks of the tiny model (8 KiB
    // each), far below the stream's ~500 distinct blocks.
    server = await RedisServer.start({ args: ['--maxmemory', '2mb', '--maxmemory-policy', 'allkeys-lru'] });
    store = await createStore(server.url, { namespace: 'evict' });
    raw = rawClient(server.port);
  });

  after(async () => {
    await raw?.quit();
    await store?.close();
    await server?.stop();
  });

  it('outputs stay identical to no-cache while Redis evicts; every lookup stops at the first hole', async () => {
    const connector = new PrefixCacheConnector(model, store, serdeBlockCodec({ dtype: 'fp32' }));
    const engine = new ServingEngine(model, connector);
    const ns = connector.namespaceFor(undefined);
    const keyOf = (h: string): string => `kvlab:evict:${h}`;
    const presence = async (r: ServeRequest): Promise<boolean[]> => {
      const hs = hashBlocks(r.tokens, ns).slice(0, Math.floor((r.tokens.length - 1) / 16));
      if (hs.length === 0) return [];
      const p = raw.pipeline();
      for (const h of hs) p.exists(keyOf(h));
      return ((await p.exec()) ?? []).map(([, n]) => n === 1);
    };

    const records: RequestRecord[] = [];
    let checked = 0;
    let stoppedAtHole = 0;
    for (const r of requests) {
      records.push(await serveArriving(engine, r));
      // After each request, check the lookup of a few earlier prompts against what Redis holds now.
      for (const probe of [requests[(records.length * 7) % records.length]!, r]) {
        const before = await presence(probe);
        const match = await connector.getMatchedTokens(probe);
        const afterwards = await presence(probe);
        if (before.join() !== afterwards.join()) continue; // changed under us: not a fair comparison
        const k = prefixLength(before);
        assert.equal(match.matchedTokens, k * 16, `${probe.id}: matched ${match.matchedTokens} tokens, Redis holds a prefix of ${k} blocks`);
        checked++;
        if (before.slice(k + 1).some(Boolean)) stoppedAtHole++; // blocks after the hole exist but are not used
      }
    }

    assert.deepEqual(wrongOutputs(records, reference), [], 'outputs equal the no-cache run');
    const stats = await info(server, 'stats');
    const evicted = Number(stats.evicted_keys);
    assert.ok(evicted > 0, `Redis evicted keys (evicted_keys ${evicted})`);
    assert.ok(checked >= requests.length, `lookups checked: ${checked}`);
    assert.ok(stoppedAtHole > 0, 'some lookups found blocks after a hole and did not use them');
    const reused = records.reduce((a, r) => a + r.reusedTokens, 0);
    assert.ok(reused > 0, 'the cache still helps while it evicts');
    const mem = await info(server, 'memory');
    assert.ok(Number(mem.used_memory) <= Number(mem.maxmemory) * 1.1, `used ${mem.used_memory} of ${mem.maxmemory}`);
    const s = store.stats();
    assert.equal(s.failedWrites, 0, 'allkeys-lru makes room: no write fails with OOM');
    assert.deepEqual((await store.health()).warnings, [], 'a correctly configured cache gets no warnings');
    console.log(
      `      eviction: ${evicted} keys evicted, ${Number(await server.cli('DBSIZE'))} kept; ${reused} tokens reused; ` +
        `${checked} lookups checked, ${stoppedAtHole} stopped at a hole with blocks after it; request fallbacks ${records.reduce((a, r) => a + r.fallbacks, 0)}`,
    );
  });

  it('a block evicted between lookup and load: the load stops there and the request recomputes the rest', async () => {
    const connector = new PrefixCacheConnector(model, store, serdeBlockCodec({ dtype: 'fp32' }));
    const engine = new ServingEngine(model, connector);
    // A short prompt (7 blocks): it fits next to everything else, so only our own delete makes a hole.
    const r: ServeRequest = { ...requests[5]!, id: 'ev-short', tokens: requests[5]!.tokens.slice(0, 7 * 16 + 5) };
    reference.set(r.id, (await referenceOutputs(model, [r])).get(r.id)!);
    await engine.serve({ ...r, id: 'warm' });
    const match = await connector.getMatchedTokens(r);
    const blocks = match.matchedTokens / 16;
    assert.equal(blocks, 7, 'the short prompt is cached');
    const hs = hashBlocks(r.tokens, connector.namespaceFor(undefined));
    const hole = Math.floor(blocks / 2);
    assert.equal(await raw.del(`kvlab:evict:${hs[hole]}`), 1); // "evicted" right after the lookup
    const load = await connector.load(r, match);
    assert.equal(load.tokens, hole * 16, 'loads the blocks before the hole only');
    assert.equal(load.fallbacks, 1);
    load.kv?.dispose();
    const served = await engine.serve(r);
    assert.equal(served.output.join(','), reference.get(r.id));
    assert.equal(served.reusedTokens, hole * 16);
  });
});
