import { strict as assert } from 'node:assert';
import { CircuitBreaker, RedisStore, TieredStore, MemoryStore } from '../../lib/src/store';
import { RedisServer } from '../harness/redis';
import { blockHash, eventually, metricValue, uniqueNamespace } from './helpers';

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t0 };
}

describe('store: fault tolerance', function () {
  describe('CircuitBreaker', function () {
    function make(): { breaker: CircuitBreaker; clock: { t: number }; changes: string[] } {
      const clock = { t: 0 };
      const breaker = new CircuitBreaker({ failureThreshold: 3, cooldownMs: 100, maxCooldownMs: 350, now: () => clock.t });
      const changes: string[] = [];
      breaker.onChange = (s, prev) => changes.push(`${prev}->${s}`);
      return { breaker, clock, changes };
    }

    it('closed → open after N consecutive failures; successes reset the count', () => {
      const { breaker } = make();
      breaker.failure();
      breaker.failure();
      breaker.success();
      breaker.failure();
      breaker.failure();
      assert.equal(breaker.state, 'closed');
      assert.equal(breaker.allow(), true);
      breaker.failure();
      assert.equal(breaker.state, 'open');
      assert.equal(breaker.allow(), false);
    });

    it('open → half-open after the cool-down: one probe only; success closes', () => {
      const { breaker, clock, changes } = make();
      for (let i = 0; i < 3; i++) breaker.failure();
      clock.t = 99;
      assert.equal(breaker.allow(), false);
      clock.t = 100;
      assert.equal(breaker.allow(), true, 'the probe');
      assert.equal(breaker.state, 'half-open');
      assert.equal(breaker.allow(), false, 'only one probe at a time');
      breaker.success();
      assert.equal(breaker.state, 'closed');
      assert.equal(breaker.allow(), true);
      assert.deepEqual(changes, ['closed->open', 'open->half-open', 'half-open->closed']);
    });

    it('a failed probe re-opens with a doubled cool-down (capped)', () => {
      const { breaker, clock } = make();
      for (let i = 0; i < 3; i++) breaker.failure();
      const probeFails = (): void => {
        assert.equal(breaker.allow(), true);
        breaker.failure();
        assert.equal(breaker.state, 'open');
      };
      clock.t = 100;
      probeFails(); // cool-down now 200
      clock.t = 299;
      assert.equal(breaker.allow(), false);
      clock.t = 300;
      probeFails(); // 350 (capped)
      clock.t = 649;
      assert.equal(breaker.allow(), false);
      clock.t = 650;
      assert.equal(breaker.allow(), true);
      breaker.success();
      for (let i = 0; i < 3; i++) breaker.failure();
      clock.t = 750; // cool-down is back to 100 after a success
      assert.equal(breaker.allow(), true);
    });

    it('expedite() lets the next call probe at once (the client reconnected)', () => {
      const { breaker } = make();
      for (let i = 0; i < 3; i++) breaker.failure();
      assert.equal(breaker.allow(), false);
      breaker.expedite();
      assert.equal(breaker.allow(), true);
    });

    it('a passing health check closes the circuit at once; a failing one changes nothing', () => {
      const { breaker, changes } = make();
      for (let i = 0; i < 3; i++) breaker.failure();
      breaker.healthCheck(false);
      assert.equal(breaker.state, 'open');
      assert.equal(breaker.allow(), false, 'still cooling down');
      breaker.healthCheck(true);
      assert.equal(breaker.state, 'closed');
      assert.equal(breaker.allow(), true);
      breaker.failure();
      breaker.failure();
      assert.equal(breaker.state, 'closed', 'the failure count restarted from zero');
      assert.deepEqual(changes, ['closed->open', 'open->closed']);
    });

    it('rejects bad settings', () => {
      assert.throws(() => new CircuitBreaker({ failureThreshold: 0 }), { code: 'INVALID_INPUT' });
    });
  });

  describe('RedisStore when the server dies and comes back', function () {
    let server: RedisServer;
    before(async () => {
      server = await RedisServer.start({ args: ['--enable-debug-command', 'yes'] });
    });
    after(async () => {
      await server.stop();
    });

    const timeout = 300;
    const options = () => ({
      namespace: uniqueNamespace(),
      commandTimeout: timeout,
      connectTimeout: 500,
      maxReconnectDelayMs: 100,
      circuitBreaker: { failureThreshold: 3, cooldownMs: 200 },
    });

    it('kill: calls return misses within the timeout, the breaker opens; restart: hits resume by themselves', async () => {
      const store = new RedisStore({ url: server.url, ...options() });
      try {
        assert.equal(await store.ready(), true);
        const h = blockHash();
        const v = Buffer.from('block');
        await store.put([{ hash: h, value: v }]);
        assert.deepEqual(await store.has([h]), [true]);

        await server.kill();
        const states = new Set<string>();
        for (let i = 0; i < 10; i++) {
          const has = await timed(() => store.has([h]));
          const get = await timed(() => store.get([h]));
          const put = await timed(() => store.put([{ hash: blockHash(), value: v }]));
          const del = await timed(() => store.delete([h]));
          assert.deepEqual(has.value, [false]);
          assert.deepEqual(get.value, [undefined]);
          assert.deepEqual(put.value.statuses, ['failed']);
          assert.equal(del.value, 0);
          for (const t of [has, get, put, del]) assert.ok(t.ms < timeout + 100, `call took ${t.ms.toFixed(0)} ms`);
          states.add(store.circuit);
        }
        assert.ok(states.has('open'), `breaker states seen: ${[...states].join(', ')}`);
        const s = store.stats();
        assert.ok(s.fallbacks >= 40, `fallbacks: ${s.fallbacks}`);
        const text = await store.metricsText();
        assert.ok((metricValue(text, 'kvlab_store_fallbacks_total', { op: 'has', reason: 'circuit_open' }) ?? 0) > 0, 'circuit_open fallbacks counted');
        assert.ok((metricValue(text, 'kvlab_store_fallbacks_total', { op: 'has', reason: 'error' }) ?? 0) > 0, 'error fallbacks counted');
        const health = await store.health();
        assert.equal(health.ok, false);
        assert.equal(health.reachable, false);
        assert.ok(health.warnings.some((w) => /unreachable/.test(w)), health.warnings.join('\n'));

        await server.restart(); // same port, empty (no persistence)
        const t0 = performance.now();
        const recovered = await eventually(async () => {
          const r = await store.put([{ hash: h, value: v }]);
          return r.statuses[0] !== 'failed' && (await store.get([h]))[0]?.equals(v) === true;
        }, 5000);
        assert.ok(recovered, 'hits resume after the restart');
        assert.equal(store.circuit, 'closed');
        assert.ok(performance.now() - t0 < 5000, 'recovered quickly');
        assert.equal((await store.health()).ok, true);
      } finally {
        await store.close();
      }
    });

    it('an idle store whose circuit opened is healthy again after the restart without any request', async () => {
      const store = new RedisStore({ url: server.url, ...options(), circuitBreaker: { failureThreshold: 1, cooldownMs: 60_000 } });
      try {
        assert.equal(await store.ready(), true);
        await server.kill();
        await store.has([blockHash()]);
        assert.equal(store.circuit, 'open');
        assert.equal((await store.health()).ok, false);
        assert.equal(store.circuit, 'open', 'a failing health check leaves the circuit open');
        await server.restart();
        // No operation runs (the cool-down is a minute): only the health check can close the circuit.
        assert.ok(await eventually(async () => (await store.health()).ok, 5000), 'health is ok once the server is back');
        assert.equal(store.circuit, 'closed');
        assert.ok(await eventually(async () => (await store.has([blockHash()]))[0] === false && store.stats().fallbacks === 1, 1000));
      } finally {
        await store.close();
      }
    });

    it('a slow server (DEBUG SLEEP): calls time out as misses, then work again', async () => {
      const store = new RedisStore({ url: server.url, ...options() });
      try {
        assert.equal(await store.ready(), true);
        const h = blockHash();
        await store.put([{ hash: h, value: Buffer.from('x') }]);
        const sleeping = server.cli('DEBUG', 'SLEEP', '1.2');
        await new Promise((r) => setTimeout(r, 50));
        const has = await timed(() => store.has([h]));
        assert.deepEqual(has.value, [false]);
        assert.ok(has.ms >= timeout - 20 && has.ms < timeout + 150, `has took ${has.ms.toFixed(0)} ms`);
        const text = await store.metricsText();
        assert.equal(metricValue(text, 'kvlab_store_fallbacks_total', { op: 'has', reason: 'timeout' }), 1);
        assert.equal(metricValue(text, 'kvlab_store_errors_total', { op: 'has', kind: 'timeout' }), 1);
        await sleeping;
        assert.ok(await eventually(async () => (await store.has([h]))[0] === true, 3000), 'works again after the pause');
      } finally {
        await store.close();
      }
    });

    it('a store created while the server is down starts in fallback mode and connects later', async () => {
      await server.kill();
      const store = new RedisStore({ url: server.url, ...options() });
      try {
        assert.equal(await store.ready(300), false);
        const h = blockHash();
        assert.deepEqual(await store.has([h]), [false]);
        await server.restart();
        assert.ok(await eventually(async () => (await store.put([{ hash: h, value: Buffer.from('x') }])).stored === 1, 5000), 'connected later');
        assert.deepEqual(await store.has([h]), [true]);
      } finally {
        await store.close();
      }
    });

    it('TieredStore keeps serving L1 hits while L2 is down', async () => {
      const l2 = new RedisStore({ url: server.url, ...options() });
      const tiered = new TieredStore({ l1: new MemoryStore(), l2 });
      try {
        assert.equal(await l2.ready(), true);
        const [a, b] = [blockHash(), blockHash()];
        await tiered.put([{ hash: a, value: Buffer.from('a') }]);
        await l2.put([{ hash: b, value: Buffer.from('b') }]); // only in L2
        await server.kill();
        const got = await tiered.get([a, b]);
        assert.equal(got[0]?.toString(), 'a');
        assert.equal(got[1], undefined);
        const s = tiered.stats();
        assert.ok(s.fallbacks >= 1, `fallbacks ${s.fallbacks}`);
        assert.equal(s.hitsByTier.memory, 1);
        // Writes still land in L1.
        const c = blockHash();
        assert.deepEqual((await tiered.put([{ hash: c, value: Buffer.from('c') }])).statuses, ['stored']);
        assert.deepEqual(await tiered.has([c]), [true]);
        assert.equal((await tiered.health()).ok, false);
      } finally {
        await server.restart();
        await tiered.close();
      }
    });
  });
});
