import { strict as assert } from 'node:assert';
import { LlamaModel } from '../../lib/src/model';
import { MemoryStore, createStore } from '../../lib/src/store';
import type { KVStore } from '../../lib/src/store';
import {
  ExactPromptConnector,
  NoCacheConnector,
  PrefixCacheConnector,
  ServingEngine,
  serdeBlockCodec,
  type ServeRequest,
} from '../../lib/src/engine';
import { RedisServer } from '../harness/redis';

function seq(n: number, offset = 0): number[] {
  return Array.from({ length: n }, (_, i) => (i * 7919 + offset * 104729) % 50000);
}

describe('serving engine with KV connectors', function () {
  let model: LlamaModel;
  const codec = serdeBlockCodec({ dtype: 'fp32' });
  const shared = seq(80);
  const requests: ServeRequest[] = [
    { id: 'a', tokens: [...shared, ...seq(10, 1)], maxNewTokens: 4 },
    { id: 'b', tokens: [...shared, ...seq(10, 2)], maxNewTokens: 4 },
    { id: 'c', tokens: [...shared, ...seq(10, 1), 5], maxNewTokens: 4 },
  ];
  let baseline: number[][];

  before(async () => {
    model = await LlamaModel.create('tiny', { seed: 0 });
    const engine = new ServingEngine(model, new NoCacheConnector());
    baseline = [];
    for (const r of requests) baseline.push((await engine.serve(r)).output);
  });
  after(() => model.dispose());

  it('a block-prefix cache in memory reuses the shared full blocks and changes no output', async () => {
    const engine = new ServingEngine(model, new PrefixCacheConnector(model, new MemoryStore(), codec));
    const records = [];
    for (const r of requests) records.push(await engine.serve(r));
    assert.deepEqual(records.map((r) => r.output), baseline);
    assert.equal(records[0]!.reusedTokens, 0);
    assert.equal(records[1]!.reusedTokens, 80, 'request b reuses the 5 shared blocks of 16');
    // c extends a: 90 of its 91 tokens are a's prompt, 5 full blocks of a's are usable (90 → 80, the last block needs 96).
    assert.equal(records[2]!.reusedTokens, 80);
    for (const r of records) {
      assert.equal(r.reusedTokens + r.computedTokens, r.promptTokens);
      assert.equal(r.fallbacks, 0);
    }
    assert.ok(records[1]!.bytesLoaded > 0);
  });

  it('the exact-prompt baseline reuses only identical prompts', async () => {
    const engine = new ServingEngine(model, new ExactPromptConnector(model, new MemoryStore(), codec));
    const again = [...requests, requests[0]!];
    const records = [];
    for (const r of again) records.push(await engine.serve(r));
    assert.deepEqual(records.map((r) => r.reusedTokens), [0, 0, 0, requests[0]!.tokens.length - 1]);
    assert.deepEqual(records[3]!.output, baseline[0]);
  });

  it('a corrupt stored block becomes a counted fallback and a recompute, never a wrong output', async () => {
    const store = new MemoryStore();
    const engine = new ServingEngine(model, new PrefixCacheConnector(model, store, codec));
    await engine.serve(requests[0]!);
    // Flip one byte in the middle of every stored value.
    const internal = (store as unknown as { map: Map<string, Buffer> }).map;
    for (const [k, v] of internal) {
      const bad = Buffer.from(v);
      bad[bad.length >> 1]! ^= 0x40;
      internal.set(k, bad);
    }
    const r = await engine.serve(requests[1]!);
    assert.equal(r.reusedTokens, 0);
    assert.ok(r.fallbacks >= 1);
    assert.deepEqual(r.output, baseline[1]);
  });

  describe('against a real Redis', () => {
    let server: RedisServer;
    let store: KVStore;
    before(async () => {
      server = await RedisServer.start();
      store = await createStore(server.url);
    });
    after(async () => {
      await store?.close();
      await server?.stop();
    });

    it('reuses blocks through Redis, with identical outputs', async () => {
      const engine = new ServingEngine(model, new PrefixCacheConnector(model, store, serdeBlockCodec({ dtype: 'fp16' })));
      const records = [];
      for (const r of requests) records.push(await engine.serve(r));
      assert.equal(records[1]!.reusedTokens, 80);
      assert.ok(Number(await server.cli('dbsize')) >= 5);
      // fp16 KV is not bit-exact, but greedy tokens on this prompt agree with the fp32 baseline.
      assert.deepEqual(records[1]!.output, baseline[1]);
    });

    it('keeps serving, by recomputing, while Redis is down', async () => {
      const engine = new ServingEngine(model, new PrefixCacheConnector(model, store, codec));
      await server.kill();
      const started = Date.now();
      const r = await engine.serve(requests[1]!);
      assert.deepEqual(r.output, baseline[1]);
      assert.equal(r.reusedTokens, 0);
      assert.ok(r.fallbacks >= 1, 'the failed lookup is counted');
      assert.ok(Date.now() - started < 10_000);
      await server.restart();
    });
  });
});
