/**
 * Redis Cluster with replicas (3 masters + 3 replicas): a master is SIGKILLed during a request
 * stream; its replica is promoted; the store follows the new topology without being restarted.
 */
import { strict as assert } from 'node:assert';
import { createStore, keySlot, type KVStore, type RedisClusterStore } from '../../lib/src/store';
import { PrefixCacheConnector, ServingEngine, serdeBlockCodec, type RequestRecord, type ServeRequest } from '../../lib/src/engine';
import { hashBlocks } from '../../lib/src/hashing';
import type { LlamaModel } from '../../lib/src/model';
import { RedisClusterHarness } from '../harness/redis';
import { FAST_FAILURE, parseInfoText, referenceOutputs, role, serveArriving, sleep, storeMs, stream, tinyModel, waitFor, waitForReplicas, wrongOutputs } from './helpers';

describe('reliability: Redis Cluster master fails over to its replica', function () {
  this.timeout(120_000);
  let model: LlamaModel;
  let cluster: RedisClusterHarness;
  let store: KVStore;
  let requests: ServeRequest[];
  let reference: Map<string, string>;

  before(async () => {
    model = await tinyModel(0);
    requests = stream('chat', { requests: 40, seed: 5, prefix: 'failover' });
    reference = await referenceOutputs(model, requests);
    // Diskless sync without its default 5 s delay: replicas are in sync within a second.
    cluster = await RedisClusterHarness.start({ masters: 3, replicasPerMaster: 1, args: ['--repl-diskless-sync-delay', '0'] });
    await waitForReplicas(cluster, 3);
    store = await createStore(cluster.url, { namespace: 'failover', ...FAST_FAILURE });
  });

  after(async () => {
    await store?.close();
    await cluster?.stop();
  });

  it('requests keep completing with the right outputs; after the replica is promoted, hits resume (replicated blocks included)', async () => {
    const connector = new PrefixCacheConnector(model, store, serdeBlockCodec({ dtype: 'fp32' }));
    const engine = new ServingEngine(model, connector);
    const cs = store as RedisClusterStore;
    const perOp = cs.deadlineFor(2 * 1024 * 1024) + 300;
    type Timed = RequestRecord & { startedAt: number };
    const records: Timed[] = [];

    for (const r of requests.slice(0, 10)) records.push(await serveArriving(engine, r));
    assert.ok(records.some((r) => r.reusedTokens > 0), 'the cache is used before the failure');

    // Pick the master holding request 0's first block, and wait until its replica has every write.
    const first = hashBlocks(requests[0]!.tokens, connector.namespaceFor(undefined))[0]!;
    assert.equal(Number(await cluster.nodes[0]!.cli('CLUSTER', 'KEYSLOT', cs.keyFor(first))), keySlot(cs.keyFor(first)));
    const holder = Number(cs.nodeFor(first)!.split(':')[1]);
    const victim = cluster.nodes.find((n) => n.port === holder);
    assert.ok(victim && (await role(victim)) === 'master', 'found the master of the first block');
    const victimId = (await victim.cli('CLUSTER', 'MYID')).trim();
    await waitFor(
      'replica caught up with the master',
      async () => {
        const i = parseInfoText(await victim.cli('INFO', 'replication'));
        const offset = Number(i.master_repl_offset);
        return Number(i.connected_slaves) === 1 && new RegExp(`offset=${offset},`).test(i.slave0 ?? '');
      },
      10_000,
      50,
    );

    // SIGKILL the master while the stream goes on.
    const killedAt = Date.now();
    const killing = sleep(5).then(() => victim.kill());
    const during: Timed[] = [];
    let promoted = 0;
    const failover = waitFor(
      'a replica promoted and cluster_state:ok on every live node',
      async () => {
        const live = cluster.nodes.filter((n) => n !== victim);
        const states = await Promise.all(live.map((n) => n.cli('CLUSTER', 'INFO')));
        if (!states.every((s) => /cluster_state:ok/.test(s))) return false;
        const roles = await Promise.all(live.map(role));
        return roles.filter((r) => r === 'master').length === 3;
      },
      30_000,
      100,
    ).then((ms) => {
      promoted = Date.now();
      return ms;
    });
    let i = 10;
    while (promoted === 0 && i < 30) during.push(await serveArriving(engine, requests[i++]!));
    await killing;
    const failoverMs = await failover;
    records.push(...during);
    assert.ok(during.length > 0, 'requests were served during the failover');

    // After the failover: the rest of the stream, then request 0's prompt again (its blocks were
    // written before the kill and replicated: the promoted replica must serve them).
    // The store must find the new topology by itself: ioredis refreshes the slot map, and a health
    // check that reaches every master closes the circuit breaker even though no request probes it.
    await waitFor('the store sees the new topology', async () => (await store.health()).ok, 10_000);
    const afterFailover: Timed[] = [];
    for (; i < requests.length; i++) afterFailover.push(await serveArriving(engine, requests[i]!));
    const again = await serveArriving(engine, { ...requests[0]!, id: 'failover-again-0' });
    records.push(...afterFailover);

    assert.deepEqual(wrongOutputs(records, reference), [], 'outputs equal the no-cache run');
    assert.equal(again.output.join(','), reference.get(requests[0]!.id));
    for (const r of records) {
      assert.ok(storeMs(r) < 3 * perOp, `${r.id}: ${storeMs(r).toFixed(0)} ms on the store (lookup ${r.lookupMs.toFixed(0)}, load ${r.loadMs.toFixed(0)}, save ${r.saveMs.toFixed(0)}; bound ${3 * perOp})`);
    }
    assert.ok(
      during.some((r) => r.fallbacks > 0) || store.stats().errors > 0,
      `the failure was seen and counted (fallbacks ${during.map((r) => r.fallbacks).join(',')}, errors ${store.stats().errors})`,
    );
    assert.ok(afterFailover.some((r) => r.reusedTokens > 0), `hits resume after the failover (reused ${afterFailover.map((r) => r.reusedTokens).join(',')})`);
    const loadable = Math.floor((requests[0]!.tokens.length - 1) / 16) * 16;
    assert.equal(again.reusedTokens, loadable, 'blocks written before the kill are served by the promoted replica');
    const view = await cluster.nodes.find((n) => n !== victim)!.cli('CLUSTER', 'NODES');
    assert.match(view, new RegExp(`${victimId} [^\\n]*master,fail`), 'the killed master is marked failed');
    const h = await store.health();
    assert.equal(h.cluster?.state, 'ok');
    console.log(
      `      failover: replica promoted ${failoverMs} ms after the kill (${promoted - killedAt} ms wall); ${during.length} requests served meanwhile; ` +
        `slowest store time ${Math.max(...during.map(storeMs)).toFixed(0)} ms; store fallbacks ${store.stats().fallbacks}, errors ${store.stats().errors}`,
    );
  });
});
