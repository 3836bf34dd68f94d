import { strict as assert } from 'node:assert';
import { RedisClusterStore, createStore, keySlot } from '../../lib/src/store';
import { RedisClusterHarness } from '../harness/redis';
import { blockHash, commandCalls, hashes, uniqueNamespace } from './helpers';
import { describeStoreSuite } from './suite';

describe('store: RedisClusterStore (3 masters)', function () {
  let cluster: RedisClusterHarness;
  const open: RedisClusterStore[] = [];

  async function make(options: ConstructorParameters<typeof RedisClusterStore>[0] = {}): Promise<RedisClusterStore> {
    const store = new RedisClusterStore({ nodes: cluster.startupNodes, namespace: uniqueNamespace(), ...options });
    open.push(store);
    assert.equal(await store.ready(5000), true);
    return store;
  }

  before(async () => {
    cluster = await RedisClusterHarness.start({ masters: 3, replicasPerMaster: 0 });
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });

  after(async () => {
    await cluster.stop();
  });

  describeStoreSuite('RedisClusterStore', async () => {
    const store = new RedisClusterStore({ url: cluster.url, namespace: uniqueNamespace() });
    await store.ready(5000);
    return store;
  });

  it('computes the same hash slots as Redis (CLUSTER KEYSLOT), hashtags included', async () => {
    const keys = ['foo', 'somekey', '{user1000}.following', 'a{}b', '{}{x}', 'x{y', `kvlab:ns:${blockHash()}`, `kvlab:ns:${blockHash()}`];
    for (const k of keys) {
      assert.equal(keySlot(k), Number(await cluster.nodes[0]!.cli('CLUSTER', 'KEYSLOT', k)), k);
    }
    assert.equal(keySlot('foo'), 12182);
  });

  it('spreads blocks over all 3 masters (no hashtag pins them to one slot)', async () => {
    const store = await make();
    const hs = hashes(90);
    const r = await store.put(hs.map((hash) => ({ hash, value: Buffer.from(hash.slice(0, 8)) })));
    assert.equal(r.stored, 90);
    const perNode = await Promise.all(cluster.nodes.map(async (n) => Number(await n.cli('DBSIZE'))));
    assert.equal(perNode.reduce((a, b) => a + b, 0), 90);
    for (const count of perNode) assert.ok(count >= 15, `keys per master: ${perNode.join(', ')}`);
    // The store knows where each block lives.
    for (const h of hs.slice(0, 10)) {
      const node = store.nodeFor(h)!;
      const port = Number(node.split(':')[1]);
      const holder = cluster.nodes.find((n) => n.port === port)!;
      assert.equal((await holder.cli('EXISTS', store.keyFor(h))).trim(), '1');
    }
    const got = await store.get(hs);
    got.forEach((v, i) => assert.equal(v?.toString(), hs[i]!.slice(0, 8)));
  });

  it('a lookup of 128 blocks: one pipeline per master, in parallel (3 round trips, 128 EXISTS)', async () => {
    const store = await make();
    const hs = hashes(128);
    await store.put(hs.slice(0, 100).map((hash) => ({ hash, value: Buffer.alloc(16) })));
    await Promise.all(cluster.nodes.map((n) => n.cli('CONFIG', 'RESETSTAT')));
    const rt0 = store.stats().roundTrips;
    const found = await store.has(hs);
    assert.equal(found.indexOf(false), 100);
    assert.equal(store.stats().roundTrips - rt0, 3);
    const exists = await Promise.all(cluster.nodes.map(async (n) => commandCalls(await n.cli('INFO', 'commandstats')).exists ?? 0));
    assert.equal(exists.reduce((a, b) => a + b, 0), 128);
    for (const e of exists) assert.ok(e > 0, `EXISTS per master: ${exists.join(', ')}`);
  });

  it('get groups keys by slot for MGET (MGET cannot cross slots): one MGET per slot touched', async () => {
    const store = await make();
    // 400 random blocks over 16384 slots: a few slots get two blocks (birthday paradox).
    const hs = hashes(400);
    await store.put(hs.map((hash) => ({ hash, value: Buffer.from(hash) })));
    await Promise.all(cluster.nodes.map((n) => n.cli('CONFIG', 'RESETSTAT')));
    const got = await store.get(hs);
    assert.equal(got.filter((v, i) => v?.toString() === hs[i]).length, 400);
    assert.equal(store.stats().errors, 0);
    const slots = new Set(hs.map((h) => keySlot(store.keyFor(h)))).size;
    const mgets = await Promise.all(cluster.nodes.map(async (n) => commandCalls(await n.cli('INFO', 'commandstats')).mget ?? 0));
    assert.equal(mgets.reduce((a, b) => a + b, 0), slots);
  });

  it('health: cluster state, every master, memory and warnings', async () => {
    const store = await make();
    const h = await store.health();
    assert.equal(h.ok, true, JSON.stringify(h));
    assert.equal(h.cluster?.state, 'ok');
    assert.equal(h.cluster?.slotsAssigned, 16384);
    assert.equal(h.cluster?.knownNodes, 3);
    assert.equal(h.nodes?.length, 3);
    for (const n of h.nodes!) assert.ok(n.reachable && n.usedMemoryBytes! > 0, `node ${n.address}`);
    assert.ok(h.warnings.some((w) => /maxmemory is 0/.test(w)), h.warnings.join('\n'));
    // One warning line names all three masters.
    assert.equal(h.warnings.filter((w) => /maxmemory is 0/.test(w)).length, 1);
  });

  it('createStore accepts a comma-separated list of node URLs and redis+cluster://', async () => {
    const fromList = await createStore(cluster.url, { namespace: uniqueNamespace() });
    assert.ok(fromList instanceof RedisClusterStore, 'fromList instanceof RedisClusterStore');
    const h = blockHash();
    await fromList.put([{ hash: h, value: Buffer.from('x') }]);
    assert.deepEqual(await fromList.has([h]), [true]);
    await fromList.close();
    const hosts = cluster.startupNodes.map((n) => `${n.host}:${n.port}`).join(',');
    const fromScheme = await createStore(`redis+cluster://${hosts}?namespace=${uniqueNamespace()}`);
    assert.ok(fromScheme instanceof RedisClusterStore, 'fromScheme instanceof RedisClusterStore');
    assert.equal(fromScheme.tier, 'redis-cluster');
    assert.equal((await fromScheme.health()).cluster?.state, 'ok');
    await fromScheme.close();
  });

  it('needs startup nodes', () => {
    assert.throws(() => new RedisClusterStore({}), { code: 'CONFIG_ERROR' });
  });

  describe('when one master dies', function () {
    let fragile: RedisClusterHarness;
    before(async () => {
      fragile = await RedisClusterHarness.start({ masters: 3, replicasPerMaster: 0, requireFullCoverage: false });
    });
    after(async () => {
      await fragile.stop();
    });

    it('only its blocks become misses; the others still hit, within the timeout', async () => {
      const store = new RedisClusterStore({ nodes: fragile.startupNodes, namespace: uniqueNamespace(), commandTimeout: 300 });
      open.push(store);
      assert.equal(await store.ready(5000), true);
      const hs = hashes(60);
      assert.equal((await store.put(hs.map((hash) => ({ hash, value: Buffer.from('v') })))).stored, 60);
      const victim = fragile.nodes[1]!;
      const onVictim = hs.map((h) => store.nodeFor(h) === `127.0.0.1:${victim.port}`);
      assert.ok(onVictim.some(Boolean) && !onVictim.every(Boolean), 'blocks on the victim and elsewhere');
      await victim.kill();
      const t0 = performance.now();
      const found = await store.has(hs);
      const ms = performance.now() - t0;
      assert.ok(ms < 300 + 200, `has took ${ms.toFixed(0)} ms`);
      found.forEach((f, i) => assert.equal(f, !onVictim[i], `block ${i} (on victim: ${onVictim[i]})`));
      const got = await store.get(hs);
      got.forEach((v, i) => assert.equal(v !== undefined, !onVictim[i]));
      const s = store.stats();
      assert.ok(s.fallbacks >= 2, `fallbacks ${s.fallbacks}`);
      assert.ok(s.errors >= 2, `errors ${s.errors}`);
      assert.equal(store.circuit, 'closed', 'a partial failure does not open the circuit');
      const h = await store.health();
      assert.equal(h.ok, false);
    });
  });
});
