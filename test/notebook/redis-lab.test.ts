import { strict as assert } from 'node:assert';
import * as net from 'node:net';
import { LlamaModel, Tokenizer } from '../../lib/src/model';
import {
  clusterDemo,
  evictionDemo,
  evictionFigure,
  evictionSummaryRows,
  inspectKeys,
  keyRowsForDisplay,
  parseMetricsText,
  storeHealthTables,
  storeLatencyFigure,
  storeMetricsTables,
  ttftWithRedis,
  ttlDemo,
  ttlFigure,
} from '../../lib/src/notebook/redis-lab';
import { MemoryStore, createStore, type KVStore, type RedisStore } from '../../lib/src/store';
import { RedisServer } from '../harness/redis';
import { expectCode, tokenIds } from '../model/helpers';
import { blockHash, randomBuffer, uniqueNamespace } from '../store/helpers';

function refuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' }, () => {
      s.destroy();
      resolve(false);
    });
    s.on('error', () => resolve(true));
  });
}

describe('notebook/redis-lab (notebook 04 helpers)', function () {
  this.timeout(60_000);
  let server: RedisServer;
  let model: LlamaModel;
  const open: KVStore[] = [];

  before(async () => {
    server = await RedisServer.start();
    model = await LlamaModel.create('tiny');
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });
  after(async () => {
    model?.dispose();
    await server?.stop();
  });

  async function store(options: { ttlSeconds?: number } = {}): Promise<RedisStore> {
    const s = (await createStore(server.url, { namespace: uniqueNamespace('insp'), ...options })) as RedisStore;
    open.push(s);
    return s;
  }

  describe('inspectKeys', function () {
    it('finds exactly the block keys just stored, with their true byte sizes, by scan and by hash', async () => {
      const s = await store();
      const other = await store(); // another namespace on the same server: must not show up
      const sizes = [1, 100, 4_152, 70_000];
      const entries = sizes.map((n) => ({ hash: blockHash(), value: randomBuffer(n) }));
      assert.equal((await s.put(entries)).stored, 4);
      await other.put([{ hash: blockHash(), value: randomBuffer(10) }]);

      const scan = await inspectKeys(s);
      assert.equal(scan.pattern, `${s.keyPrefix}*`);
      assert.equal(scan.matched, 4);
      assert.deepEqual(new Set(scan.rows.map((r) => r.key)), new Set(entries.map((e) => s.keyFor(e.hash))));
      for (const r of scan.rows) {
        const e = entries.find((x) => s.keyFor(x.hash) === r.key)!;
        assert.equal(r['value bytes'], e.value.length, r.key);
        assert.ok(r['memory bytes']! >= e.value.length, `MEMORY USAGE ${r['memory bytes']} < ${e.value.length}`);
        assert.equal(r.type, 'string');
        assert.equal(r['TTL (s)'], null, 'no TTL on this store');
        assert.equal(r.node, `127.0.0.1:${server.port}`);
      }
      assert.equal(scan.valueBytes, sizes.reduce((a, b) => a + b, 0));

      // In chain order, with a block that was never stored.
      const missing = blockHash();
      const byHash = await inspectKeys(s, { hashes: [entries[2]!.hash, missing, entries[0]!.hash] });
      assert.deepEqual(byHash.rows.map((r) => [r.block, r.exists, r['value bytes']]), [[0, true, 4_152], [1, false, null], [2, true, 1]]);
      assert.equal(byHash.matched, 2);

      // A URL and an explicit pattern give the same keys; limit caps the rows, not the count.
      const viaUrl = await inspectKeys(server.url, { pattern: `${s.keyPrefix}*`, limit: 2 });
      assert.equal(viaUrl.matched, 4);
      assert.equal(viaUrl.rows.length, 2);
      const display = keyRowsForDisplay(viaUrl);
      assert.ok(String(display[0]!.key).endsWith('…'));
    });

    it('reports the TTL of keys written with one', async () => {
      const s = await store({ ttlSeconds: 100 });
      await s.put([{ hash: blockHash(), value: randomBuffer(10) }]);
      const [row] = (await inspectKeys(s)).rows;
      assert.ok(row!['TTL (s)']! > 98 && row!['TTL (s)']! <= 100, `TTL ${row!['TTL (s)']}`);
    });

    it('bad input and unreachable servers give typed errors', async () => {
      await expectCode(() => inspectKeys(42 as unknown as string), 'INVALID_INPUT');
      await expectCode(() => inspectKeys(new MemoryStore()), 'INVALID_INPUT');
      await expectCode(() => inspectKeys(server.url, { limit: 0 }), 'INVALID_INPUT');
      await expectCode(() => inspectKeys(server.url, { hashes: [blockHash()] }), 'INVALID_INPUT');
      await expectCode(() => inspectKeys('redis://127.0.0.1:notaport'), 'CONFIG_ERROR');
      const port = await (async () => {
        const probe = await RedisServer.start();
        await probe.stop();
        return probe.port;
      })();
      await expectCode(() => inspectKeys(`redis://127.0.0.1:${port}`), 'STORE_UNAVAILABLE');
    });
  });

  describe('ttlDemo', function () {
    it('has() leaves the TTL alone, get() refreshes it: one group expires a TTL after the write, the other half a TTL later', async () => {
      const r = await ttlDemo(server.url, { ttlSeconds: 1, sampleMs: 100, blocks: 3 });
      assert.deepEqual(r.touch, { hasFound: 3, getFound: 3 });
      assert.equal(r.checks.afterTtl.hasGroupAlive, 0, JSON.stringify(r.checks));
      assert.equal(r.checks.afterTtl.getGroupAlive, 3, JSON.stringify(r.checks));
      assert.ok(r.checks.allGoneAtEnd);
      const touched = r.samples.find((s) => s.event.startsWith('get()'))!;
      assert.ok(touched['TTL, block read with get() (s)']! >= 0.9, `refreshed TTL ${touched['TTL, block read with get() (s)']}`);
      assert.ok(touched['TTL, block checked with has() (s)']! <= 0.6, `has() TTL ${touched['TTL, block checked with has() (s)']}`);
      assert.equal(ttlFigure(r).data.length, 2);
    });

    it('rejects a TTL of 0 and non-Redis URLs', async () => {
      await expectCode(() => ttlDemo(server.url, { ttlSeconds: 0 }), 'INVALID_INPUT');
      await expectCode(() => ttlDemo('memory://'), 'INVALID_INPUT');
    });
  });

  describe('evictionDemo', function () {
    it('allkeys-lru under a small maxmemory: Redis evicts, lookups stop at the first hole, later blocks are stranded', async () => {
      const r = await evictionDemo({ maxmemory: '4mb', policy: 'allkeys-lru', requests: 96, blockBytes: 32_768, progress: 'silent' });
      assert.ok(r.evictedKeys > 0, `evicted_keys ${r.evictedKeys}`);
      assert.equal(r.rejected, 0);
      assert.ok(r.usedMemoryBytes <= r.maxmemoryBytes * 1.05, `used ${r.usedMemoryBytes} > maxmemory ${r.maxmemoryBytes}`);
      assert.ok(r.stored > r.keys, 'more blocks were written than are left');
      assert.ok(r.blocksFound < r.blocksFoundUnbounded, 'evictions cost reuse');
      // Each final lookup is the leading run of present blocks; blocks after the hole are stranded.
      r.lookups.forEach((l, i) => {
        const present = r.present[i]!;
        const hole = present.indexOf(false);
        assert.equal(l['usable prefix (blocks)'], hole < 0 ? present.length : hole);
        assert.equal(l['first hole at block'], hole < 0 ? '' : hole);
        assert.equal(l['stranded blocks'], hole < 0 ? 0 : present.slice(hole + 1).filter(Boolean).length);
      });
      assert.ok(r.lookups.some((l) => l['stranded blocks'] > 0 && l['usable prefix (blocks)'] < l.blocks), 'some chain has a hole with blocks after it');
      assert.equal(evictionFigure(r).data.length, 1);
    });

    it('noeviction: writes are rejected (OOM) instead, nothing is evicted, health warns', async () => {
      const r = await evictionDemo({ maxmemory: '3mb', policy: 'noeviction', requests: 64, progress: 'silent' });
      assert.equal(r.evictedKeys, 0);
      assert.ok(r.rejected > 0, 'some writes failed');
      assert.ok(r.health.warnings.some((w) => /noeviction/.test(w)), r.health.warnings.join('\n'));
      assert.equal(evictionSummaryRows([r])[0]!['writes rejected (OOM)'], r.rejected);
    });

    it('bad options give INVALID_INPUT', async () => {
      await expectCode(() => evictionDemo({ policy: 'lru' as never }), 'INVALID_INPUT');
      await expectCode(() => evictionDemo({ maxmemory: 'lots' }), 'INVALID_INPUT');
      await expectCode(() => evictionDemo({ maxmemory: '1kb' }), 'INVALID_INPUT');
      await expectCode(() => evictionDemo({ requests: 0 }), 'INVALID_INPUT');
    });
  });

  describe('clusterDemo', function () {
    it('blocks land on all 3 masters; after one is killed, gets hit exactly the blocks on live masters and nothing throws', async () => {
      // A generous deadline: the test asserts that every block on a live master hits, which a loaded
      // machine could turn into a timeout-miss under the notebook's 300 ms.
      const demo = await clusterDemo({ commandTimeout: 2000 });
      try {
        assert.equal(demo.nodes.length, 3);
        const tokens = tokenIds(32 * 16 + 1, model.config.vocabSize, 3);
        const first = await demo.serve(model, tokens);
        assert.equal(first.hashes.length, 32);
        assert.equal(first.record.reusedTokens, 0);
        const placed = await demo.placement(first.hashes);
        for (const n of placed.perNode) assert.ok(n.blocks > 0, `blocks per master: ${JSON.stringify(placed.perNode)}`);
        assert.ok(placed.rows.every((r) => r['on that node'] && r['value bytes']! > 0), 'every block is on the master its slot names');

        // redis-cli-style inspection sees the same placement, through the store and through a cluster URL.
        const viaStore = await inspectKeys(demo.store, { limit: 100 });
        const viaUrl = await inspectKeys(demo.url, { pattern: `${demo.store.keyPrefix}*`, limit: 100 });
        for (const inspection of [viaStore, viaUrl]) {
          assert.equal(inspection.matched, 32);
          assert.deepEqual(
            Object.fromEntries(inspection.perNode.map((n) => [n.node, n.keys])),
            Object.fromEntries(placed.perNode.map((n) => [n.node, n.blocks])),
          );
          for (const r of inspection.rows) assert.equal(r.node, placed.rows.find((p) => demo.store.keyFor(first.hashes[p.block]!) === r.key)!.node);
        }

        const firstBlocks = placed.perNode.map((n) => Number(n['first block']));
        assert.equal(placed.perNode.find((n) => n.node === placed.suggestedVictim)!['first block'], Math.max(...firstBlocks));
        const victim = await demo.killNode(placed.suggestedVictim);
        assert.equal(victim.alive, false);
        assert.ok(await refuses(victim.port));
        const probe = await demo.probe(first.hashes);
        const onDead = placed.rows.map((r) => r.node === victim.address);
        probe.rows.forEach((r, i) => {
          assert.equal(r['get()'] === 'hit', !onDead[i], `block ${i} on ${r.node}`);
          assert.equal(r['has()'], !onDead[i], `block ${i} on ${r.node}`);
        });
        assert.equal(probe.summary['exceptions thrown'], 0);
        assert.equal(probe.summary['unexpected answers'], 0);
        assert.equal(probe.summary['get() hits'], onDead.filter((d) => !d).length);
        assert.ok(probe.summary['fallbacks counted'] > 0, 'the failed node is counted as fallbacks');

        // The engine still answers, reusing the prefix up to the first block that lived on the dead node.
        const again = await demo.serve(model, tokens);
        assert.ok(onDead.indexOf(true) > 0);
        assert.equal(again.record.reusedTokens, onDead.indexOf(true) * 16);
        assert.deepEqual(again.record.output, first.record.output);
        const health = storeHealthTables(await demo.health());
        assert.ok(health.nodes.some((n) => n.reachable === '✗' && n.node === victim.address));
      } finally {
        await demo.stop();
      }
      for (const n of demo.nodes) assert.ok(await refuses(n.port), `node ${n.address} still up after stop()`);
    });

    it('rejects bad options', async () => {
      await expectCode(() => clusterDemo({ masters: 1 }), 'INVALID_INPUT');
      await expectCode(() => clusterDemo({ requireFullCoverage: 'yes' as unknown as boolean }), 'INVALID_INPUT');
    });
  });

  describe('ttftWithRedis', function () {
    it('reuses KV stored in Redis (a second worker finds all of it), same outputs, metrics count the tokens', async () => {
      const tokenizer = new Tokenizer();
      const r = await ttftWithRedis(model, tokenizer, server.url, { count: 4, sharedTokens: 160, dtype: 'fp32', progress: 'silent' });
      assert.equal(r.sameOutputs, true);
      const { noCache, workerA, workerB } = r.passes;
      noCache.forEach((x) => assert.equal(x.reusedTokens, 0));
      assert.equal(workerA[0]!.reusedTokens, 0, 'worker A starts with an empty namespace');
      assert.ok(workerA.slice(1).every((x) => x.reusedTokens >= 160 - 32), 'later requests reuse the shared prefix');
      workerB.forEach((x, i) => {
        assert.equal(x.reusedTokens, Math.floor((x.promptTokens - 1) / 16) * 16, `worker B, request ${i}`);
        assert.deepEqual(x.output, noCache[i]!.output);
        assert.equal(x.computedTokens, x.promptTokens - x.reusedTokens);
      });
      const tables = storeMetricsTables(r.metricsText);
      const hit = (name: string): number => Number(tables.tokens.find((t) => t.store === name)?.['hit tokens']);
      assert.equal(hit('worker-a'), workerA.reduce((a, x) => a + x.reusedTokens, 0));
      assert.equal(hit('worker-b'), workerB.reduce((a, x) => a + x.reusedTokens, 0));
      assert.ok(storeLatencyFigure(r.metricsText).data.length >= 2);

      // The first request's blocks are in Redis, each one serialized block of the same size.
      const s = (await createStore(server.url, { namespace: r.namespace })) as RedisStore;
      open.push(s);
      const keys = await inspectKeys(s, { hashes: r.firstChain, limit: 100 });
      assert.equal(keys.matched, r.firstChain.length);
      const sizes = new Set(keys.rows.map((k) => k['value bytes']));
      assert.equal(sizes.size, 1);
      const perBlock = 2 * model.config.numLayers * model.config.numKvHeads * 16 * model.config.headDim * 4; // fp32 K and V
      assert.ok([...sizes][0]! > perBlock && [...sizes][0]! < perBlock + 512, `block value ${[...sizes][0]} bytes, payload ${perBlock}`);
      assert.ok(keys.rows.every((k) => k['TTL (s)']! > 3500), 'stored with the default TTL of an hour');
    });

    it('bad input gives INVALID_INPUT / CONFIG_ERROR', async () => {
      const tokenizer = new Tokenizer();
      await expectCode(() => ttftWithRedis(null as unknown as LlamaModel, tokenizer, server.url), 'INVALID_INPUT');
      await expectCode(() => ttftWithRedis(model, {} as never, server.url), 'INVALID_INPUT');
      await expectCode(() => ttftWithRedis(model, tokenizer, ''), 'INVALID_INPUT');
      await expectCode(() => ttftWithRedis(model, tokenizer, 'redis://127.0.0.1:1/notadb'), 'CONFIG_ERROR');
      await expectCode(() => ttftWithRedis(model, tokenizer, server.url, { dtype: 'fp8' as never }), 'INVALID_INPUT');
    });
  });

  describe('health and metrics tables', function () {
    it('parses the Prometheus text format, escaped label values included', () => {
      const samples = parseMetricsText('# HELP x y\n# TYPE x counter\nx{a="q\\"uote",b="back\\\\slash"} 3\ny 1.5e3\nz_bucket{le="+Inf"} 7\n');
      assert.deepEqual(samples, [
        { name: 'x', labels: { a: 'q"uote', b: 'back\\slash' }, value: 3 },
        { name: 'y', labels: {}, value: 1500 },
        { name: 'z_bucket', labels: { le: '+Inf' }, value: 7 },
      ]);
      assert.throws(() => parseMetricsText('not a sample line at all {'), { code: 'INVALID_INPUT' });
      assert.throws(() => storeHealthTables(null as never), { code: 'INVALID_INPUT' });
    });

    it('turns a real health() report into tables with the server and its warnings', async () => {
      const s = await store();
      const t = storeHealthTables(await s.health());
      assert.equal(t.summary[0]!.ok, '✓');
      assert.equal(t.nodes[0]!.node, `127.0.0.1:${server.port}`);
      assert.ok(t.warnings.some((w) => /maxmemory is 0/.test(String(w.warning))));
    });
  });
});
