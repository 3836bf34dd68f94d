import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import {
  DEFAULT_MINHASH_OPTIONS,
  MinHashIndex,
  estimateJaccard,
  exactJaccard,
  jaccardOfSets,
  lshCandidateProbability,
  minhashSignature,
  shingleSet,
} from '../../lib/src/hashing';
import { InvalidInputError } from '../../lib/src/runtime/errors';
import { loadFixture, tokensFrom } from './helpers';

/** `base` with a share `p` of its tokens replaced — similar, not identical. */
function mutate(base: number[], p: number, seed: number): number[] {
  const noise = tokensFrom(seed, base.length, 1_000_000);
  return base.map((t, i) => (noise[i]! % 1000 < p * 1000 ? 100_000 + noise[i]! : t));
}

describe('hashing/minhash', () => {
  it('matches the independent Python shingles and signatures (deterministic across runs and processes)', () => {
    const fx = loadFixture();
    for (const m of fx.minhash) {
      const k = m.options?.shingleSize ?? DEFAULT_MINHASH_OPTIONS.shingleSize;
      assert.deepEqual(Array.from(shingleSet(m.tokens, k)), m.shingles, `${m.name} shingles`);
      assert.deepEqual(Array.from(minhashSignature(m.tokens, m.options ?? {})), m.signature, `${m.name} signature`);
    }
  });

  it('identical → 1, disjoint → ~0', () => {
    const a = tokensFrom(1, 500);
    const sa = minhashSignature(a);
    assert.equal(sa.length, 128);
    assert.equal(estimateJaccard(sa, minhashSignature(a.slice())), 1);
    assert.equal(exactJaccard(a, a.slice()), 1);
    const b = a.map((t) => t + 60_000); // no token in common
    assert.equal(exactJaccard(a, b), 0);
    assert.ok(estimateJaccard(sa, minhashSignature(b)) <= 0.02);
  });

  it('estimated Jaccard stays within tolerance of exact on random sequences', () => {
    const errors: number[] = [];
    fc.assert(
      fc.property(fc.integer({ min: 50, max: 600 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.nat(1e6), (n, p, seed) => {
        const a = tokensFrom(seed, n, 30_000);
        const b = mutate(a, p, seed + 1);
        const exact = exactJaccard(a, b);
        const est = estimateJaccard(minhashSignature(a), minhashSignature(b));
        errors.push(Math.abs(est - exact));
        // 128 hashes: std error ≤ 0.044; 0.18 is > 4 standard errors
        assert.ok(Math.abs(est - exact) <= 0.18, `estimate ${est} vs exact ${exact}`);
      }),
      { seed: 5, numRuns: 120 },
    );
    const mean = errors.reduce((s, e) => s + e, 0) / errors.length;
    assert.ok(mean < 0.04, `mean absolute error ${mean}`);
  });

  it('short and odd inputs: shorter than a shingle, duplicates, typed arrays; empty is refused', () => {
    assert.equal(shingleSet([7, 8], 4).length, 1);
    assert.equal(shingleSet([1, 1, 1, 1, 1, 1, 1], 4).length, 1);
    assert.deepEqual(minhashSignature(Uint32Array.from([3, 4, 5, 6, 7])), minhashSignature([3, 4, 5, 6, 7]));
    assert.throws(() => minhashSignature([]), /empty/);
    assert.throws(() => minhashSignature([1, -2, 3]), InvalidInputError);
    assert.throws(() => minhashSignature([1, 2], { numHashes: 100, bands: 32 }), /multiple/);
    assert.throws(() => estimateJaccard(new Uint32Array(4), new Uint32Array(5)), InvalidInputError);
    assert.equal(jaccardOfSets(Uint32Array.from([1, 2, 3]), Uint32Array.from([2, 3, 4])), 0.5);
  });

  it('the seed chooses the hash functions; the same seed gives the same signature', () => {
    const a = tokensFrom(2, 200);
    assert.deepEqual(minhashSignature(a, { seed: 9 }), minhashSignature(a, { seed: 9 }));
    assert.notDeepEqual(minhashSignature(a, { seed: 9 }), minhashSignature(a, { seed: 10 }));
  });

  it('lshCandidateProbability follows 1 − (1 − s^r)^b', () => {
    assert.equal(lshCandidateProbability(1, 32, 4), 1);
    assert.equal(lshCandidateProbability(0, 32, 4), 0);
    assert.ok(Math.abs(lshCandidateProbability(0.5, 32, 4) - (1 - (1 - 0.0625) ** 32)) < 1e-12);
  });

  describe('MinHashIndex', () => {
    const base = tokensFrom(100, 400);
    const near = mutate(base, 0.05, 7);
    const far = mutate(base, 0.6, 8);
    const unrelated = tokensFrom(200, 400);

    function build(): MinHashIndex {
      const idx = new MinHashIndex();
      idx.add('base', base);
      idx.add('near', near);
      idx.add('far', far);
      idx.add('unrelated', unrelated);
      return idx;
    }

    it('returns similar prompts best first, with estimated and exact Jaccard', () => {
      const idx = build();
      assert.equal(idx.size, 4);
      const res = idx.query(base);
      assert.equal(res[0]!.id, 'base');
      assert.equal(res[0]!.estimatedJaccard, 1);
      assert.equal(res[0]!.exactJaccard, 1);
      assert.equal(res[1]!.id, 'near');
      assert.ok(res[1]!.estimatedJaccard > 0.5);
      assert.ok(Math.abs(res[1]!.estimatedJaccard - res[1]!.exactJaccard!) < 0.15);
      assert.ok(!res.some((c) => c.id === 'unrelated'), 'an unrelated prompt shares no band');
      for (const c of res) assert.ok(c.sharedBands >= 1);
      assert.equal(res[0]!.tokens, 400);
    });

    it('is deterministic: two indexes built the same way answer the same', () => {
      assert.deepEqual(build().query(near), build().query(near));
      assert.deepEqual(build().query(far, { limit: 2 }), build().query(far, { limit: 2 }));
    });

    it('honours limit, minSimilarity and exact=false; remove forgets; duplicate ids are refused', () => {
      const idx = build();
      assert.equal(idx.query(base, { limit: 1 }).length, 1);
      assert.ok(idx.query(base, { minSimilarity: 0.9 }).every((c) => c.estimatedJaccard >= 0.9));
      assert.equal(idx.query(base, { exact: false })[0]!.exactJaccard, undefined);
      assert.throws(() => idx.add('base', base), /already/);
      assert.equal(idx.remove('near'), true);
      assert.equal(idx.remove('near'), false);
      assert.ok(!idx.has('near'));
      assert.ok(!idx.query(base).some((c) => c.id === 'near'));
      assert.throws(() => idx.query(base, { minSimilarity: 2 }), InvalidInputError);
      assert.throws(() => idx.add('', base), InvalidInputError);
    });

    it('finds near-duplicates among many prompts (recall on similar, few false candidates)', () => {
      const idx = new MinHashIndex();
      for (let i = 0; i < 200; i++) idx.add(`p${i}`, tokensFrom(1000 + i, 300));
      let found = 0;
      let candidates = 0;
      for (let i = 0; i < 200; i += 10) {
        const q = mutate(tokensFrom(1000 + i, 300), 0.05, 5000 + i);
        const res = idx.query(q, { limit: 1000 });
        if (res[0]?.id === `p${i}`) found++;
        candidates += res.length;
      }
      assert.equal(found, 20);
      assert.ok(candidates <= 40, `too many false candidates: ${candidates}`);
    });
  });
});
