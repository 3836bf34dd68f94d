import { strict as assert } from 'node:assert';
import { createStore, mergeExpositions, parseByteSize, parseStoreUrl, redactStoreUrl } from '../../lib/src/store';

describe('store: URLs', function () {
  describe('parseStoreUrl', function () {
    it('redis://host defaults to port 6379, db unset, no credentials', () => {
      const p = parseStoreUrl('redis://cache.example.com');
      assert.equal(p.kind, 'redis');
      assert.equal(p.tls, false);
      assert.deepEqual(p.nodes, [{ host: 'cache.example.com', port: 6379 }]);
      assert.equal(p.db, undefined);
      assert.equal(p.username, undefined);
      assert.equal(p.password, undefined);
    });

    it('user:password@, port, db and query parameters', () => {
      const p = parseStoreUrl('redis://alice:s3cr%40t%2Fx@10.0.0.5:6380/2?namespace=llama3-fp16&ttl=3600&maxValueBytes=4mib&timeout=250&prefix=kv&l1=256mb');
      assert.equal(p.username, 'alice');
      assert.equal(p.password, 's3cr@t/x');
      assert.deepEqual(p.nodes, [{ host: '10.0.0.5', port: 6380 }]);
      assert.equal(p.db, 2);
      assert.equal(p.namespace, 'llama3-fp16');
      assert.equal(p.ttlSeconds, 3600);
      assert.equal(p.maxValueBytes, 4 * 1024 * 1024);
      assert.equal(p.commandTimeout, 250);
      assert.equal(p.prefix, 'kv');
      assert.equal(p.l1Bytes, 256 * 1024 * 1024);
      assert.equal(p.redacted, 'redis://***@10.0.0.5:6380/2?namespace=llama3-fp16&ttl=3600&maxValueBytes=4mib&timeout=250&prefix=kv&l1=256mb');
    });

    it('password only (redis://:pw@host) and user only', () => {
      assert.deepEqual([parseStoreUrl('redis://:pw@h').username, parseStoreUrl('redis://:pw@h').password], [undefined, 'pw']);
      assert.deepEqual([parseStoreUrl('redis://bob@h').username, parseStoreUrl('redis://bob@h').password], ['bob', undefined]);
    });

    it('rediss:// means TLS; IPv6 hosts in brackets', () => {
      const p = parseStoreUrl('rediss://[::1]:7000');
      assert.equal(p.tls, true);
      assert.deepEqual(p.nodes, [{ host: '::1', port: 7000 }]);
    });

    it('clusters: redis+cluster://, several hosts, or a list of node URLs', () => {
      const a = parseStoreUrl('redis+cluster://u:p@h1:7000,h2:7001,h3?namespace=x');
      assert.equal(a.kind, 'cluster');
      assert.deepEqual(a.nodes, [{ host: 'h1', port: 7000 }, { host: 'h2', port: 7001 }, { host: 'h3', port: 6379 }]);
      assert.equal(a.password, 'p');
      assert.equal(a.namespace, 'x');
      const b = parseStoreUrl('redis://127.0.0.1:7000,redis://127.0.0.1:7001, redis://127.0.0.1:7002');
      assert.equal(b.kind, 'cluster');
      assert.deepEqual(b.nodes.map((n) => n.port), [7000, 7001, 7002]);
      const c = parseStoreUrl('redis://h1:1,h2:2');
      assert.equal(c.kind, 'cluster');
      assert.equal(parseStoreUrl('rediss+cluster://h:1').tls, true);
      assert.equal(parseStoreUrl('redis+cluster://h:1').kind, 'cluster', 'one startup node is enough');
      // A comma inside a password (encoded or not) does not split the list.
      assert.equal(parseStoreUrl('redis://u:a,b@h:1').password, 'a,b');
    });

    it('memory://', () => {
      const p = parseStoreUrl('memory://?maxBytes=64mib');
      assert.equal(p.kind, 'memory');
      assert.equal(p.maxBytes, 64 * 1024 * 1024);
      assert.equal(parseStoreUrl('memory://').kind, 'memory');
    });

    const SECRET = 'Hunter2-topsecret';
    const malformed: [string, RegExp][] = [
      ['', /empty/],
      ['   ', /empty/],
      [`http://u:${SECRET}@h:6379`, /unknown scheme/],
      [`u:${SECRET}@h:6379`, /expected redis/],
      [`redis://u:${SECRET}@h:notaport`, /invalid port/],
      [`redis://u:${SECRET}@h:70000`, /invalid port/],
      [`redis://u:${SECRET}@`, /empty host/],
      [`redis://u:${SECRET}@h:1/abc`, /database number/],
      [`redis://u:${SECRET}@h:1?bogus=1`, /unknown parameter "bogus"/],
      [`redis://u:${SECRET}@h:1?ttl=soon`, /url\.query\.ttl: expected a non-negative integer, received "soon"/],
      [`redis://u:${SECRET}@h:1?namespace=a:b`, /url\.query\.namespace: expected 1–64 characters/],
      [`redis://u:${SECRET}@h:1?maxValueBytes=lots`, /maxValueBytes: expected a byte size/],
      [`redis://u:${SECRET.slice(0, 6)}/${SECRET.slice(6)}@h:1`, /percent-encode/i],
      [`redis://u:${SECRET}%zz@h:1`, /percent-encoding/],
      [`redis+cluster://u:${SECRET}@h1:1,h2:2/3`, /only has database 0/],
      [`redis://u:${SECRET}@h1:1,rediss://h2:2`, /mixes TLS/],
      [`redis://u:${SECRET}@h1:1,redis://u:other@h2:2`, /different credentials/],
      [`redis://u:${SECRET}@h:1?password=${SECRET}`, /unknown parameter "password"/],
      [`memory://u:${SECRET}@`, /memory/],
      [`redis://u:${SECRET}@bad host:1`, /invalid host/],
    ];
    for (const [url, why] of malformed) {
      it(`rejects ${JSON.stringify(url.split(SECRET).join('<secret>').replace(`${SECRET.slice(0, 6)}/${SECRET.slice(6)}`, '<sec/ret>'))} with a ConfigError that hides the password`, () => {
        assert.throws(
          () => parseStoreUrl(url),
          (err: Error & { code?: string }) => {
            assert.equal(err.code, 'CONFIG_ERROR');
            assert.equal(err.name, 'ConfigError');
            assert.match(err.message, why);
            for (const part of [SECRET, SECRET.slice(0, 6), SECRET.slice(6)]) {
              assert.equal(err.message.includes(part), false, `message leaks the password: ${err.message}`);
              assert.equal(JSON.stringify(err).includes(part), false, 'no leak through own properties');
            }
            assert.equal(err.cause, undefined, 'no cause that could carry the URL');
            const { details } = err as Error & { details?: Record<string, unknown> };
            assert.match(String(details?.path), /^url\b/, 'details name the part of the URL');
            assert.equal(JSON.stringify(details).includes(SECRET.slice(0, 6)), false, 'no leak through details');
            return true;
          },
        );
      });
    }

    it('a non-string is an InvalidInputError', () => {
      assert.throws(() => parseStoreUrl(42 as unknown as string), { code: 'INVALID_INPUT', details: { path: 'url', expected: 'a store URL string', received: '42' } });
    });

    it('errors name the part of the URL in their details', () => {
      assert.throws(() => parseStoreUrl(`redis://u:${SECRET}@h:70000`), {
        details: { path: 'url.port', expected: 'a port in 1–65535', received: 'invalid port "70000"' },
      });
      assert.throws(() => parseStoreUrl('redis://h:1?ttl=soon'), { details: { path: 'url.query.ttl', expected: 'a non-negative integer', received: '"soon"' } });
      assert.throws(() => parseStoreUrl('redis://h:1?maxValueBytes=lots'), {
        details: { path: 'url.query.maxValueBytes', expected: 'a byte size like 8388608, 512kb or 8mib', received: '"lots"' },
      });
      assert.throws(() => parseStoreUrl('redis+cluster://h1:1,h2:2/3'), { details: { path: 'url.db', expected: 'database 0 (Redis Cluster only has database 0)', received: '3' } });
    });

    it('createStore rejects malformed URLs before connecting', async () => {
      await assert.rejects(createStore('redis://u:pw-123@h:x'), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'CONFIG_ERROR');
        assert.equal(err.message.includes('pw-123'), false, 'no password');
        return true;
      });
    });
  });

  it('redactStoreUrl hides credentials', () => {
    assert.equal(redactStoreUrl('redis://user:pw@h:1/0'), 'redis://***@h:1/0');
    assert.equal(redactStoreUrl('redis://h:1'), 'redis://h:1');
    assert.equal(redactStoreUrl('redis://u:p@h1:1,redis://u:p@h2:2'), 'redis://***@h2:2');
    assert.equal(redactStoreUrl('redis://h:1?password=x&a=1'), 'redis://h:1?password=***&a=1');
  });

  it('parseByteSize', () => {
    assert.equal(parseByteSize('8mib', 'x'), 8 * 1024 * 1024);
    assert.equal(parseByteSize('512KB', 'x'), 512 * 1024);
    assert.equal(parseByteSize('2g', 'x'), 2 * 1024 ** 3);
    assert.equal(parseByteSize('100', 'x'), 100);
    assert.equal(parseByteSize(7, 'x'), 7);
    assert.throws(() => parseByteSize('1.5.2mb', 'x'), { code: 'INVALID_INPUT' });
  });

  it('mergeExpositions groups samples of one family under one header', () => {
    const a = '# HELP m_total help\n# TYPE m_total counter\nm_total{a="1"} 1\n';
    const b = '# HELP m_total help\n# TYPE m_total counter\nm_total{a="2"} 2\n\n# HELP n gauge\n# TYPE n gauge\nn 3\n';
    assert.equal(mergeExpositions([a, b]), '# HELP m_total help\n# TYPE m_total counter\nm_total{a="1"} 1\nm_total{a="2"} 2\n\n# HELP n gauge\n# TYPE n gauge\nn 3\n');
  });
});
