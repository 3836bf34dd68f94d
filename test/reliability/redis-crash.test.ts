/**
 * Redis dies in the middle of a request stream (SIGKILL, no persistence) and comes back on the same
 * port. The engine and its store are never restarted.
 */
import { strict as assert } from 'node:assert';
import { createStore, type KVStore, type RedisStore } from '../../lib/src/store';
import { PrefixCacheConnector, ServingEngine, serdeBlockCodec, type RequestRecord, type ServeRequest } from '../../lib/src/engine';
import type { LlamaModel } from '../../lib/src/model';
import { RedisServer } from '../harness/redis';
import { FAST_FAILURE, referenceOutputs, serveArriving, sleep, storeMs, stream, tinyModel, waitFor, wrongOutputs } from './helpers';

describe('reliability: Redis dies mid-run and comes back', function () {
  this.timeout(90_000);
  let model: LlamaModel;
  let server: RedisServer;
  let store: KVStore;
  let requests: ServeRequest[];
  let reference: Map<string, string>;

  before(async () => {
    model = await tinyModel(0);
    requests = stream('agent', { requests: 36, seed: 11, prefix: 'crash' });
    reference = await referenceOutputs(model, requests);
    server = await RedisServer.start();
    store = await createStore(server.url, { namespace: 'crash', ...FAST_FAILURE });
  });

  after(async () => {
    await store?.close();
    await server?.stop();
  });

  it('every request completes with the no-cache output, within the timeout; hits resume after a restart on the same port', async () => {
    const engine = new ServingEngine(model, new PrefixCacheConnector(model, store, serdeBlockCodec({ dtype: 'fp32' })));
    const redis = store as RedisStore;
    // The longest a request may spend on the store: lookup + load + save, each bounded by the
    // store's deadline (commandTimeout + transfer allowance), plus scheduling slack.
    const perOp = redis.deadlineFor(2 * 1024 * 1024) + 150;
    type Timed = RequestRecord & { startedAt: number };
    const up: Timed[] = [];
    const down: Timed[] = [];
    const after: Timed[] = [];

    for (const r of requests.slice(0, 12)) up.push(await serveArriving(engine, r));
    const keysBefore = Number(await server.cli('DBSIZE'));
    assert.ok(keysBefore > 0, 'blocks were written before the crash');
    assert.ok(up.some((r) => r.reusedTokens > 0), 'the cache is used before the crash');

    // SIGKILL lands while request 12 is being served (its lookup has already been sent).
    const killed = sleep(2).then(() => server.kill());
    down.push(await serveArriving(engine, requests[12]!));
    await killed;
    for (const r of requests.slice(13, 24)) down.push(await serveArriving(engine, r));
    const health = await store.health();
    assert.equal(health.ok, false, 'health reports the outage');
    assert.equal(health.reachable, false);

    await server.restart(); // same port, empty: no persistence
    const restartedAt = Date.now();
    for (const r of requests.slice(24)) after.push(await serveArriving(engine, r));

    const all = [...up, ...down, ...after];
    assert.deepEqual(wrongOutputs(all, reference), [], 'outputs equal the no-cache run');
    assert.equal(all.length, requests.length);

    // While Redis was down: no reuse, every request computed its whole prompt and counted fallbacks.
    for (const r of down.slice(1)) {
      assert.equal(r.reusedTokens, 0, `${r.id} reused tokens from a dead server`);
      assert.ok(r.fallbacks >= 1, `${r.id}: the failed lookup/save is counted (fallbacks ${r.fallbacks})`);
    }
    const stats = store.stats();
    assert.ok(stats.fallbacks >= down.length, `store fallbacks ${stats.fallbacks}`);
    assert.ok(stats.errors > 0);

    // Nothing waited past the configured deadline.
    for (const r of all) {
      assert.ok(r.lookupMs < perOp, `${r.id}: lookup took ${r.lookupMs.toFixed(0)} ms (deadline ${perOp} ms)`);
      assert.ok(r.loadMs < perOp, `${r.id}: load took ${r.loadMs.toFixed(0)} ms`);
      assert.ok(r.saveMs < perOp, `${r.id}: save took ${r.saveMs.toFixed(0)} ms`);
      assert.ok(storeMs(r) < 3 * perOp);
    }
    const slowestDown = Math.max(...down.map(storeMs));

    // After the restart: the same store reconnects by itself and the cache is used again.
    assert.ok(after.some((r) => r.reusedTokens > 0), `hits resume after the restart (reused: ${after.map((r) => r.reusedTokens).join(',')})`);
    const firstHit = after.find((r) => r.reusedTokens > 0)!;
    const recoveryMs = firstHit.startedAt - restartedAt;
    // Reconnect back-off (100 ms) + one request to write the blocks again, then a hit.
    assert.ok(recoveryMs < 2000, `the cache is used again ${recoveryMs} ms after the restart`);
    assert.ok(Number(await server.cli('DBSIZE')) > 0, 'blocks are written again');
    await waitFor('circuit closed and health ok', async () => (await store.health()).ok && store.stats().circuit === 'closed', 5000);
    console.log(
      `      crash: ${keysBefore} keys lost; ${down.length} requests served while down (slowest store time ${slowestDown.toFixed(0)} ms); ` +
        `first hit ${recoveryMs} ms after the restart; ${stats.fallbacks} store fallbacks`,
    );
  });

  it('a store created while Redis is down serves misses at once, then uses Redis when it appears', async () => {
    await server.kill();
    const late = await createStore(server.url, { namespace: 'late', ...FAST_FAILURE, connectTimeout: 300 });
    try {
      const engine = new ServingEngine(model, new PrefixCacheConnector(model, late, serdeBlockCodec({ dtype: 'fp32' })));
      const t0 = performance.now();
      const r0 = await engine.serve(requests[0]!);
      assert.equal(r0.output.join(','), reference.get(r0.id));
      assert.ok(r0.fallbacks >= 1);
      assert.ok(storeMs(r0) < 1000, `store time ${storeMs(r0).toFixed(0)} ms with the server down`);
      assert.ok(performance.now() - t0 < 5000);
      await server.restart();
      // Serve the same two prompts until the second one is a hit.
      await waitFor(
        'hits through a store created while Redis was down',
        async () => {
          await engine.serve(requests[0]!);
          const r = await engine.serve(requests[1]!);
          assert.equal(r.output.join(','), reference.get(r.id));
          return r.reusedTokens > 0;
        },
        10_000,
        50,
      );
    } finally {
      await late.close();
    }
  });
});
