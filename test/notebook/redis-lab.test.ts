import { strict as assert } from 'node:assert';
import { hashBlocks } from '../../lib/src/hashing/block-hash';
import { createNamespace } from '../../lib/src/hashing/namespace';
import { clusterPlacementFigure, clusterWatchFigure, watchClusterFailure } from '../../lib/src/notebook/cluster-demo';
import { compareEvictionPolicies, evictionMapFigure, evictionSummaryRows, evictionTimelineFigure, replayEviction } from '../../lib/src/notebook/eviction';
import { redisTools } from '../../lib/src/notebook/redis-tools';
import { createStore, type RedisClusterStore } from '../../lib/src/store';
import { RedisClusterHarness } from '../harness/redis';
import { expectCode } from '../model/helpers';
import { uniqueNamespace } from '../store/helpers';

describe("notebook 04's scenario drivers (real redis-server processes)", function () {
  this.timeout(90_000);

  describe('redisTools', () => {
    it('finds the installed redis-server and redis-cli with their versions', async () => {
      const tools = await redisTools();
      assert.equal(tools.available, true, tools.message);
      assert.deepEqual(tools.missing, []);
      assert.match(tools.message, /redis-server` \d+\.\d+\.\d+ and `redis-cli` \d+\.\d+\.\d+/);
    });

    it('says exactly what to install when a program is missing (the demos then skip)', async () => {
      const tools = await redisTools({ server: 'redis-server-not-installed-here' });
      assert.equal(tools.available, false);
      assert.deepEqual(tools.missing, ['redis-server-not-installed-here']);
      assert.match(tools.message, /Skipped/);
      assert.match(tools.message, /apt-get install redis-server/);
      assert.match(tools.message, /brew install redis/);
    });
  });

  describe('replayEviction', () => {
    it('under allkeys-lru: Redis evicts, the cache keeps finding blocks, stranded blocks are counted', async () => {
      const r = await replayEviction('allkeys-lru', { maxmemoryBytes: 4 * 2 ** 20, requests: 96, blockBytes: 32 * 1024, progress: 'silent' });
      assert.equal(r.steps.length, 96);
      assert.ok(r.distinctBlocks * r.blockBytes > 1.2 * r.maxmemoryBytes, 'the stream writes more than fits');
      assert.ok(r.evictedKeys > 0, 'Redis evicted keys');
      assert.equal(r.steps.reduce((a, s) => a + s.rejected, 0), 0, 'no write rejected');
      const found = r.steps.reduce((a, s) => a + s.found, 0);
      const unbounded = r.steps.reduce((a, s) => a + s.unbounded, 0);
      assert.ok(found > 0 && found <= unbounded, `found ${found} of ${unbounded}`);
      for (const s of r.steps) assert.ok(s.found <= s.unbounded, 'a bounded cache never finds more than an unbounded one');
      for (const l of r.lookups) {
        assert.equal(l.present.length, l.blocks);
        assert.equal(l.usable + l.evicted + l.stranded, l.blocks);
        assert.equal(l.usable, l.present.indexOf(false) < 0 ? l.blocks : l.present.indexOf(false));
      }
      assert.deepEqual(r.warnings, []);
      const fig = evictionMapFigure(r);
      assert.equal((fig.data[0] as { z: unknown[] }).z.length, r.lookups.length);
    });

    it('under noeviction: nothing is evicted, writes are rejected, the health check warns', async () => {
      const [r] = await compareEvictionPolicies(['noeviction'], { maxmemoryBytes: 3 * 2 ** 20, requests: 64, progress: 'silent' });
      assert.equal(r!.evictedKeys, 0);
      assert.ok(r!.steps.reduce((a, s) => a + s.rejected, 0) > 0, 'OOM rejected writes');
      assert.ok(r!.warnings.some((w) => /noeviction/.test(w)), r!.warnings.join(' | '));
      const [row] = evictionSummaryRows([r!]);
      assert.ok((row!['writes rejected (OOM)'] as number) > 0);
      const fig = evictionTimelineFigure([r!]);
      assert.ok(fig.data.some((t) => String((t as { name: string }).name).includes('writes rejected')));
    });

    it('rejects a policy Redis does not have and sizes that cannot work', async () => {
      await expectCode(() => replayEviction('lru' as never), 'INVALID_INPUT');
      await expectCode(() => replayEviction('allkeys-lru', { maxmemoryBytes: 1024 }), 'INVALID_INPUT');
      await expectCode(() => replayEviction('allkeys-lru', { requests: 0 }), 'INVALID_INPUT');
      await expectCode(() => replayEviction('allkeys-lru', { blockBytes: 2 ** 20, maxmemoryBytes: 4 * 2 ** 20 }), 'INVALID_INPUT');
    });
  });

  describe('watchClusterFailure', () => {
    it('on a cluster without full coverage, live masters keep answering after one is killed', async () => {
      const cluster = await RedisClusterHarness.start({ requireFullCoverage: false, nodeTimeoutMs: 500 });
      const store = (await createStore(cluster.url, { namespace: uniqueNamespace('watch'), commandTimeout: 300 })) as RedisClusterStore;
      try {
        const ns = createNamespace({ modelFingerprint: 'ab'.repeat(32), kvDtype: 'fp16', kvFormatVersion: 2, blockSize: 4 });
        const hashes = hashBlocks(Array.from({ length: 4 * 30 }, (_, i) => i), ns);
        await store.put(hashes.map((hash) => ({ hash, value: Buffer.alloc(64, 7) })));
        const placement = hashes.map((h, block) => ({ block, slot: 0, node: store.nodeFor(h)! }));
        assert.equal(new Set(placement.map((p) => p.node)).size, 3, 'a chain spreads over every master');
        assert.equal(clusterPlacementFigure(placement).data.length, 3);
        await expectCode(() => watchClusterFailure(store, cluster, hashes), 'INVALID_INPUT'); // nothing killed yet
        const victim = cluster.nodes[1]!;
        await victim.kill();
        const w = await watchClusterFailure(store, cluster, hashes, { intervalMs: 100, afterDetectMs: 300 });
        assert.equal(w.requireFullCoverage, false);
        assert.equal(w.liveBlocks, placement.filter((p) => p.node !== victim.address).length);
        assert.ok(w.failDetectedAfterMs !== undefined, 'the other masters flagged the dead one');
        const last = w.samples[w.samples.length - 1]!;
        assert.match(last['killed node flagged'], /fail/);
        assert.equal(last['blocks found (get)'], w.liveBlocks, 'every block on a live master is found');
        assert.equal(last.cluster_state, 'ok');
        assert.equal(clusterWatchFigure([w]).data.length, 2);
      } finally {
        await store.close();
        await cluster.stop();
      }
    });

    it('on a full-coverage cluster (Redis default), every block is a miss once the failure is detected', async () => {
      const cluster = await RedisClusterHarness.start({ requireFullCoverage: true, nodeTimeoutMs: 500 });
      const store = (await createStore(cluster.url, { namespace: uniqueNamespace('watch'), commandTimeout: 300 })) as RedisClusterStore;
      try {
        const ns = createNamespace({ modelFingerprint: 'cd'.repeat(32), kvDtype: 'fp16', kvFormatVersion: 2, blockSize: 4 });
        const hashes = hashBlocks(Array.from({ length: 4 * 12 }, (_, i) => i), ns);
        await store.put(hashes.map((hash) => ({ hash, value: Buffer.alloc(64, 9) })));
        await cluster.nodes[0]!.kill();
        const w = await watchClusterFailure(store, cluster, hashes, { intervalMs: 100, afterDetectMs: 800 });
        assert.equal(w.requireFullCoverage, true);
        const last = w.samples[w.samples.length - 1]!;
        assert.equal(last.cluster_state, 'fail');
        assert.equal(last['blocks found (get)'], 0);
        assert.ok(w.samples.every((s) => s['blocks found (get)'] >= 0), 'the store never threw');
      } finally {
        await store.close();
        await cluster.stop();
      }
    });
  });
});
