/**
 * The bulk read path: the RESP2 parser on replies cut at every possible byte, and BulkConnection on
 * a real redis-server (ordering, AUTH/SELECT, server restarts, protocol damage).
 */
import { strict as assert } from 'node:assert';
import * as net from 'node:net';
import { SeededRng } from '../../lib/src/runtime';
import { RedisStore } from '../../lib/src/store';
import { BulkConnection } from '../../lib/src/store/resp/bulk-connection';
import { BufferPool } from '../../lib/src/store/resp/buffer-pool';
import { RespParser, RespProtocolError, RespReplyError, encodeCommand, type RespReply } from '../../lib/src/store/resp/parser';
import { RedisServer } from '../harness/redis';
import { blockHash, commandCalls, uniqueNamespace } from './helpers';

function parseAll(chunks: Uint8Array[]): RespReply[] {
  const out: RespReply[] = [];
  const p = new RespParser((r) => out.push(r));
  for (const c of chunks) p.feed(c);
  assert.equal(p.idle, true, 'nothing left half-read');
  return out;
}

describe('store: RESP2 parser (bulk read path)', () => {
  const big = Buffer.alloc(70_000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7919) & 255;
  const stream = Buffer.concat([
    Buffer.from('+OK\r\n-WRONGTYPE Operation against a key\r\n:42\r\n:-7\r\n$-1\r\n*-1\r\n*0\r\n$0\r\n\r\n'),
    Buffer.from(`$5\r\nhe\r\no\r\n`), // a CRLF inside a bulk string is data
    Buffer.from(`*3\r\n$3\r\nabc\r\n$-1\r\n*2\r\n:1\r\n+x\r\n`),
    Buffer.from(`$${big.length}\r\n`),
    big,
    Buffer.from('\r\n'),
  ]);
  const expected: RespReply[] = ['OK', new RespReplyError('WRONGTYPE Operation against a key'), 42, -7, null, null, [], Buffer.alloc(0), Buffer.from('he\r\no'), [Buffer.from('abc'), null, [1, 'x']], big];

  function check(replies: RespReply[]): void {
    assert.equal(replies.length, expected.length);
    replies.forEach((r, i) => {
      const e = expected[i];
      if (e instanceof Error) {
        assert.ok(r instanceof RespReplyError);
        assert.equal(r.name, 'ReplyError');
        assert.equal(r.message, e.message);
      } else assert.deepEqual(r, e, `reply ${i}`);
    });
  }

  it('every reply type, in one chunk', () => check(parseAll([stream])));

  it('the same stream cut at every byte of its first 200 and at random places', () => {
    for (let cut = 1; cut < 200; cut++) check(parseAll([stream.subarray(0, cut), stream.subarray(cut)]));
    const rng = new SeededRng(5);
    for (let k = 0; k < 50; k++) {
      const chunks: Uint8Array[] = [];
      for (let at = 0; at < stream.length; ) {
        const n = 1 + rng.int(k % 2 ? 9 : 5000);
        chunks.push(stream.subarray(at, at + n));
        at += n;
      }
      check(parseAll(chunks));
    }
  });

  it('one byte at a time, through a reused read buffer (as with net onread)', () => {
    const out: RespReply[] = [];
    const p = new RespParser((r) => out.push(r));
    const shared = new Uint8Array(1);
    for (const b of stream) {
      shared[0] = b;
      p.feed(shared, 0, 1);
    }
    check(out);
  });

  it('large values can be written straight into their Buffer (directTarget / feedDirect), in any split, into a pooled buffer', () => {
    const rng = new SeededRng(4);
    const value = Buffer.alloc(300_000);
    for (let i = 0; i < value.length; i++) value[i] = rng.int(256);
    const wire = Buffer.concat([Buffer.from(`$${value.length}\r\n`), value, Buffer.from('\r\n:7\r\n')]);
    for (const cut of [10, 1000, 70_000, 200_000]) {
      const got: RespReply[] = [];
      const pool = new BufferPool();
      const parser = new RespParser((r) => got.push(r), (n) => pool.take(n));
      let at = 0;
      while (at < wire.length) {
        const target = parser.directTarget(1024);
        if (target) {
          const n = Math.min(target.length, cut, wire.length - at);
          wire.copy(target, 0, at, at + n); // what the kernel does with net's onread buffer
          parser.feedDirect(n);
          at += n;
        } else {
          const n = Math.min(cut, wire.length - at);
          parser.feed(wire.subarray(at, at + n));
          at += n;
        }
      }
      assert.equal(got.length, 2);
      assert.ok(Buffer.isBuffer(got[0]) && (got[0] as Buffer).equals(value), `cut ${cut}: the value byte for byte`);
      assert.equal(got[1], 7);
      assert.equal(pool.lentCount, 1);
      pool.release(got[0] as Buffer);
      assert.equal(pool.lentCount, 0);
      assert.throws(() => parser.feedDirect(1), RespProtocolError, 'no direct write outside a bulk string');
    }
  });

  it('rejects bytes that are not RESP2 with RespProtocolError', () => {
    for (const bad of ['?what\r\n', '$abc\r\n', '$-2\r\n', '*-5\r\n', '$3\r\nabcXY', ':12a\r\n', '+no carriage return\n']) {
      assert.throws(() => parseAll([Buffer.from(bad)]), RespProtocolError, bad);
    }
    assert.throws(() => parseAll([Buffer.alloc(70_000, 0x41)]), /too long/);
  });

  it('encodes commands as arrays of bulk strings', () => {
    assert.equal(encodeCommand(['GET', 'k']).toString(), '*2\r\n$3\r\nGET\r\n$1\r\nk\r\n');
    assert.equal(encodeCommand(['SET', 'ä', Buffer.from([0, 13, 10])]).toString('latin1'), '*3\r\n$3\r\nSET\r\n$2\r\nÃ¤\r\n$3\r\n\x00\r\n\r\n');
  });
});

