/**
 * Entries of different models, dtypes and tenants share one Redis and overlapping prompts, and never
 * serve each other. For each pair (A, B): B's stream is served once on an empty database and once
 * after A wrote the same prompts; B must see exactly the same hits/misses both times (so B cannot
 * learn anything about A's prompts), produce its own no-cache outputs, and A's and B's keys must be
 * disjoint.
 */
import { strict as assert } from 'node:assert';
import type { Redis } from 'ioredis';
import { createStore, type KVStore } from '../../lib/src/store';
import { PrefixCacheConnector, ServingEngine, serdeBlockCodec, type BlockCodec, type RequestRecord, type ServeRequest } from '../../lib/src/engine';
import type { LlamaModel } from '../../lib/src/model';
import { RedisServer } from '../harness/redis';
import { rawClient, referenceOutputs, serveArriving, stream, tinyModel, wrongOutputs } from './helpers';

interface Party {
  name: string;
  model: LlamaModel;
  codec: BlockCodec;
  tenant?: string;
  salts?: Record<string, string>;
}

describe('reliability: isolation of models, dtypes and tenants in one Redis', function () {
  this.timeout(120_000);
  let server: RedisServer;
  let raw: Redis;
  const stores: KVStore[] = [];
  let prompts: ServeRequest[];

  before(async () => {
    server = await RedisServer.start();
    raw = rawClient(server.port);
    // Overlapping prompts: chat turns that share a system prompt and grow turn by turn.
    prompts = stream('chat', { requests: 8, seed: 77, prefix: 'iso' });
  });

  after(async () => {
    await raw?.quit();
    await Promise.all(stores.map((s) => s.close()));
    await server?.stop();
  });

  async function serveAll(p: Party, db: number): Promise<RequestRecord[]> {
    const store = await createStore(`${server.url}/${db}`, { namespace: 'iso' });
    stores.push(store);
    const engine = new ServingEngine(p.model, new PrefixCacheConnector(p.model, store, p.codec, p.salts ? { salts: p.salts } : {}));
    const out: RequestRecord[] = [];
    for (const r of prompts) out.push(await serveArriving(engine, { ...r, id: `${p.name}-${r.id}`, ...(p.tenant ? { tenant: p.tenant } : {}) }));
    return out;
  }

  async function keysOf(db: number): Promise<Set<string>> {
    await raw.select(db);
    const keys = new Set(await raw.keys('*'));
    await raw.select(0);
    return keys;
  }

  async function checkPair(a: Party, b: Party, dbs: [number, number, number]): Promise<void> {
    const [aloneA, aloneB, shared] = dbs;
    for (const db of dbs) {
      await raw.select(db);
      await raw.flushdb();
    }
    await raw.select(0);
    // B alone, A alone, then A followed by B in the shared database.
    const bAlone = await serveAll(b, aloneB);
    await serveAll(a, aloneA);
    const aShared = await serveAll(a, shared);
    const bShared = await serveAll(b, shared);

    const refA = await referenceOutputs(a.model, aShared.map((r, i) => ({ ...prompts[i]!, id: r.id })));
    const refB = await referenceOutputs(b.model, bShared.map((r, i) => ({ ...prompts[i]!, id: r.id })));
    assert.deepEqual(wrongOutputs(aShared, refA), [], `${a.name}: outputs equal its no-cache run`);
    assert.deepEqual(wrongOutputs(bShared, refB), [], `${b.name}: outputs equal its no-cache run`);
    // A's entries give B nothing: B's reuse is what B gets on an empty database, request by request.
    assert.deepEqual(
      bShared.map((r) => r.reusedTokens),
      bAlone.map((r) => r.reusedTokens),
      `${b.name} reused tokens must not depend on what ${a.name} cached`,
    );
    assert.equal(bShared[0]!.reusedTokens, 0, `${b.name}'s first request finds nothing although ${a.name} cached the same prompt`);
    assert.ok(bShared.some((r) => r.reusedTokens > 0), `${b.name} reuses its own blocks`);
    const [ka, kb, ks] = [await keysOf(aloneA), await keysOf(aloneB), await keysOf(shared)];
    assert.ok(ka.size > 0 && kb.size > 0);
    const common = [...ka].filter((k) => kb.has(k));
    assert.deepEqual(common, [], `${a.name} and ${b.name} wrote no key in common`);
    assert.equal(ks.size, ka.size + kb.size, 'the shared database holds exactly both sets of keys');
    for (const k of ks) assert.ok(ka.has(k) || kb.has(k));
  }

  it('two models (seeds 0 and 1): zero cross-hits', async () => {
    const codec = serdeBlockCodec({ dtype: 'fp32' });
    const [m0, m1] = [await tinyModel(0), await tinyModel(1)];
    assert.notEqual(m0.fingerprint, m1.fingerprint);
    await checkPair({ name: 'seed0', model: m0, codec }, { name: 'seed1', model: m1, codec }, [1, 2, 3]);
  });

  it('two dtypes (fp16 and fp32 codecs) on the same model: zero cross-hits', async () => {
    const m = await tinyModel(0);
    await checkPair({ name: 'fp16', model: m, codec: serdeBlockCodec({ dtype: 'fp16' }) }, { name: 'fp32', model: m, codec: serdeBlockCodec({ dtype: 'fp32' }) }, [4, 5, 6]);
  });

  it('two tenants with different salts: zero cross-hits, and hit/miss reveals nothing about the other tenant', async () => {
    const m = await tinyModel(0);
    const codec = serdeBlockCodec({ dtype: 'fp32' });
    const salts = { alice: 'salt-of-alice-3f9a', bob: 'salt-of-bob-77c1' };
    await checkPair({ name: 'alice', model: m, codec, tenant: 'alice', salts }, { name: 'bob', model: m, codec, tenant: 'bob', salts }, [7, 8, 9]);

    // The probe itself: bob asks about alice's exact prompt before and after alice caches it.
    await raw.select(10);
    await raw.flushdb();
    await raw.select(0);
    const store = await createStore(`${server.url}/10`, { namespace: 'iso' });
    stores.push(store);
    const connector = new PrefixCacheConnector(m, store, codec, { salts });
    const secret: ServeRequest = { ...prompts[3]!, id: 'secret', tenant: 'alice' };
    const probe: ServeRequest = { ...secret, id: 'probe', tenant: 'bob' };
    const before = await connector.getMatchedTokens(probe);
    await new ServingEngine(m, connector).serve(secret);
    const aliceSees = await connector.getMatchedTokens(secret);
    const after = await connector.getMatchedTokens(probe);
    assert.ok(aliceSees.matchedTokens > 0, 'alice gets her own hits');
    assert.equal(before.matchedTokens, 0);
    assert.equal(after.matchedTokens, before.matchedTokens, 'bob cannot tell that alice cached the prompt');
    assert.equal(after.roundTrips, before.roundTrips);
    // Without salts (one shared cache) the same probe does reveal it: the salts are what protects.
    const unsalted = new PrefixCacheConnector(m, store, codec);
    await new ServingEngine(m, unsalted).serve({ ...secret, tenant: undefined });
    assert.ok((await unsalted.getMatchedTokens({ ...probe, tenant: undefined })).matchedTokens > 0, 'unsalted requests share entries');
  });
});
