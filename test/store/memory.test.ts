import { strict as assert } from 'node:assert';
import { MemoryStore, createStore } from '../../lib/src/store';
import { hashes, metricValue } from './helpers';
import { describeStoreSuite } from './suite';

const MiB = 1024 * 1024;

describe('store: MemoryStore', function () {
  describeStoreSuite('MemoryStore', async () => new MemoryStore({ maxBytes: 32 * MiB }));

  describe('LRU under a byte budget', function () {
    const overhead = 128;
    const entry = 1000;
    // Room for exactly three entries.
    const make = (): MemoryStore => new MemoryStore({ maxBytes: 3 * (entry + overhead), entryOverheadBytes: overhead });

    it('evicts the least recently used entries when over budget', async () => {
      const store = make();
      const [a, b, c, d, e] = hashes(5) as [string, string, string, string, string];
      const v = (): Buffer => Buffer.alloc(entry, 1);
      await store.put([{ hash: a, value: v() }, { hash: b, value: v() }, { hash: c, value: v() }]);
      assert.equal(store.size, 3);
      assert.equal(store.heldBytes, 3 * (entry + overhead));
      await store.get([a]); // a is now the most recently used; b is the LRU
      await store.put([{ hash: d, value: v() }]);
      assert.deepEqual(await store.has([a, b, c, d]), [true, false, true, true]);
      // has() is a probe, not a use: it does not protect c.
      await store.has([c]);
      await store.put([{ hash: e, value: v() }]);
      assert.deepEqual(await store.has([a, b, c, d, e]), [true, false, false, true, true]);
      const s = store.stats();
      assert.equal(s.evictions, 2);
      assert.equal(s.entries, 3);
      assert.equal(s.bytes, 3 * (entry + overhead));
      const text = await store.metricsText();
      assert.equal(metricValue(text, 'kvlab_store_evictions_total', { store: 'memory' }), 2);
      assert.equal(metricValue(text, 'kvlab_store_entries', { store: 'memory' }), 3);
      assert.equal(metricValue(text, 'kvlab_store_held_bytes', { store: 'memory' }), 3 * (entry + overhead));
    });

    it('a big entry evicts as many as needed, never itself', async () => {
      const store = make();
      const hs = hashes(4);
      await store.put(hs.slice(0, 3).map((hash) => ({ hash, value: Buffer.alloc(entry) })));
      await store.put([{ hash: hs[3]!, value: Buffer.alloc(2 * entry + overhead) }]);
      assert.deepEqual(await store.has(hs), [false, false, true, true]);
      assert.ok(store.heldBytes <= store.maxBytes, 'store.heldBytes <= store.maxBytes');
    });

    it('rejects a value larger than the whole budget with ValueTooLargeError', async () => {
      const store = make();
      assert.equal(store.maxValueBytes, 3 * (entry + overhead) - overhead);
      await assert.rejects(store.put([{ hash: hashes(1)[0]!, value: Buffer.alloc(store.maxValueBytes + 1) }]), { code: 'VALUE_TOO_LARGE' });
    });

    it('deletes and clear() free the budget', async () => {
      const store = make();
      const hs = hashes(3);
      await store.put(hs.map((hash) => ({ hash, value: Buffer.alloc(entry) })));
      await store.delete([hs[0]!]);
      assert.equal(store.heldBytes, 2 * (entry + overhead));
      store.clear();
      assert.equal(store.heldBytes, 0);
      assert.equal(store.size, 0);
    });
  });

  it('shares values by default and copies them with copy: true', async () => {
    const [h] = hashes(1) as [string];
    const shared = new MemoryStore();
    const v = Buffer.from('abc');
    await shared.put([{ hash: h, value: v }]);
    assert.equal((await shared.get([h]))[0], v);
    const copying = new MemoryStore({ copy: true });
    await copying.put([{ hash: h, value: v }]);
    v[0] = 0x7a;
    const [got] = await copying.get([h]);
    assert.equal(got?.toString(), 'abc');
    got![1] = 0x7a;
    assert.equal((await copying.get([h]))[0]?.toString(), 'abc');
  });

  it('rejects bad options', () => {
    assert.throws(() => new MemoryStore({ maxBytes: 0 }), { code: 'INVALID_INPUT' });
    assert.throws(() => new MemoryStore({ maxBytes: 1.5 }), { code: 'INVALID_INPUT' });
  });

  it('createStore("memory://?maxBytes=1mib") makes a MemoryStore', async () => {
    const store = await createStore('memory://?maxBytes=1mib&name=l1cache');
    assert.ok(store instanceof MemoryStore, 'store instanceof MemoryStore');
    assert.equal(store.maxBytes, MiB);
    assert.equal(store.name, 'l1cache');
    await store.close();
  });
});