describe('store: BulkConnection on a real server', function () {
  let server: RedisServer;
  before(async () => {
    server = await RedisServer.start({ args: ['--requirepass', 'hunter2-bulk'] });
  });
  after(async () => {
    await server?.stop();
  });

  const connection = (o: Partial<ConstructorParameters<typeof BulkConnection>[0]> = {}): BulkConnection =>
    new BulkConnection({ host: '127.0.0.1', port: server.port, password: 'hunter2-bulk', connectTimeout: 1000, ...o });

  it('replies come back in order, values byte-exact, errors in their place; AUTH and SELECT ride ahead of the first commands', async () => {
    await server.cli('-a', 'hunter2-bulk', '--no-auth-warning', '-n', '3', 'SET', 'bulk:a', 'alpha');
    const c = connection({ db: 3, connectionName: 'kvlab-test:bulk' });
    try {
      await server.cli('-a', 'hunter2-bulk', '--no-auth-warning', '-n', '3', 'LPUSH', 'bulk:list', 'x');
      const replies = await c.send([['GET', 'bulk:a'], ['GET', 'bulk:missing'], ['GET', 'bulk:list'], ['MGET', 'bulk:a', 'bulk:missing'], ['PING']]);
      assert.deepEqual(replies[0], Buffer.from('alpha'));
      assert.equal(replies[1], null);
      assert.ok(replies[2] instanceof RespReplyError && /WRONGTYPE/.test(replies[2].message));
      assert.deepEqual(replies[3], [Buffer.from('alpha'), null]);
      assert.equal(replies[4], 'PONG');
      const clients = await server.cli('-a', 'hunter2-bulk', '--no-auth-warning', 'CLIENT', 'LIST');
      assert.match(clients, /name=kvlab-test:bulk .*db=3/);
    } finally {
      c.close();
    }
  });

  it('a wrong password fails the commands behind it with StoreUnavailableError, never with data', async () => {
    const c = connection({ password: 'wrong' });
    try {
      await assert.rejects(c.send([['GET', 'bulk:a']]), (err: Error & { code?: string }) => err.code === 'STORE_UNAVAILABLE' && /handshake failed/.test(err.message));
    } finally {
      c.close();
    }
  });

  it('fails in-flight calls when the server dies, connects again when it is back; refuses calls after close()', async () => {
    const c = connection();
    try {
      assert.deepEqual(await c.send([['PING']]), ['PONG']);
      await server.kill();
      await assert.rejects(c.send([['PING']]), { code: 'STORE_UNAVAILABLE' });
      await server.restart();
      assert.deepEqual(await c.send([['PING']]), ['PONG']);
    } finally {
      c.close();
    }
    await assert.rejects(c.send([['PING']]), /closed/);
  });

  it('a server that answers garbage: the connection is dropped with a protocol error', async () => {
    const fake = net.createServer((s) => s.on('data', () => s.write('?garbage\r\n')));
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
    const port = (fake.address() as net.AddressInfo).port;
    const c = new BulkConnection({ host: '127.0.0.1', port, connectTimeout: 1000 });
    try {
      await assert.rejects(c.send([['PING']]), RespProtocolError);
    } finally {
      c.close();
      fake.close();
    }
  });
});

