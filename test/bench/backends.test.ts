import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { BACKEND_TARGETS, formatBackendsBench, runBackendsBenchmark } from '../../lib/src/bench/backends';
import { openBackends, type OpenBackends } from '../../lib/src/bench/backend-targets';
import { MemcachedMetaClient, startMemcached } from '../../lib/src/bench/memcached';

const MiB = 2 ** 20;

function hex(i: number, tag: string): string {
  return (tag + i.toString(16)).padStart(64, '0').slice(-64);
}

function hasMemcached(): boolean {
  try {
    execFileSync('memcached', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('bench: backends (servers and clients side by side)', function () {
  this.timeout(60_000);

  before(function () {
    // memcached is a system package like redis-server (scripts/setup.mjs installs both). Fail loudly
    // rather than skip: a skipped comparison would hide that its rows are missing.
    assert.ok(hasMemcached(), "memcached is not installed: apt-get install memcached (or run 'npm run setup')");
  });

  describe('every client reads back exactly the bytes it wrote', () => {
    let open: OpenBackends;
    before(async () => {
      open = await openBackends(BACKEND_TARGETS, { maxValueBytes: 8 * MiB });
    });
    after(async () => {
      await open?.close();
    });

    it('connects every target (servers start, node-redis / valkey-glide / memjs load)', () => {
      const missing = open.infos.filter((i) => !i.available).map((i) => `${i.id}: ${i.error}`);
      assert.deepEqual(missing, []);
      assert.deepEqual(open.targets.map((t) => t.info.id), [...BACKEND_TARGETS]);
    });

    for (const id of BACKEND_TARGETS) {
      it(`${id}: byte-identical Buffers (1 B to 8 MiB, protocol bytes inside), misses, lookups`, async () => {
        const t = open.targets.find((x) => x.info.id === id);
        assert.ok(t, `${id} not connected: ${open.infos.find((i) => i.id === id)?.error}`);
        const sizes = [1, 1000, 0.5 * MiB, 2 * MiB, 8 * MiB];
        const values = sizes.map((n) => randomFillSync(Buffer.allocUnsafe(n)));
        // Values full of protocol bytes ("\r\n", "$", "*") must survive too.
        values.push(Buffer.from('\r\n$-1\r\n*3\r\nEND\r\nVA 5\r\n'.repeat(1000)));
        const keys = values.map((_, i) => hex(i, 'a'));
        await t.write(keys, values);
        const back = await t.read(keys);
        assert.equal(back.length, values.length);
        back.forEach((v, i) => {
          assert.ok(Buffer.isBuffer(v), `${id}: value ${i} is ${typeof v}, not a Buffer`);
          assert.equal(v.length, values[i]!.length, `${id}: value ${i} length`);
          assert.ok(v.equals(values[i]!), `${id}: value ${i} (${values[i]!.length} bytes) differs`);
        });
        const missKey = hex(999, 'ffff');
        assert.deepEqual(await t.read([missKey]), [undefined]);
        assert.deepEqual(await t.exists([keys[0]!, missKey, keys[3]!]), [true, false, true]);
        await t.remove(keys);
        assert.deepEqual(await t.exists(keys), keys.map(() => false));
      });
    }
  });

  describe('memcached item-size limit', () => {
    it('the default server (1 MiB items) rejects 1, 2 and 8 MiB values; -I 16m stores them', async () => {
      const def = await startMemcached([]);
      const raised = await startMemcached(['-m', '256', '-I', '16m']);
      const a = await MemcachedMetaClient.connect(def.port);
      const b = await MemcachedMetaClient.connect(raised.port);
      try {
        assert.equal(Number((await a.settings()).item_size_max), MiB);
        assert.equal(Number((await b.settings()).item_size_max), 16 * MiB);
        for (const size of [0.5 * MiB, MiB - 4096]) {
          const v = randomFillSync(Buffer.allocUnsafe(size));
          assert.equal(await a.set('k', v), 'HD', `${size} bytes at the default limit`);
          assert.ok((await a.get('k'))?.equals(v));
        }
        for (const size of [MiB, 2 * MiB, 8 * MiB]) {
          const v = randomFillSync(Buffer.allocUnsafe(size));
          assert.equal(await a.set('big', v), 'SERVER_ERROR object too large for cache', `${size} bytes at the default limit`);
          assert.equal(await a.get('big'), undefined);
          assert.equal(await b.set('big', v), 'HD', `${size} bytes with -I 16m`);
          assert.ok((await b.get('big'))?.equals(v));
        }
        // The connection survives a rejected value (the server swallows its bytes).
        assert.equal(await a.set('after', Buffer.from('ok')), 'HD');
        assert.deepEqual(await a.get('after'), Buffer.from('ok'));
      } finally {
        a.close();
        b.close();
        await def.stop();
        await raised.stop();
      }
    });

    it('the benchmark records the limit through both clients, and verifies every row', async () => {
      const steps: number[] = [];
      const r = await runBackendsBenchmark({
        blockSizes: [0.5 * MiB, 2 * MiB],
        bytesPerPass: 4 * MiB,
        iterations: 1,
        lookupIterations: 2,
        memcachedProbeSizes: [0.5 * MiB, 2 * MiB],
        onProgress: (done) => steps.push(done),
      });
      assert.deepEqual(r.targets.filter((t) => !t.available), []);
      assert.equal(r.measurements.transfer.length, 2);
      for (const tr of r.measurements.transfer) {
        assert.equal(tr.rows.length, BACKEND_TARGETS.length);
        for (const row of tr.rows) {
          assert.equal(row.error, undefined, `${row.target}: ${row.error}`);
          assert.equal(row.verified, true, `${row.target} at ${tr.blockBytes} bytes`);
          assert.ok(row.read.gbps > 0 && row.write.gbps > 0);
        }
        const base = tr.rows.find((x) => x.target === 'redis/ioredis')!;
        assert.equal(base.readRatio, 1);
        assert.equal(base.writeRatio, 1);
      }
      for (const row of r.measurements.lookup.rows) assert.equal(row.correct, true, `${row.target} lookup`);
      const m = r.measurements.memcachedItemLimit;
      assert.equal(m.available, true, m.error);
      assert.equal(m.itemSizeMax, MiB);
      const [half, two] = m.probes;
      assert.equal(half!.meta.stored, true);
      assert.equal(half!.memjs?.stored, true);
      assert.equal(two!.meta.stored, false);
      assert.equal(two!.meta.error, 'SERVER_ERROR object too large for cache');
      assert.equal(two!.memjs?.stored, false);
      assert.match(two!.memjs?.error ?? '', /too large/i);
      assert.ok(m.largestStoredBytes! < MiB && m.largestStoredBytes! > MiB - 4096, `largest ${m.largestStoredBytes}`);
      assert.equal(m.raisedLimit.itemSizeMax, 16 * MiB);
      assert.ok(m.raisedLimit.probes.every((p) => p.stored));
      assert.match(formatBackendsBench(r), /redis\/valkey-glide/);
      assert.deepEqual(steps, steps.slice().sort((x, y) => x - y));
    });
  });
});
