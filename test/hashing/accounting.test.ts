import { strict as assert } from 'node:assert';
import { HitCounter } from '../../lib/src/hashing';
import { InvalidInputError } from '../../lib/src/runtime/errors';

describe('hashing/accounting', () => {
  it('counts in tokens: hits, misses, the uncacheable tail, ratios', () => {
    const c = new HitCounter();
    c.record({ promptTokens: 100, blockSize: 16, hitTokens: 64 }); // 96 cacheable, 4 uncacheable
    c.record({ promptTokens: 40, blockSize: 16, hitTokens: 0 }); // 32 cacheable, 8 uncacheable
    const s = c.snapshot();
    assert.equal(s.lookups, 2);
    assert.equal(s.lookupsWithHit, 1);
    assert.equal(s.promptTokens, 140);
    assert.equal(s.hitTokens, 64);
    assert.equal(s.missTokens, 76);
    assert.equal(s.uncacheableTokens, 12);
    assert.equal(s.hitRatio, 64 / 140);
    assert.equal(s.cacheableHitRatio, 64 / 128);
    assert.equal(s.requestHitRatio, 0.5);
    assert.deepEqual(s.tiers, {});
  });

  it('a short prompt can never hit: all of it is uncacheable', () => {
    const c = new HitCounter();
    c.record({ promptTokens: 10, blockSize: 16, hitTokens: 0 });
    assert.deepEqual(
      (({ hitTokens, missTokens, uncacheableTokens, hitRatio, cacheableHitRatio }) => ({ hitTokens, missTokens, uncacheableTokens, hitRatio, cacheableHitRatio }))(c.snapshot()),
      { hitTokens: 0, missTokens: 10, uncacheableTokens: 10, hitRatio: 0, cacheableHitRatio: 0 },
    );
    assert.throws(() => c.record({ promptTokens: 10, blockSize: 16, hitTokens: 10 }), {
      code: 'INVALID_INPUT',
      message: /outcome\.hitTokens: expected at most the 0 tokens in full blocks/,
      details: {
        path: 'outcome.hitTokens',
        expected: 'at most the 0 tokens in full blocks of a 10-token prompt (block size 16)',
        received: '10 hit tokens',
        limit: 0,
        actual: 10,
      },
    });
  });

  it('splits hits per tier; tier ratios add up to the overall ratio', () => {
    const c = new HitCounter();
    c.record({ promptTokens: 128, blockSize: 16, hitTokens: { memory: 32, redis: 64 } });
    c.record({ promptTokens: 64, blockSize: 16, hitTokens: 48, tier: 'redis' });
    c.record({ promptTokens: 64, blockSize: 16, hitTokens: 0, tier: 'memory' });
    const s = c.snapshot();
    assert.equal(s.hitTokens, 144);
    assert.deepEqual(Object.keys(s.tiers), ['memory', 'redis']);
    assert.deepEqual(s.tiers.memory, { hitTokens: 32, lookupsWithHit: 1, hitRatio: 32 / 256 });
    assert.deepEqual(s.tiers.redis, { hitTokens: 112, lookupsWithHit: 2, hitRatio: 112 / 256 });
    assert.ok(Math.abs(s.tiers.memory!.hitRatio + s.tiers.redis!.hitRatio - s.hitRatio) < 1e-12);
  });

  it('never reports a hit ratio above 1, and refuses bad records without counting them', () => {
    const c = new HitCounter();
    const bad: unknown[] = [
      { promptTokens: 32, blockSize: 16, hitTokens: 48 }, // more hits than tokens
      { promptTokens: 33, blockSize: 16, hitTokens: 33 }, // the tail counted as hit
      { promptTokens: -1, blockSize: 16, hitTokens: 0 },
      { promptTokens: 32, blockSize: 0, hitTokens: 0 },
      { promptTokens: 32, blockSize: 16, hitTokens: 1.5 },
      { promptTokens: 32, blockSize: 16, hitTokens: { memory: 16, redis: 32 } },
      { promptTokens: 32, blockSize: 16, hitTokens: { 'bad tier': 16 } },
      { promptTokens: 32, blockSize: 16, hitTokens: { memory: 16 }, tier: 'redis' },
      { promptTokens: 32, blockSize: 16, hitTokens: '16' },
      null,
    ];
    for (const b of bad) assert.throws(() => c.record(b as never), InvalidInputError);
    assert.equal(c.snapshot().lookups, 0);
    c.record({ promptTokens: 32, blockSize: 16, hitTokens: 32 });
    assert.equal(c.snapshot().hitRatio, 1);
  });

  it('whole-prompt baseline: block size 1 has no uncacheable tail', () => {
    const c = new HitCounter();
    c.record({ promptTokens: 37, blockSize: 1, hitTokens: 37, tier: 'exact' });
    c.record({ promptTokens: 37, blockSize: 1, hitTokens: 0, tier: 'exact' });
    const s = c.snapshot();
    assert.equal(s.uncacheableTokens, 0);
    assert.equal(s.hitRatio, 0.5);
  });

  it('merges and resets', () => {
    const a = new HitCounter();
    const b = new HitCounter();
    a.record({ promptTokens: 64, blockSize: 16, hitTokens: 32, tier: 'memory' });
    b.record({ promptTokens: 70, blockSize: 16, hitTokens: { memory: 16, redis: 48 } });
    a.merge(b);
    const s = a.snapshot();
    assert.equal(s.lookups, 2);
    assert.equal(s.promptTokens, 134);
    assert.equal(s.hitTokens, 96);
    assert.equal(s.uncacheableTokens, 6);
    assert.equal(s.tiers.memory!.hitTokens, 48);
    assert.equal(s.tiers.redis!.hitTokens, 48);
    assert.equal(b.snapshot().lookups, 1, 'merge leaves the other counter alone');
    a.reset();
    assert.deepEqual(a.snapshot(), new HitCounter().snapshot());
    assert.equal(new HitCounter().snapshot().hitRatio, 0);
  });
});
