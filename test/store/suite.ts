/**
 * The shared store test suite: every `KVStore` implementation must pass it (like tfjs-core's backend
 * suites, each implementation's test file calls `describeStoreSuite` with its own factory).
 */
import { strict as assert } from 'node:assert';
import { CorruptEntryError } from '../../lib/src/runtime/errors';
import type { KVStore } from '../../lib/src/store';
import { blockHash, hashes, metricValue, randomBuffer } from './helpers';

export interface StoreSuiteOptions {
  /** Size of the multi-MiB value of the round-trip test. @default 3 MiB */
  bigValueBytes?: number;
}

const MiB = 1024 * 1024;

async function rejectsWithCode(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.equal((err as { code?: string }).code, code, `expected code ${code}, got ${(err as Error).message}`);
    return true;
  });
}

export function describeStoreSuite(name: string, factory: () => Promise<KVStore>, options: StoreSuiteOptions = {}): void {
  const big = options.bigValueBytes ?? 3 * MiB;

  describe(`KVStore contract: ${name}`, function () {
    let store: KVStore;

    beforeEach(async () => {
      store = await factory();
    });

    afterEach(async () => {
      await store.close();
    });

    it('answers empty batches at once', async () => {
      assert.deepEqual(await store.has([]), []);
      assert.deepEqual(await store.get([]), []);
      assert.deepEqual(await store.put([]), { statuses: [], stored: 0, existing: 0, failed: 0, bytesWritten: 0 });
      assert.equal(await store.delete([]), 0);
      assert.equal(store.stats().lookups, 0);
    });

    it(`round-trips Buffers of 0 B, 1 B, 1000 B, 64 KiB + 3 and ${(big / MiB).toFixed(0)} MiB byte for byte`, async () => {
      const sizes = [0, 1, 1000, 65536 + 3, big];
      const hs = hashes(sizes.length);
      const values = sizes.map((n) => randomBuffer(n));
      const r = await store.put(hs.map((hash, i) => ({ hash, value: values[i]! })));
      assert.deepEqual(r.statuses, sizes.map(() => 'stored'));
      assert.equal(r.bytesWritten, sizes.reduce((a, b) => a + b, 0));
      assert.deepEqual(await store.has(hs), sizes.map(() => true));
      const got = await store.get(hs);
      got.forEach((v, i) => {
        assert.ok(Buffer.isBuffer(v), `value ${i} is a Buffer`);
        assert.equal(v.length, sizes[i]);
        assert.ok(v.equals(values[i]!), `value ${i} (${sizes[i]} B) has the same bytes`);
      });
    });

    it('reports missing blocks as false / undefined', async () => {
      const [a, b] = hashes(2) as [string, string];
      await store.put([{ hash: a, value: Buffer.from('A') }]);
      assert.deepEqual(await store.has([b, a, b]), [false, true, false]);
      const got = await store.get([b, a]);
      assert.equal(got[0], undefined);
      assert.equal(got[1]?.toString(), 'A');
    });

    it('keeps input order in batches (shuffled, interleaved with misses and duplicates)', async () => {
      const present = hashes(20);
      const absent = hashes(10);
      await store.put(present.map((hash, i) => ({ hash, value: Buffer.from(`value-${i}`) })));
      const query: string[] = [];
      for (let i = 0; i < 20; i++) {
        query.push(present[(i * 7) % 20]!);
        if (i % 2 === 0) query.push(absent[i / 2]!);
      }
      query.push(present[3]!, present[3]!);
      const has = await store.has(query);
      const got = await store.get(query);
      query.forEach((h, i) => {
        const idx = present.indexOf(h);
        assert.equal(has[i], idx >= 0, `has[${i}]`);
        assert.equal(got[i]?.toString(), idx >= 0 ? `value-${idx}` : undefined, `get[${i}]`);
      });
    });

    it('onValue sees every value found exactly once, at its position, before get resolves; a throwing onValue costs nothing', async () => {
      const present = hashes(40);
      const absent = hashes(5);
      const values = present.map((_, i) => randomBuffer(i % 3 === 0 ? 70_000 : 100 + i));
      await store.put(present.map((hash, i) => ({ hash, value: values[i]! })));
      const query = [...present.slice(0, 20), ...absent, ...present.slice(20), present[0]!];
      const seen = new Map<number, Buffer>();
      let resolved = false;
      const pending = store.get(query, {
        onValue: (i, v) => {
          assert.equal(resolved, false, 'called before get resolves');
          assert.equal(seen.has(i), false, `position ${i} seen once`);
          seen.set(i, v);
        },
      });
      const got = await pending.finally(() => (resolved = true));
      assert.equal(seen.size, got.filter((v) => v !== undefined).length);
      got.forEach((v, i) => assert.equal(seen.get(i), v, `position ${i}: the same Buffer as returned`));
      query.forEach((h, i) => {
        const idx = present.indexOf(h);
        assert.ok(idx < 0 ? !seen.has(i) : seen.get(i)!.equals(values[idx]!), `position ${i}`);
      });
      const errorsBefore = store.stats().errors;
      const again = await store.get(present.slice(0, 3), {
        onValue: () => {
          throw new Error('caller bug');
        },
      });
      assert.ok(again.every((v, i) => v?.equals(values[i]!)), 'values still returned');
      assert.ok(store.stats().errors > errorsBefore, 'the throws are counted');
    });

    it('stream hands every found value out once, valid during its call, and answers which were found', async () => {
      const present = hashes(30);
      const absent = hashes(4);
      const values = present.map((_, i) => randomBuffer(i % 4 === 0 ? 300_000 : 50 + i));
      await store.put(present.map((hash, i) => ({ hash, value: values[i]! })));
      const query = [...present.slice(0, 15), ...absent, ...present.slice(15), present[2]!];
      const copies = new Map<number, Buffer>();
      // A copy made during the call is all a caller may keep (a store may reuse the bytes afterwards).
      const found = await store.stream(query, (i, v) => {
        assert.equal(copies.has(i), false, `position ${i} once`);
        copies.set(i, Buffer.from(v));
      });
      assert.equal(found.length, query.length);
      query.forEach((h, i) => {
        const idx = present.indexOf(h);
        assert.equal(found[i], idx >= 0, `found[${i}]`);
        assert.ok(idx < 0 ? !copies.has(i) : copies.get(i)!.equals(values[idx]!), `position ${i}: the stored bytes`);
      });
      const errorsBefore = store.stats().errors;
      assert.deepEqual(await store.stream(present.slice(0, 3), () => { throw new Error('caller bug'); }), [true, true, true], 'a throwing callback costs nothing');
      assert.ok(store.stats().errors > errorsBefore, 'the throws are counted');
    });

    it('writes set-if-absent: the first value wins, later puts report exists', async () => {
      const [a, b] = hashes(2) as [string, string];
      assert.deepEqual((await store.put([{ hash: a, value: Buffer.from('first') }])).statuses, ['stored']);
      const again = await store.put([{ hash: a, value: Buffer.from('second') }]);
      assert.deepEqual(again.statuses, ['exists']);
      assert.equal(again.existing, 1);
      assert.equal(again.bytesWritten, 0);
      assert.equal((await store.get([a]))[0]?.toString(), 'first');
      // The same block twice in one batch (two workers racing collapse to the same outcome).
      const dup = await store.put([
        { hash: b, value: Buffer.from('one') },
        { hash: b, value: Buffer.from('two') },
      ]);
      assert.deepEqual(dup.statuses, ['stored', 'exists']);
      assert.equal((await store.get([b]))[0]?.toString(), 'one');
    });

    it('accepts Uint8Array views (stored as their bytes, never as text)', async () => {
      const backing = randomBuffer(100);
      const view = new Uint8Array(backing.buffer, backing.byteOffset + 10, 50);
      const h = blockHash();
      await store.put([{ hash: h, value: view }]);
      const [v] = await store.get([h]);
      assert.equal(v?.length, 50);
      assert.ok(v?.equals(backing.subarray(10, 60)), 'v?.equals(backing.subarray(10, 60))');
    });

    it('deletes blocks and counts those that were present', async () => {
      const [a, b, c] = hashes(3) as [string, string, string];
      await store.put([
        { hash: a, value: Buffer.from('a') },
        { hash: b, value: Buffer.from('b') },
      ]);
      assert.equal(await store.delete([a, b, c]), 2);
      assert.deepEqual(await store.has([a, b, c]), [false, false, false]);
      assert.equal(await store.delete([a]), 0);
      // Deleted blocks can be written again.
      assert.deepEqual((await store.put([{ hash: a, value: Buffer.from('a2') }])).statuses, ['stored']);
    });

    it('rejects malformed hashes and values with InvalidInputError', async () => {
      await rejectsWithCode(store.has(['abc']), 'INVALID_INPUT');
      await rejectsWithCode(store.get([blockHash().toUpperCase()]), 'INVALID_INPUT');
      await rejectsWithCode(store.delete([42 as unknown as string]), 'INVALID_INPUT');
      await rejectsWithCode(store.has('abc' as unknown as string[]), 'INVALID_INPUT');
      await rejectsWithCode(store.put([{ hash: 'nope', value: Buffer.alloc(1) }]), 'INVALID_INPUT');
      await rejectsWithCode(store.put([{ hash: blockHash(), value: 'text' as unknown as Buffer }]), 'INVALID_INPUT');
      await rejectsWithCode(store.put([{ hash: blockHash(), value: new Float32Array(4) as unknown as Buffer }]), 'INVALID_INPUT');
    });

    it('accepts a value of exactly maxValueBytes and rejects one byte more (ValueTooLargeError, nothing of the batch written)', async () => {
      const [a, b, c] = hashes(3) as [string, string, string];
      assert.ok(store.maxValueBytes > 0, 'store.maxValueBytes > 0');
      const max = Buffer.alloc(store.maxValueBytes, 1);
      assert.deepEqual((await store.put([{ hash: a, value: max }])).statuses, ['stored']);
      await rejectsWithCode(
        store.put([
          { hash: b, value: Buffer.from('small') },
          { hash: c, value: Buffer.alloc(store.maxValueBytes + 1) },
        ]),
        'VALUE_TOO_LARGE',
      );
      assert.deepEqual(await store.has([b, c]), [false, false]);
      assert.equal((await store.get([a]))[0]?.length, store.maxValueBytes);
    });

    it('keeps stats: lookups, hits, misses, writes, bytes', async () => {
      const [a, b, c] = hashes(3) as [string, string, string];
      const va = randomBuffer(1000);
      const vb = randomBuffer(500);
      await store.put([
        { hash: a, value: va },
        { hash: b, value: vb },
      ]);
      await store.put([{ hash: a, value: va }]);
      await store.has([a, b, c]);
      await store.get([a, c]);
      const s = store.stats();
      assert.equal(s.name, store.name);
      assert.equal(s.tier, store.tier);
      assert.equal(s.lookups, 2);
      assert.equal(s.hits, 3);
      assert.equal(s.misses, 2);
      assert.equal(Object.values(s.hitsByTier).reduce((x, y) => x + y, 0), 3);
      assert.equal(s.puts, 2);
      assert.equal(s.stored, 2);
      assert.equal(s.existing, 1);
      assert.equal(s.failedWrites, 0);
      assert.equal(s.bytesWritten, 1500);
      assert.equal(s.bytesRead, 1000);
      assert.equal(s.fallbacks, 0);
      assert.equal(s.errors, 0);
    });

    it('exposes Prometheus metrics with the same values', async () => {
      const [a, b, c] = hashes(3) as [string, string, string];
      await store.put([
        { hash: a, value: randomBuffer(100) },
        { hash: b, value: randomBuffer(28) },
      ]);
      await store.put([{ hash: b, value: randomBuffer(28) }]);
      await store.has([a, b, c]);
      await store.get([a, c]);
      const text = await store.metricsText();
      const l = { store: store.name, tier: store.tier };
      assert.equal(metricValue(text, 'kvlab_store_lookups_total', { ...l, op: 'has' }), 1);
      assert.equal(metricValue(text, 'kvlab_store_hits_total', { ...l, op: 'has' }), 2);
      assert.equal(metricValue(text, 'kvlab_store_misses_total', { ...l, op: 'has' }), 1);
      assert.equal(metricValue(text, 'kvlab_store_hits_total', { ...l, op: 'get' }), 1);
      assert.equal(metricValue(text, 'kvlab_store_misses_total', { ...l, op: 'get' }), 1);
      assert.equal(metricValue(text, 'kvlab_store_writes_total', { ...l, result: 'stored' }), 2);
      assert.equal(metricValue(text, 'kvlab_store_writes_total', { ...l, result: 'exists' }), 1);
      assert.equal(metricValue(text, 'kvlab_store_written_bytes_total', l), 128);
      assert.equal(metricValue(text, 'kvlab_store_read_bytes_total', l), 100);
      assert.equal(metricValue(text, 'kvlab_store_operation_duration_seconds_count', { ...l, op: 'get' }), 1);
      assert.equal(metricValue(text, 'kvlab_store_operation_duration_seconds_count', { ...l, op: 'put' }), 2);
      // One exposition: each family has a single HELP line.
      const helps = text.split('\n').filter((x) => x.startsWith('# HELP '));
      assert.equal(new Set(helps).size, helps.length);
    });

    it('records token-level hits and misses per tier', async () => {
      store.recordTokens('memory', 32, 16);
      store.recordTokens('redis', 48, 0);
      store.recordTokens('memory', 16, 0);
      assert.deepEqual(store.stats().tokens, { memory: { hit: 48, miss: 16 }, redis: { hit: 48, miss: 0 } });
      const text = await store.metricsText();
      assert.equal(metricValue(text, 'kvlab_cache_tokens_total', { store: store.name, tier: 'memory', result: 'hit' }), 48);
      assert.equal(metricValue(text, 'kvlab_cache_tokens_total', { store: store.name, tier: 'memory', result: 'miss' }), 16);
      assert.equal(metricValue(text, 'kvlab_cache_tokens_total', { store: store.name, tier: 'redis', result: 'hit' }), 48);
      assert.throws(() => store.recordTokens('memory', -1, 0), { code: 'INVALID_INPUT' });
      assert.throws(() => store.recordTokens('memory', 1, Number.NaN), { code: 'INVALID_INPUT' });
      assert.throws(() => store.recordTokens('', 1, 1), { code: 'INVALID_INPUT' });
    });

    it('treats entries the validate hook reports as corrupt as misses and deletes them', async () => {
      const [a, b, c, d] = hashes(4) as [string, string, string, string];
      await store.put([a, b, c, d].map((hash) => ({ hash, value: Buffer.from(`v-${hash.slice(0, 4)}`) })));
      // 1. hook returns false for b
      const got = await store.get([a, b], { validate: (_v, h) => h !== b });
      assert.equal(got[0]?.toString(), `v-${a.slice(0, 4)}`);
      assert.equal(got[1], undefined);
      assert.deepEqual(await store.has([a, b]), [true, false]);
      const corruptAfterB = store.stats().corrupt; // 1, or one per tier that held it
      assert.ok(corruptAfterB >= 1, 'corruptAfterB >= 1');
      // 2. hook throws CorruptEntryError for c
      const [gc] = await store.get([c], {
        validate: () => {
          throw new CorruptEntryError('checksum mismatch');
        },
      });
      assert.equal(gc, undefined);
      assert.deepEqual(await store.has([c]), [false]);
      const corruptAfterC = store.stats().corrupt;
      assert.ok(corruptAfterC > corruptAfterB, 'corruptAfterC > corruptAfterB');
      // 3. a hook that fails for another reason: a miss, but the entry is kept
      const [gd] = await store.get([d], {
        validate: async () => {
          throw new Error('decoder bug');
        },
      });
      assert.equal(gd, undefined);
      assert.deepEqual(await store.has([d]), [true]);
      assert.equal(store.stats().corrupt, corruptAfterC);
      assert.ok(store.stats().errors >= 1, 'store.stats().errors >= 1');
      // Without a hook the entry reads fine.
      assert.ok((await store.get([d]))[0], '(await store.get([d]))[0]');
    });

    it('reports health', async () => {
      const h = await store.health();
      assert.equal(h.ok, true, JSON.stringify(h));
      assert.equal(h.reachable, true);
      assert.equal(h.name, store.name);
      assert.ok(Array.isArray(h.warnings), 'Array.isArray(h.warnings)');
      assert.ok(typeof h.latencyMs === 'number', 'typeof h.latencyMs === \'number\'');
    });

    it('after close(): misses and no-op writes, never an exception', async () => {
      const h = blockHash();
      await store.put([{ hash: h, value: Buffer.from('x') }]);
      await store.close();
      assert.deepEqual(await store.has([h]), [false]);
      assert.deepEqual(await store.get([h]), [undefined]);
      assert.deepEqual((await store.put([{ hash: blockHash(), value: Buffer.from('y') }])).statuses, ['failed']);
      assert.equal(await store.delete([h]), 0);
      assert.equal((await store.health()).ok, false);
      await store.close(); // idempotent
    });
  });
}
