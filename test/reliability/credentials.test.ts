/**
 * The store against a Redis that wants credentials: `--requirepass`, an ACL user, and TLS
 * (`rediss://` with a throwaway CA made by the openssl CLI). Secrets must never show up in logs,
 * error messages, health reports, stats or metrics.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { inspect } from 'node:util';
import { createStore, type KVStore } from '../../lib/src/store';
import { PrefixCacheConnector, ServingEngine, serdeBlockCodec } from '../../lib/src/engine';
import type { LlamaModel } from '../../lib/src/model';
import { freePort } from '../harness/ports';
import { RedisServer } from '../harness/redis';
import { FAST_FAILURE, captureOutput, makeTlsFiles, rawClient, referenceOutputs, stream, tinyModel, wrongOutputs } from './helpers';

const PASSWORD = 'kvlab-Sekr3t-8d1f27';
const WRONG = 'kvlab-Wr0ng-5be90c';
const APP_PASSWORD = 'kvlab-App-Pw-4c0e11';

describe('reliability: credentials (requirepass, ACL user, TLS)', function () {
  this.timeout(90_000);
  let model: LlamaModel;
  const requests = stream('chat', { requests: 4, seed: 8, prefix: 'cred' });
  let reference: Map<string, string>;
  const open: KVStore[] = [];
  let output: ReturnType<typeof captureOutput>;

  before(async () => {
    model = await tinyModel(0);
    reference = await referenceOutputs(model, requests);
    output = captureOutput();
  });

  after(async () => {
    await Promise.all(open.map((s) => s.close()));
    output.stop();
  });

  /** Serve the stream through `store`: right outputs and cache hits. */
  async function works(store: KVStore): Promise<void> {
    const engine = new ServingEngine(model, new PrefixCacheConnector(model, store, serdeBlockCodec({ dtype: 'fp32' })));
    const records = [];
    for (const r of requests) records.push(await engine.serve(r));
    assert.deepEqual(wrongOutputs(records, reference), []);
    assert.ok(records.some((r) => r.reusedTokens > 0), 'the cache is used');
    assert.equal(records.reduce((a, r) => a + r.fallbacks, 0), 0, 'no fallbacks');
  }

  /** Everything a store shows about itself, plus all process output so far, must not contain a secret. */
  async function leaksNothing(store: KVStore, secrets: string[], extra: string[] = []): Promise<void> {
    const texts = [
      JSON.stringify(await store.health()),
      JSON.stringify(store.stats()),
      await store.metricsText(),
      output.text(),
      ...extra,
    ];
    for (const s of secrets) for (const t of texts) assert.ok(!t.includes(s), `a secret appears in: ${t.slice(0, 300)}`);
  }

  async function track(p: Promise<KVStore>): Promise<KVStore> {
    const s = await p;
    open.push(s);
    return s;
  }

  async function failure(fn: () => Promise<unknown>): Promise<Error> {
    try {
      await fn();
    } catch (err) {
      return err as Error;
    }
    throw new Error('expected an error');
  }

  describe('requirepass', () => {
    let server: RedisServer;
    before(async () => {
      server = await RedisServer.start({ args: ['--requirepass', PASSWORD] });
    });
    after(async () => {
      await server?.stop();
    });

    it('works with the password in the URL or as an option; refuses a wrong one; the password never shows', async () => {
      const inUrl = await track(createStore(`redis://:${PASSWORD}@127.0.0.1:${server.port}`, { namespace: 'pw-url' }));
      await works(inUrl);
      const asOption = await track(createStore(server.url, { namespace: 'pw-opt', password: PASSWORD }));
      await works(asOption);
      assert.equal((await asOption.health()).ok, true);

      // Wrong password, required at start: a typed error naming the server but not the password.
      const err = await failure(() => createStore(`redis://:${WRONG}@127.0.0.1:${server.port}`, { requireReachable: true, connectTimeout: 500 }));
      assert.equal((err as { code?: string }).code, 'STORE_UNAVAILABLE');
      assert.match(err.message, new RegExp(`redis://\\*\\*\\*@127\\.0\\.0\\.1:${server.port}`));
      assert.equal((err as { details?: { path?: string } }).details?.path, 'url', 'the details name the URL (redacted) as the input at fault');
      // Wrong or missing password without requireReachable: the store serves misses (never throws).
      for (const [name, url] of [
        ['wrong', `redis://:${WRONG}@127.0.0.1:${server.port}`],
        ['missing', server.url],
      ] as const) {
        const bad = await track(createStore(url, { namespace: `pw-${name}`, ...FAST_FAILURE }));
        const engine = new ServingEngine(model, new PrefixCacheConnector(model, bad, serdeBlockCodec({ dtype: 'fp32' })));
        const r = await engine.serve(requests[1]!);
        assert.equal(r.output.join(','), reference.get(r.id));
        assert.ok(r.fallbacks > 0);
        const h = await bad.health();
        assert.equal(h.ok, false, `${name} password: health reports a problem`);
        assert.match(`${h.error ?? ''} ${h.warnings.join(' ')}`, /WRONGPASS|NOAUTH|not connected|unreachable/i, `${name}: ${JSON.stringify(h)}`);
        await leaksNothing(bad, [PASSWORD, WRONG], [err.message, err.stack ?? '', JSON.stringify(err)]);
      }
      await leaksNothing(inUrl, [PASSWORD]);
      await leaksNothing(asOption, [PASSWORD]);
      assert.equal(Number(await server.cli('-a', PASSWORD, '--no-auth-warning', 'DBSIZE')) > 0, true);
    });
  });

  describe('ACL user', () => {
    let server: RedisServer;
    before(async () => {
      server = await RedisServer.start({ args: ['--requirepass', PASSWORD] });
      // Only what the store needs, and only on its own keys.
      await server.cli(
        '-a', PASSWORD, '--no-auth-warning',
        'ACL', 'SETUSER', 'kvlab-app', 'on', `>${APP_PASSWORD}`, 'resetkeys', '~kvlab:*', 'resetchannels',
        '-@all', '+get', '+mget', '+getex', '+set', '+exists', '+del', '+ping', '+info', '+client|setname', '+quit', '+hello', '+select', '+cluster|info',
      );
    });
    after(async () => {
      await server?.stop();
    });

    it('the store works as a restricted ACL user (user:password in the URL or as options); the user cannot touch other keys', async () => {
      const store = await track(createStore(`redis://kvlab-app:${APP_PASSWORD}@127.0.0.1:${server.port}`, { namespace: 'acl' }));
      await works(store);
      const h = await store.health();
      assert.equal(h.ok, true, JSON.stringify(h));
      const viaOptions = await track(createStore(server.url, { namespace: 'acl2', username: 'kvlab-app', password: APP_PASSWORD }));
      await works(viaOptions);
      // The ACL really restricts: the same user cannot write outside kvlab:* or run FLUSHALL.
      const raw = rawClient(server.port, { username: 'kvlab-app', password: APP_PASSWORD });
      try {
        await assert.rejects(raw.set('other:key', 'x'), /NOPERM/);
        await assert.rejects(raw.flushall(), /NOPERM/);
      } finally {
        await raw.quit();
      }
      // A wrong user name gives a typed error without any secret.
      const err = await failure(() => createStore(`redis://nobody:${APP_PASSWORD}@127.0.0.1:${server.port}`, { requireReachable: true, connectTimeout: 500 }));
      assert.equal((err as { code?: string }).code, 'STORE_UNAVAILABLE');
      await leaksNothing(store, [APP_PASSWORD, PASSWORD], [err.message, err.stack ?? '', JSON.stringify(err)]);
      await leaksNothing(viaOptions, [APP_PASSWORD, PASSWORD]);
    });
  });

  describe('TLS', () => {
    let server: RedisServer;
    let dir: string;
    let ca: Buffer;
    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvlab-tls-'));
      const files = await makeTlsFiles(dir);
      ca = fs.readFileSync(files.ca);
      const port = await freePort();
      // Plain port off; TLS only, server certificate signed by the throwaway CA.
      server = await RedisServer.start({
        port,
        args: [
          '--port', '0', '--tls-port', String(port),
          '--tls-cert-file', files.cert, '--tls-key-file', files.key, '--tls-ca-cert-file', files.ca, '--tls-auth-clients', 'no',
          '--requirepass', PASSWORD,
        ],
      });
    });
    after(async () => {
      await server?.stop();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it('rediss:// with the CA given as the tls option works; without the CA, or in plain text, it does not connect; no secret shows', async () => {
      const url = `rediss://:${PASSWORD}@127.0.0.1:${server.port}`;
      const store = await track(createStore(url, { namespace: 'tls', tls: { ca } }));
      await works(store);
      assert.equal((await store.health()).ok, true);
      const dbsize = await server.cli('--tls', '--cacert', path.join(dir, 'ca.crt'), '-a', PASSWORD, '--no-auth-warning', 'DBSIZE');
      assert.ok(Number(dbsize) > 0, 'blocks were written over TLS');

      // The server's certificate is not trusted without the CA: the store refuses to talk to it.
      const untrusted = await failure(() => createStore(url, { requireReachable: true, connectTimeout: 1000 }));
      assert.equal((untrusted as { code?: string }).code, 'STORE_UNAVAILABLE');
      assert.match(untrusted.message, /rediss:\/\/\*\*\*@127\.0\.0\.1/);
      const fallback = await track(createStore(url, { namespace: 'tls-untrusted', ...FAST_FAILURE }));
      const h = await fallback.health();
      assert.equal(h.ok, false);
      assert.match(`${h.error ?? ''} ${h.warnings.join(' ')}`, /certificate|not connected|unreachable/i, JSON.stringify(h));
      // Plain text to the TLS port does not work either.
      const plain = await failure(() => createStore(`redis://:${PASSWORD}@127.0.0.1:${server.port}`, { requireReachable: true, connectTimeout: 1000 }));
      assert.equal((plain as { code?: string }).code, 'STORE_UNAVAILABLE');

      await leaksNothing(store, [PASSWORD], [untrusted.message, untrusted.stack ?? '', plain.message, JSON.stringify(untrusted), JSON.stringify(plain)]);
      await leaksNothing(fallback, [PASSWORD]);
    });

    it('printing a store (console.log, or a notebook cell ending in `store`) does not show the password', async () => {
      const store = await track(createStore(`rediss://:${PASSWORD}@127.0.0.1:${server.port}`, { namespace: 'tls-print', tls: { ca } }));
      const printed = inspect(store, { depth: 4 });
      const at = printed.indexOf(PASSWORD);
      assert.equal(at, -1, `util.inspect(store) shows the password: …${printed.slice(Math.max(0, at - 200), at + 40).replace(PASSWORD, '<PASSWORD>')}…`);
    });
  });
});
