import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { startRoundTripProxy } from '../../lib/src/bench/store-proxy';
import { CorruptEntryError } from '../../lib/src/runtime/errors';
import { RedisStore, TieredStore, createStore, startEmbeddedRedis } from '../../lib/src/store';
import { freePort } from '../harness/ports';
import { RedisServer } from '../harness/redis';
import { blockHash, commandCalls, hashes, metricValue, randomBuffer, uniqueNamespace } from './helpers';
import { describeStoreSuite } from './suite';

const execFileP = promisify(execFile);
const MiB = 1024 * 1024;

describe('store: RedisStore', function () {
  let server: RedisServer;
  const open: RedisStore[] = [];

  /** A store on the shared server with its own namespace (closed after each test). */
  async function make(options: ConstructorParameters<typeof RedisStore>[0] = {}): Promise<RedisStore> {
    const store = new RedisStore({ url: server.url, namespace: uniqueNamespace(), ...options });
    open.push(store);
    assert.equal(await store.ready(), true);
    return store;
  }

  before(async () => {
    server = await RedisServer.start();
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });

  after(async () => {
    await server.stop();
  });

  describeStoreSuite('RedisStore', async () => {
    const store = new RedisStore({ url: server.url, namespace: uniqueNamespace() });
    await store.ready();
    return store;
  });

  describe('key layout', function () {
    it('stores one string key per block: <prefix>:<namespace>:<blockhash>', async () => {
      const store = await make({ prefix: 'kvlab', namespace: 'abc123' });
      const h = blockHash();
      await store.put([{ hash: h, value: Buffer.from('hello') }]);
      assert.equal(store.keyFor(h), `kvlab:abc123:${h}`);
      assert.equal((await server.cli('TYPE', `kvlab:abc123:${h}`)).trim(), 'string');
      assert.equal((await server.cli('GET', `kvlab:abc123:${h}`)).trim(), 'hello');
      assert.equal((await server.cli('KEYS', 'kvlab:abc123:*')).trim(), `kvlab:abc123:${h}`);
      await server.cli('DEL', `kvlab:abc123:${h}`);
    });

    it('namespaces isolate stores on the same server', async () => {
      const s1 = await make({ namespace: uniqueNamespace('a') });
      const s2 = await make({ namespace: uniqueNamespace('b') });
      const h = blockHash();
      await s1.put([{ hash: h, value: Buffer.from('1') }]);
      assert.deepEqual(await s2.has([h]), [false]);
      assert.deepEqual((await s2.put([{ hash: h, value: Buffer.from('2') }])).statuses, ['stored']);
      assert.equal((await s1.get([h]))[0]?.toString(), '1');
    });

    it('rejects prefixes and namespaces that would break the layout or pin a slot', () => {
      for (const bad of ['', 'a:b', '{tag}', 'x'.repeat(65), 'sp ace']) {
        assert.throws(() => new RedisStore({ url: server.url, namespace: bad }), { code: 'INVALID_INPUT' }, bad);
        assert.throws(() => new RedisStore({ url: server.url, prefix: bad }), { code: 'INVALID_INPUT' }, bad);
      }
    });

    it('stores binary values exactly, never as text (ioredis Uint8Array pitfall)', async () => {
      const store = await make();
      const h = blockHash();
      const u8 = new Uint8Array([120, 156, 1, 0, 255]);
      await store.put([{ hash: h, value: u8 }]);
      assert.equal((await server.cli('STRLEN', store.keyFor(h))).trim(), '5');
      assert.deepEqual([...(await store.get([h]))[0]!], [120, 156, 1, 0, 255]);
    });
  });

  describe('TTL', function () {
    it('no TTL by default', async () => {
      const store = await make();
      const h = blockHash();
      await store.put([{ hash: h, value: Buffer.from('x') }]);
      assert.equal((await server.cli('TTL', store.keyFor(h))).trim(), '-1');
    });

    it('sets EX on put and refreshes it on get hits (GETEX), not on has', async () => {
      const store = await make({ ttlSeconds: 1000 });
      const [h, missing] = hashes(2) as [string, string];
      await store.put([{ hash: h, value: Buffer.from('x') }]);
      const ttl0 = Number(await server.cli('TTL', store.keyFor(h)));
      assert.ok(ttl0 > 990 && ttl0 <= 1000, `TTL after put: ${ttl0}`);
      await server.cli('EXPIRE', store.keyFor(h), '50');
      await store.has([h]);
      assert.ok(Number(await server.cli('TTL', store.keyFor(h))) <= 50, 'has does not refresh');
      await server.cli('CONFIG', 'RESETSTAT');
      assert.equal((await store.get([h, missing]))[0]?.toString(), 'x');
      const ttl1 = Number(await server.cli('TTL', store.keyFor(h)));
      assert.ok(ttl1 > 990, `TTL after get: ${ttl1}`);
      const calls = commandCalls(await server.cli('INFO', 'commandstats'));
      assert.equal(calls.getex, 2);
      assert.equal(calls.mget, undefined);
      assert.equal(store.stats().roundTrips, 3); // put + has + get
      // A re-put of an existing block does not extend its TTL (SET NX), a get does.
      assert.equal((await server.cli('TTL', store.keyFor(missing))).trim(), '-2');
    });

    it('refreshTtlOnHit: false reads with MGET and leaves the TTL alone', async () => {
      const store = await make({ ttlSeconds: 1000, refreshTtlOnHit: false });
      const h = blockHash();
      await store.put([{ hash: h, value: Buffer.from('x') }]);
      await server.cli('EXPIRE', store.keyFor(h), '50');
      await store.get([h]);
      assert.ok(Number(await server.cli('TTL', store.keyFor(h))) <= 50, 'Number(await server.cli(\'TTL\', store.keyFor(h))) <= 50');
    });
  });

  describe('round trips', function () {
    it('a lookup of 128 blocks is 128 EXISTS in ONE round trip (INFO commandstats + a counting proxy)', async () => {
      const store = await make();
      const hs = hashes(128);
      await store.put(hs.slice(0, 100).map((hash) => ({ hash, value: Buffer.alloc(64, 1) })));
      await server.cli('CONFIG', 'RESETSTAT');
      const rt0 = store.stats().roundTrips;
      const found = await store.has(hs);
      assert.equal(store.stats().roundTrips - rt0, 1);
      assert.equal(found.indexOf(false), 100);
      const calls = commandCalls(await server.cli('INFO', 'commandstats'));
      for (const k of Object.keys(calls)) if (k === 'info' || k.startsWith('config')) delete calls[k];
      assert.deepEqual(calls, { exists: 128 });

      // Seen from the wire: one request burst, one response burst.
      const proxy = await startRoundTripProxy({ host: '127.0.0.1', port: server.port });
      const viaProxy = await make({ host: '127.0.0.1', port: proxy.port, namespace: store.namespace, url: undefined });
      proxy.reset();
      assert.deepEqual(await viaProxy.has(hs), found);
      assert.equal(proxy.roundTrips, 1);
      proxy.reset();
      // A fresh store does not know its value sizes: its first read starts with four values in
      // flight (windowBytes / 4 each), learns they are small from the first reply and sends the rest.
      const values = await viaProxy.get(hs);
      assert.equal(values.filter(Boolean).length, 100);
      assert.ok(proxy.roundTrips <= 2, `a first get of 128 small blocks takes at most 2 round trips, took ${proxy.roundTrips}`);
      proxy.reset();
      await viaProxy.get(hs);
      assert.equal(proxy.roundTrips, 1, 'once the sizes are known, a get of 128 small blocks is one round trip too');
      await viaProxy.close();
      await proxy.close();
    });

    it('get sends one GET per block over the bulk connection, all in one round trip', async () => {
      const store = await make({ mgetBatchSize: 10 });
      const hs = hashes(25);
      await store.put(hs.map((hash) => ({ hash, value: Buffer.from(hash) })));
      await server.cli('CONFIG', 'RESETSTAT');
      const rt0 = store.stats().roundTrips;
      const got = await store.get(hs);
      assert.ok(got.every((v, i) => v?.toString() === hs[i]));
      assert.equal(store.stats().roundTrips - rt0, 1);
      const calls = commandCalls(await server.cli('INFO', 'commandstats'));
      assert.equal(calls.get, 25);
      assert.equal(calls.mget, undefined);
    });

    it('without the bulk connection, get batches MGETs of mgetBatchSize keys', async () => {
      const store = await make({ mgetBatchSize: 10, bulkReads: false });
      const hs = hashes(25);
      await store.put(hs.map((hash) => ({ hash, value: Buffer.from(hash) })));
      await server.cli('CONFIG', 'RESETSTAT');
      const got = await store.get(hs);
      got.forEach((v, i) => assert.equal(v?.toString(), hs[i]));
      assert.equal(commandCalls(await server.cli('INFO', 'commandstats')).mget, 3);
    });
  });

  describe('flow control (windowBytes)', function () {
    this.timeout(60_000);
    const MB = 1024 * 1024;

    it("a long prefix costs Redis' buffers the window, not the prefix: reads pass a limit that all-in-flight reads break", async () => {
      // Redis disconnects a client whose output buffer passes 8 MiB: reading 48 × 1 MiB with every
      // GET in flight builds the whole 48 MiB reply there; a 4 MiB window never holds more than 4.
      const hs = hashes(48);
      const values = hs.map((_, i) => Buffer.alloc(MB, i));
      await server.cli('CONFIG', 'SET', 'client-output-buffer-limit', 'normal 8mb 8mb 0');
      try {
        for (const bulkReads of [true, false]) {
          const label = bulkReads ? 'bulk connection' : 'ioredis';
          const bounded = await make({ windowBytes: 4 * MB, bulkReads });
          const unbounded = await make({ windowBytes: 256 * MB, bulkReads, namespace: bounded.namespace });
          await bounded.put(hs.map((hash, i) => ({ hash, value: values[i]! })));
          await unbounded.get(hs.slice(0, 2)); // both learn the value size
          await bounded.get(hs.slice(0, 2));
          const got = await bounded.get(hs);
          assert.ok(got.every((v, i) => v !== undefined && v.equals(values[i]!)), `${label}: every value read through the window`);
          assert.equal(bounded.stats().fallbacks, 0, `${label}: no disconnect, no fallback`);
          const all = await unbounded.get(hs);
          assert.ok(all.some((v) => v === undefined) && unbounded.stats().fallbacks > 0, `${label}: with every GET in flight Redis cut the connection (the limit is real)`);
          await bounded.delete(hs);
        }
      } finally {
        await server.cli('CONFIG', 'SET', 'client-output-buffer-limit', 'normal 0 0 0');
      }
    });

    it('a long put never has more than the window outstanding (sent, not yet acknowledged)', async () => {
      const hs = hashes(40);
      const values = hs.map((_, i) => Buffer.alloc(MB, i));
      const outstanding = async (windowBytes: number): Promise<number> => {
        const store = await make({ windowBytes });
        const client = store.client as unknown as { set: (...a: unknown[]) => Promise<unknown> };
        const set = client.set.bind(client);
        let now = 0;
        let max = 0;
        client.set = (...args: unknown[]) => {
          const bytes = (args[1] as Buffer).length;
          now += bytes;
          max = Math.max(max, now);
          return set(...args).finally(() => (now -= bytes));
        };
        const r = await store.put(hs.map((hash, i) => ({ hash, value: values[i]! })));
        assert.equal(r.stored, hs.length);
        await store.delete(hs);
        return max;
      };
      const bounded = await outstanding(4 * MB);
      const unbounded = await outstanding(256 * MB);
      assert.ok(bounded <= 4 * MB, `a 4 MiB window had ${(bounded / MB).toFixed(1)} MiB outstanding`);
      assert.equal(unbounded, 40 * MB, 'without a window every value is sent at once');
    });

    it('stream lends a few pooled buffers over and over instead of allocating one per block', async () => {
      const store = await make({ windowBytes: 2 * MB });
      const hs = hashes(40);
      const values = hs.map((_, i) => Buffer.alloc(MB / 4, i + 1));
      await store.put(hs.map((hash, i) => ({ hash, value: values[i]! })));
      const memories = new Set<ArrayBufferLike>();
      let same = 0;
      const found = await store.stream(hs, (i, v) => {
        memories.add(v.buffer);
        if (v.equals(values[i]!)) same++;
      });
      assert.ok(found.every(Boolean));
      assert.equal(same, hs.length, 'every value had its bytes during its call');
      assert.ok(memories.size <= 8, `40 blocks went through ${memories.size} buffers`);
      const bulk = (store as unknown as { bulk: { pool: { lentCount: number } } }).bulk;
      assert.equal(bulk.pool.lentCount, 0, 'every lent buffer was given back');
    });

    it('values are still handed out as they arrive, in any window', async () => {
      const store = await make({ windowBytes: 2 * MB });
      const hs = hashes(12);
      await store.put(hs.map((hash, i) => ({ hash, value: Buffer.alloc(MB / 2, i) })));
      const seen: number[] = [];
      const got = await store.get(hs, { onValue: (i) => seen.push(i) });
      assert.deepEqual([...seen].sort((a, b) => a - b), hs.map((_, i) => i));
      assert.ok(got.every(Boolean));
    });
  });

  describe('value size', function () {
    it('defaults to 8 MiB per block (one key, never split) and is configurable up to 512 MiB', async () => {
      const store = await make();
      assert.equal(store.maxValueBytes, 8 * MiB);
      const small = await make({ maxValueBytes: 1024 });
      await assert.rejects(small.put([{ hash: blockHash(), value: Buffer.alloc(1025) }]), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'VALUE_TOO_LARGE');
        assert.match(err.message, /at most 1024 bytes per block.*received 1025 bytes/);
        const { path, limit, actual } = (err as Error & { details: { path?: string; limit?: number; actual?: number } }).details;
        assert.deepEqual({ path, limit, actual }, { path: 'entries[0].value', limit: 1024, actual: 1025 });
        return true;
      });
      assert.throws(() => new RedisStore({ url: server.url, maxValueBytes: 513 * MiB }), { code: 'INVALID_INPUT' });
    });

    it('long transfers get time in proportion to their bytes; lookups keep the short timeout', async () => {
      const store = await make({ commandTimeout: 20, minTransferBytesPerSec: 50 * MiB });
      assert.equal(store.deadlineFor(0), 20);
      assert.equal(store.deadlineFor(50 * MiB), 1020);
      const hs = hashes(40);
      const value = randomBuffer(4 * MiB); // 160 MiB in all: far more than 20 ms on loopback
      const put = await store.put(hs.map((hash) => ({ hash, value })));
      assert.equal(put.stored, 40);
      const got = await store.get(hs);
      assert.equal(got.filter((v) => v?.length === 4 * MiB).length, 40);
      assert.equal(store.stats().fallbacks, 0);
      await store.delete(hs);
    });

    it('round-trips an 8 MiB block', async () => {
      const store = await make();
      const h = blockHash();
      const v = randomBuffer(8 * MiB);
      await store.put([{ hash: h, value: v }]);
      assert.ok((await store.get([h]))[0]?.equals(v), '(await store.get([h]))[0]?.equals(v)');
    });
  });

  describe('connection by URL', function () {
    it('uses the database number of the URL', async () => {
      const store = new RedisStore({ url: `${server.url}/3?namespace=dbtest` });
      open.push(store);
      await store.ready();
      const h = blockHash();
      await store.put([{ hash: h, value: Buffer.from('x') }]);
      assert.equal((await execFileP('redis-cli', ['-p', String(server.port), '-n', '3', 'EXISTS', `kvlab:dbtest:${h}`])).stdout.trim(), '1');
      assert.equal((await server.cli('EXISTS', `kvlab:dbtest:${h}`)).trim(), '0');
    });

    it('takes namespace, prefix, ttl and timeout from the query string; explicit options win', async () => {
      const store = new RedisStore({ url: `${server.url}?namespace=fromurl&prefix=p1&ttl=77&timeout=1234`, prefix: 'p2' });
      open.push(store);
      assert.equal(store.namespace, 'fromurl');
      assert.equal(store.prefix, 'p2');
      assert.equal(store.ttlSeconds, 77);
      assert.equal(store.commandTimeout, 1234);
    });

    it('rejects a cluster URL', () => {
      assert.throws(() => new RedisStore({ url: 'redis+cluster://127.0.0.1:1,127.0.0.1:2' }), { code: 'CONFIG_ERROR' });
    });

    it('createStore(url) gives a RedisStore; ?l1= gives a TieredStore; the registry can be passed in', async () => {
      const registry = new Registry();
      const store = await createStore(`${server.url}?namespace=${uniqueNamespace()}`, { registry });
      assert.ok(store instanceof RedisStore, 'store instanceof RedisStore');
      assert.equal(store.metrics.registry, registry);
      await store.put([{ hash: blockHash(), value: Buffer.from('x') }]);
      assert.match(await registry.metrics(), /kvlab_store_writes_total\{store="redis",tier="redis",result="stored"\} 1/);
      await store.close();
      const tiered = await createStore(`${server.url}?l1=8mib&namespace=${uniqueNamespace()}`);
      assert.ok(tiered instanceof TieredStore, 'tiered instanceof TieredStore');
      assert.equal((tiered.l1 as { maxBytes?: number }).maxBytes, 8 * MiB);
      await tiered.close();
    });

    describe('with a password (ACL)', function () {
      let secured: RedisServer;
      before(async () => {
        secured = await RedisServer.start({ args: ['--requirepass', 'hunter2-secret'] });
      });
      after(async () => {
        await secured.stop();
      });

      it('connects with user:password@ and never shows the password', async () => {
        const url = `redis://default:hunter2-secret@127.0.0.1:${secured.port}`;
        const store = await createStore(url, { namespace: uniqueNamespace() });
        const h = blockHash();
        assert.deepEqual((await store.put([{ hash: h, value: Buffer.from('x') }])).statuses, ['stored']);
        const health = await store.health();
        assert.equal(health.ok, true);
        assert.doesNotMatch(JSON.stringify(health), /hunter2/);
        await store.close();
      });

      it('a wrong password: misses and a health error, no exception; requireReachable rejects without the password', async () => {
        const url = `redis://default:wrong-pass-123@127.0.0.1:${secured.port}`;
        const store = new RedisStore({ url, connectTimeout: 500, commandTimeout: 300 });
        open.push(store);
        await store.ready(500);
        assert.deepEqual(await store.has([blockHash()]), [false]);
        const health = await store.health();
        assert.equal(health.ok, false);
        assert.doesNotMatch(JSON.stringify(health), /wrong-pass-123/);
        await assert.rejects(createStore(url, { connectTimeout: 300, requireReachable: true }), (err: Error & { code?: string }) => {
          assert.equal(err.code, 'STORE_UNAVAILABLE');
          assert.doesNotMatch(err.message, /wrong-pass-123/);
          assert.match(err.message, /\*\*\*/);
          return true;
        });
      });
    });

    describe('over TLS (rediss://)', function () {
      let tlsServer: RedisServer | undefined;
      let tlsPort = 0;
      let certDir = '';
      before(async function () {
        certDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvlab-tls-'));
        try {
          await execFileP('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
            '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', path.join(certDir, 'key.pem'), '-out', path.join(certDir, 'cert.pem')]);
          tlsPort = await freePort();
          tlsServer = await RedisServer.start({
            args: ['--tls-port', String(tlsPort), '--tls-cert-file', path.join(certDir, 'cert.pem'), '--tls-key-file', path.join(certDir, 'key.pem'),
              '--tls-ca-cert-file', path.join(certDir, 'cert.pem'), '--tls-auth-clients', 'no'],
          });
        } catch (err) {
          console.warn(`      (TLS test skipped: ${(err as Error).message.split('\n')[0]})`);
          this.skip();
        }
      });
      after(async () => {
        await tlsServer?.stop();
        fs.rmSync(certDir, { recursive: true, force: true });
      });

      it('round-trips a block over TLS', async () => {
        const ca = fs.readFileSync(path.join(certDir, 'cert.pem'));
        const store = await createStore(`rediss://127.0.0.1:${tlsPort}?namespace=tls`, { tls: { ca }, requireReachable: true });
        const h = blockHash();
        const v = randomBuffer(100_000);
        await store.put([{ hash: h, value: v }]);
        assert.ok((await store.get([h]))[0]?.equals(v), '(await store.get([h]))[0]?.equals(v)');
        assert.equal((await store.health()).ok, true);
        await store.close();
      });
    });
  });

  describe('health', function () {
    it('reports memory, policy, latency; warns about maxmemory 0', async () => {
      const store = await make();
      const h = await store.health();
      assert.equal(h.ok, true);
      assert.equal(h.reachable, true);
      assert.ok(h.latencyMs! >= 0 && h.latencyMs! < 1000, 'h.latencyMs! >= 0 && h.latencyMs! < 1000');
      assert.ok(h.usedMemoryBytes! > 0, 'h.usedMemoryBytes! > 0');
      assert.equal(h.maxMemoryBytes, 0);
      assert.equal(h.maxmemoryPolicy, 'noeviction');
      assert.equal(h.nodes?.[0]?.address, `127.0.0.1:${server.port}`);
      assert.ok(h.warnings.some((w) => /maxmemory is 0/.test(w)), h.warnings.join('\n'));
    });

    describe('with --maxmemory-policy noeviction', function () {
      let full: RedisServer;
      before(async () => {
        full = await RedisServer.start({ args: ['--maxmemory', '8mb', '--maxmemory-policy', 'noeviction'] });
      });
      after(async () => {
        await full.stop();
      });

      it('warns that writes will fail when full, and failed writes are reported, not thrown', async () => {
        const store = new RedisStore({ url: full.url, namespace: uniqueNamespace() });
        open.push(store);
        await store.ready();
        const h = await store.health();
        assert.equal(h.maxmemoryPolicy, 'noeviction');
        assert.equal(h.maxMemoryBytes, 8 * MiB);
        assert.ok(h.warnings.some((w) => /noeviction.*every put fails/.test(w)), h.warnings.join('\n'));
        // Fill it up: later puts fail with OOM, reported per entry.
        const statuses: string[] = [];
        for (let i = 0; i < 12; i++) statuses.push(...(await store.put([{ hash: blockHash(), value: Buffer.alloc(MiB) }])).statuses);
        assert.ok(statuses.includes('stored'), 'statuses.includes(\'stored\')');
        assert.ok(statuses.includes('failed'), statuses.join(','));
        const text = await store.metricsText();
        assert.ok(metricValue(text, 'kvlab_store_errors_total', { op: 'put', kind: 'server' })! >= 1, 'metricValue(text, \'kvlab_store_errors_total\', { op: \'put\', kind: \'server\' })! >= 1');
        assert.ok(metricValue(text, 'kvlab_store_writes_total', { result: 'failed' })! >= 1, 'metricValue(text, \'kvlab_store_writes_total\', { result: \'failed\' })! >= 1');
        assert.equal(store.circuit, 'closed', 'a full server is reachable: no circuit opening');
      });
    });

    describe('with a volatile-* policy', function () {
      let vol: RedisServer;
      before(async () => {
        vol = await RedisServer.start({ args: ['--maxmemory', '64mb', '--maxmemory-policy', 'volatile-lru'] });
      });
      after(async () => {
        await vol.stop();
      });

      it('warns when the store sets no TTL, not when it does', async () => {
        const noTtl = new RedisStore({ url: vol.url });
        const withTtl = new RedisStore({ url: vol.url, ttlSeconds: 3600 });
        open.push(noTtl, withTtl);
        await Promise.all([noTtl.ready(), withTtl.ready()]);
        assert.ok((await noTtl.health()).warnings.some((w) => /volatile-lru but this store sets no TTL/.test(w)), '(await noTtl.health()).warnings.some((w) => /volatile-lru but this store sets no TTL/.test(w))');
        assert.deepEqual((await withTtl.health()).warnings, []);
      });
    });
  });

  describe('corrupt entries', function () {
    it('the store-level validate hook deletes corrupt entries and counts them', async () => {
      const store = await make({
        validate: (v) => {
          if (v[0] !== 0x4b) throw new CorruptEntryError('bad magic');
        },
      });
      const [good, bad] = hashes(2) as [string, string];
      await store.put([
        { hash: good, value: Buffer.from('KV-good') },
        { hash: bad, value: Buffer.from('XX-bad') },
      ]);
      const got = await store.get([good, bad]);
      assert.equal(got[0]?.toString(), 'KV-good');
      assert.equal(got[1], undefined);
      assert.equal((await server.cli('EXISTS', store.keyFor(bad))).trim(), '0');
      assert.equal((await server.cli('EXISTS', store.keyFor(good))).trim(), '1');
      const s = store.stats();
      assert.equal(s.corrupt, 1);
      assert.equal(s.hits, 1);
      assert.equal(s.misses, 1);
      assert.equal(metricValue(await store.metricsText(), 'kvlab_store_corrupt_entries_total', { store: 'redis' }), 1);
    });
  });

  describe('bring your own client', function () {
    it('uses it and does not close it', async () => {
      const client = new Redis(server.url, { enableOfflineQueue: false });
      await new Promise((r) => client.once('ready', r));
      const store = new RedisStore({ client, namespace: uniqueNamespace() });
      const h = blockHash();
      await store.put([{ hash: h, value: Buffer.from('x') }]);
      assert.deepEqual(await store.has([h]), [true]);
      await store.close();
      assert.equal(await client.exists(store.keyFor(h)), 1);
      client.disconnect();
    });
  });

  describe('embedded redis-server', function () {
    it('startEmbeddedRedis() runs a private server on a free port and stop() removes it', async () => {
      const redis = await startEmbeddedRedis();
      assert.match(redis.url, /^redis:\/\/127\.0\.0\.1:\d+$/);
      const store = await createStore(redis.url, { requireReachable: true });
      await store.put([{ hash: blockHash(), value: Buffer.from('x') }]);
      await store.close();
      await redis.stop();
      assert.equal(fs.existsSync(redis.dir), false);
    });

    it('a missing executable is a StoreUnavailableError with a hint', async () => {
      await assert.rejects(startEmbeddedRedis({ command: 'no-such-redis-server-xyz' }), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'STORE_UNAVAILABLE');
        assert.match(err.message, /not found.*REDIS_URL/);
        return true;
      });
    });
  });
});