describe('store: RedisStore reads over the bulk connection', function () {
  let server: RedisServer;
  before(async () => {
    server = await RedisServer.start({ args: ['--enable-debug-command', 'yes'] });
  });
  after(async () => {
    await server?.stop();
  });

  it('by default: values come over the bulk connection (GETs there); bulkReads: false: MGET through ioredis', async () => {
    for (const bulkReads of [true, false]) {
      const store = new RedisStore({ url: server.url, namespace: uniqueNamespace(), bulkReads, name: `bulk-${bulkReads}` });
      try {
        assert.equal(await store.ready(), true);
        assert.equal(store.bulkReads, bulkReads);
        const h = blockHash();
        await store.put([{ hash: h, value: Buffer.from('value') }]);
        await server.cli('CONFIG', 'RESETSTAT');
        assert.deepEqual(await store.get([h, blockHash()]), [Buffer.from('value'), undefined]);
        const calls = commandCalls(await server.cli('INFO', 'commandstats'));
        assert.deepEqual([calls.get, calls.mget], bulkReads ? [2, undefined] : [undefined, 1]);
        const clients = await server.cli('CLIENT', 'LIST');
        assert.equal(/name=kvlab-bulk-true:bulk [^\n]*cmd=get/.test(clients), bulkReads, clients);
        assert.equal(/name=kvlab-bulk-false [^\n]*cmd=mget/.test(clients), !bulkReads, clients);
      } finally {
        await store.close();
      }
    }
  });

  it('a read cut short by the deadline: misses, and onValue is never called after get resolved', async () => {
    const store = new RedisStore({ url: server.url, namespace: uniqueNamespace(), commandTimeout: 150, minTransferBytesPerSec: 1e12 });
    try {
      assert.equal(await store.ready(), true);
      const h = blockHash();
      await store.put([{ hash: h, value: Buffer.from('late') }]);
      const sleeping = server.cli('DEBUG', 'SLEEP', '0.6');
      await new Promise((r) => setTimeout(r, 50));
      let resolved = false;
      const calls: number[] = [];
      const got = await store.get([h], { onValue: (i) => calls.push(resolved ? -1 : i) });
      resolved = true;
      assert.deepEqual(got, [undefined]);
      await sleeping;
      await new Promise((r) => setTimeout(r, 100)); // the late reply arrives now
      assert.deepEqual(calls, [], 'no call, before or after');
      assert.deepEqual(await store.get([h]), [Buffer.from('late')], 'the connection still answers in order afterwards');
    } finally {
      await store.close();
    }
  });

  it('streams: onValue sees the first block while later ones are still on the wire', async () => {
    const store = new RedisStore({ url: server.url, namespace: uniqueNamespace(), mgetBatchSize: 1 });
    try {
      assert.equal(await store.ready(), true);
      const hs = [0, 1, 2, 3, 4, 5, 6, 7].map(() => blockHash());
      await store.put(hs.map((hash, i) => ({ hash, value: Buffer.alloc(1024 * 1024, i) })));
      // Socket reads land in a 1 MiB buffer, so the 8 MiB of replies take several reads: the value of
      // block 0 is handed out after the read that completes it, before the last byte of block 7.
      const order: number[] = [];
      let seenWhenFirst = -1;
      const got = await store.get(hs, {
        onValue: (i) => {
          if (i === 0) seenWhenFirst = order.length;
          order.push(i);
        },
      });
      assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6, 7]);
      assert.equal(seenWhenFirst, 0);
      assert.ok(got.every((v, i) => v?.[0] === i && v.length === 1024 * 1024));
      // Block 0 was handed out before block 7's reply had arrived: the handler ran between reads.
      let pendingAtFirst = -1;
      await store.get(hs, {
        onValue: (i) => {
          if (i === 0) pendingAtFirst = (store as unknown as { bulk: { waiting: unknown[] } }).bulk.waiting.length;
        },
      });
      assert.ok(pendingAtFirst > 0, `replies still awaited when block 0 was handed out: ${pendingAtFirst}`);
    } finally {
      await store.close();
    }
  });
});
