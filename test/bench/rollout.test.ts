/** Turning the cache on in phases: off → shadow (lookups and writes, nothing loaded) → a slice of sessions → full. */
import { strict as assert } from 'node:assert';
import { LlamaModel } from '../../lib/src/model';
import { MemoryStore } from '../../lib/src/store';
import { NoCacheConnector, PrefixCacheConnector, ServingEngine, serdeBlockCodec, type ServeRequest } from '../../lib/src/engine';
import { RolloutConnector, sliceOf } from '../../lib/src/bench/rollout';

function seq(n: number, offset = 0): number[] {
  return Array.from({ length: n }, (_, i) => (i * 7919 + offset * 104729) % 50000);
}

describe('phased rollout of the cache (RolloutConnector)', function () {
  this.timeout(60_000);
  let model: LlamaModel;
  const codec = serdeBlockCodec({ dtype: 'fp32', secret: null });
  const shared = seq(64);
  const requests: ServeRequest[] = Array.from({ length: 8 }, (_, i) => ({ id: `r${i}`, session: `s${i % 4}`, tokens: [...shared, ...seq(24 + i, i + 1)], maxNewTokens: 2 }));
  const reference = new Map<string, string>();

  before(async () => {
    model = await LlamaModel.create('tiny', { seed: 0 });
    const engine = new ServingEngine(model, new NoCacheConnector());
    for (const r of requests) reference.set(r.id, (await engine.serve(r)).output.join(','));
  });
  after(() => model.dispose());

  it('off: the store is never called', async () => {
    const store = new MemoryStore();
    const engine = new ServingEngine(model, new RolloutConnector(new PrefixCacheConnector(model, store, codec), { phase: 'off' }));
    for (const r of requests.slice(0, 3)) assert.equal((await engine.serve(r)).reusedTokens, 0);
    assert.equal(store.stats().lookups, 0);
    assert.equal(store.size, 0);
  });

  it('shadow: lookups and writes happen and are counted, nothing is loaded, outputs cannot change; then full starts warm', async () => {
    const store = new MemoryStore();
    const shadow = new RolloutConnector(new PrefixCacheConnector(model, store, codec), { phase: 'shadow' });
    const engine = new ServingEngine(model, shadow);
    for (const r of requests) {
      const rec = await engine.serve(r);
      assert.equal(rec.reusedTokens, 0);
      assert.equal(rec.output.join(','), reference.get(r.id));
    }
    assert.ok(shadow.counts.matchedTokens >= 7 * 64, 'every request after the first would have reused the shared 64 tokens');
    assert.equal(store.stats().tokens.memory!.hit, shadow.counts.matchedTokens, "the store's token counters (and metrics) show the would-be hits");
    assert.ok(store.size > 0, 'the cache warmed up');

    const full = new ServingEngine(model, new RolloutConnector(new PrefixCacheConnector(model, store, codec), { phase: 'full' }));
    const first = await full.serve(requests[0]!);
    assert.ok(first.reusedTokens >= 64, 'the first request of the full phase already hits');
    assert.equal(first.output.join(','), reference.get('r0'));
  });

  it('slice: the same sessions are cached every time, the others are served as before', async () => {
    const store = new MemoryStore();
    const slice = new RolloutConnector(new PrefixCacheConnector(model, store, codec), { phase: 'slice', sliceFraction: 0.5 });
    const engine = new ServingEngine(model, slice);
    const inSlice = new Set(requests.filter((r) => sliceOf(r) < 0.5).map((r) => r.session));
    assert.ok(inSlice.size > 0 && inSlice.size < 4, `a split of the 4 sessions (${[...inSlice].join(', ')})`);
    for (const r of [...requests, ...requests]) {
      const rec = await engine.serve(r);
      assert.equal(rec.output.join(','), reference.get(r.id));
      if (!inSlice.has(r.session)) assert.equal(rec.reusedTokens, 0, `${r.id} is outside the slice`);
      assert.equal(slice.isCached(r), inSlice.has(r.session));
    }
    assert.equal(slice.counts.cached, 2 * requests.filter((r) => inSlice.has(r.session)).length);
    assert.equal(sliceOf(requests[0]!), sliceOf({ ...requests[4]!, id: 'other' }), 'a session hashes to one place, whatever the request');
  });

  it('rejects an unknown phase or a fraction outside [0, 1]', () => {
    const inner = new NoCacheConnector();
    assert.throws(() => new RolloutConnector(inner, { phase: 'half' as never }), { code: 'INVALID_INPUT', details: { path: 'options.phase', expected: 'one of off, shadow, slice, full', received: '"half"' } });
    assert.throws(() => new RolloutConnector(inner, { phase: 'slice', sliceFraction: 1.5 }), { code: 'INVALID_INPUT', details: { path: 'options.sliceFraction', expected: 'a fraction in [0, 1]', received: '1.5' } });
  });
});
