import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import {
  PrefixHasher,
  createNamespace,
  exactPromptKey,
  fullBlocks,
  hashBlocks,
  minhashSignature,
  uncacheableTokens,
} from '../../lib/src/hashing';
import { InvalidInputError, type KVLabError } from '../../lib/src/runtime/errors';
import { BASE_SPEC, FIXTURE_DIR, loadFixture, tokensFrom } from './helpers';

const run = promisify(execFile);
const tokenArb = fc.integer({ min: 0, max: 0xffffffff });

describe('hashing/block-hash', () => {
  const ns = createNamespace(BASE_SPEC);
  const ns4 = createNamespace({ ...BASE_SPEC, blockSize: 4 });

  it('matches the committed fixture made by an independent Python implementation', () => {
    const fx = loadFixture();
    assert.ok(fx.chains.length >= 50);
    for (const c of fx.chains) {
      const got = hashBlocks(fx.sequences[c.sequence]!, createNamespace(fx.namespaces[c.namespace]!.spec));
      assert.deepEqual(got, c.hashes, `${c.namespace} / ${c.sequence}`);
    }
  });

  it('gives the same hashes in a separate process (npx tsx child)', async function () {
    this.timeout(60_000);
    const root = path.join(__dirname, '..', '..');
    const { stdout } = await run('npx', ['tsx', path.join(FIXTURE_DIR, 'print-hashes.ts')], {
      cwd: root,
      env: { ...process.env, TZ: 'Pacific/Chatham', LANG: 'tr_TR.UTF-8' }, // a different environment on purpose
      maxBuffer: 16 << 20,
    });
    const child = JSON.parse(stdout) as Record<string, unknown>;
    const fx = loadFixture();
    let compared = 0;
    for (const [name, { spec }] of Object.entries(fx.namespaces)) {
      const n = createNamespace(spec);
      assert.equal(child[`ns:${name}`], n.hash);
      for (const [seq, tokens] of Object.entries(fx.sequences)) {
        assert.deepEqual(child[`chain:${name}:${seq}`], hashBlocks(tokens, n), `${name}/${seq}`);
        compared++;
      }
    }
    assert.ok(compared >= 50);
    assert.equal(child['exact'], exactPromptKey('the same prompt in another process'));
    assert.deepEqual(child['minhash'], Array.from(minhashSignature(fx.sequences['lcg-1000']!)));
  });

  it('hashes only full blocks', () => {
    assert.deepEqual(hashBlocks([], ns), []);
    assert.deepEqual(hashBlocks(tokensFrom(1, 15), ns), []);
    assert.equal(hashBlocks(tokensFrom(1, 16), ns).length, 1);
    assert.equal(hashBlocks(tokensFrom(1, 47), ns).length, 2);
    assert.equal(fullBlocks(47, 16), 2);
    assert.equal(uncacheableTokens(47, 16), 15);
    assert.equal(uncacheableTokens(48, 16), 0);
    // the tail does not influence the full blocks' hashes
    assert.deepEqual(hashBlocks(tokensFrom(1, 47), ns), hashBlocks(tokensFrom(1, 32), ns));
  });

  it('changing one token changes its block and every later block, and none before', () => {
    const tokens = tokensFrom(9, 16 * 10 + 5);
    const before = hashBlocks(tokens, ns);
    for (const pos of [0, 15, 16, 77, 159]) {
      const changed = tokens.slice();
      changed[pos] = (changed[pos]! + 1) % 50_000;
      const after = hashBlocks(changed, ns);
      const block = Math.floor(pos / 16);
      for (let b = 0; b < before.length; b++) {
        if (b < block) assert.equal(after[b], before[b], `pos ${pos}: block ${b} before the change must not move`);
        else assert.notEqual(after[b], before[b], `pos ${pos}: block ${b} at/after the change must change`);
      }
    }
    // a change in the partial tail changes nothing
    const tail = tokens.slice();
    tail[tail.length - 1] = 1;
    assert.deepEqual(hashBlocks(tail, ns), before);
  });

  it('order matters inside a block (ids are hashed in position)', () => {
    const a = [1, 2, 3, 4];
    assert.notDeepEqual(hashBlocks(a, ns4), hashBlocks([2, 1, 3, 4], ns4));
  });

  it('accepts number[], Uint32Array, Int32Array and Uint16Array alike', () => {
    const tokens = tokensFrom(3, 16 * 5 + 3, 60_000);
    const want = hashBlocks(tokens, ns);
    assert.deepEqual(hashBlocks(Uint32Array.from(tokens), ns), want);
    assert.deepEqual(hashBlocks(Int32Array.from(tokens), ns), want);
    assert.deepEqual(hashBlocks(Uint16Array.from(tokens), ns), want);
  });

  it('validates token ids: integers in [0, 2^32), anywhere in the input', () => {
    const bad: unknown[] = [-1, 2 ** 32, 1.5, Number.NaN, Infinity, '7', null, undefined, 2 ** 53];
    for (const v of bad) {
      const tokens = [...tokensFrom(1, 20)] as unknown[];
      tokens[3] = v;
      assert.throws(() => hashBlocks(tokens as number[], ns), (e: unknown) => e instanceof InvalidInputError && /tokens\[3\]/.test(e.message));
      const tail = [...tokensFrom(1, 20)] as unknown[];
      tail[18] = v; // in the partial tail: not hashed, still refused
      assert.throws(() => hashBlocks(tail as number[], ns), InvalidInputError);
    }
    assert.throws(() => hashBlocks(Int32Array.from([1, 2, -3, 4]), ns4), InvalidInputError);
    assert.throws(() => hashBlocks('1234' as unknown as number[], ns4), InvalidInputError);
    assert.throws(() => hashBlocks([1, 2, 3, 4], { hash: 'nope', blockSize: 4 } as never), InvalidInputError);
    // the extremes are valid
    assert.equal(hashBlocks([0, 0xffffffff, 0, 0xffffffff], ns4).length, 1);
  });

  it('extends a chain from a known parent without rehashing', () => {
    const turn1 = tokensFrom(11, 16 * 3 + 7);
    const turn2 = turn1.concat(tokensFrom(12, 16 * 4 + 2));
    const h1 = hashBlocks(turn1, ns);
    const more = hashBlocks(turn2, ns, { from: h1[h1.length - 1]!, startBlock: h1.length });
    assert.deepEqual(h1.concat(more), hashBlocks(turn2, ns));
    assert.deepEqual(hashBlocks(turn2, ns, { from: h1[2]!, startBlock: 3 }), hashBlocks(turn2, ns).slice(3));
    // skipped tokens are not re-validated (they were hashed already): cost is O(new tokens)
    const withJunkPrefix = [...turn2] as unknown[];
    withJunkPrefix[0] = -5;
    assert.deepEqual(hashBlocks(withJunkPrefix as number[], ns, { from: h1[2]!, startBlock: 3 }), more);
  });

  it('refuses inconsistent extension options', () => {
    const t = tokensFrom(1, 64);
    const h = hashBlocks(t, ns);
    assert.throws(() => hashBlocks(t, ns, { startBlock: 2 }), /needs 'from'/);
    assert.throws(() => hashBlocks(t, ns, { from: h[0]! }), /startBlock > 0/);
    assert.throws(() => hashBlocks(t, ns, { from: 'ABC', startBlock: 1 }), {
      message: /options\.from: expected a block hash/,
      details: { path: 'options.from', expected: 'a block hash (64 lowercase hex characters)', received: '"ABC"' },
    });
    assert.throws(() => hashBlocks(t, ns, { from: h[0]!, startBlock: 5 }), /at most the 4 full block/);
    assert.throws(() => hashBlocks(t, ns, { from: h[0]!, startBlock: 5 }), (err: KVLabError) => {
      assert.equal(err.details.path, 'options.startBlock');
      assert.deepEqual([err.details.limit, err.details.actual], [4, 5]);
      return true;
    });
    assert.throws(() => hashBlocks([1, 2, -3], ns), { details: { path: 'tokens[2]', expected: 'a token id: an integer in [0, 2^32)', received: '-3' } });
    assert.deepEqual(hashBlocks(t, ns, { from: h[3]!, startBlock: 4 }), []);
  });

  it('PrefixHasher pushes incrementally and equals hashBlocks', () => {
    const tokens = tokensFrom(21, 16 * 6 + 9);
    const hasher = new PrefixHasher(ns);
    assert.equal(hasher.lastHash, ns.hash);
    const got: string[] = [];
    for (const chunk of [5, 11, 0, 1, 30, 40, 18]) {
      const start = hasher.tokenCount;
      got.push(...hasher.push(tokens.slice(start, start + chunk)));
    }
    assert.equal(hasher.tokenCount, tokens.length);
    assert.equal(hasher.pendingTokens, 9);
    assert.equal(hasher.blockCount, 6);
    assert.deepEqual(got, hashBlocks(tokens, ns));
    assert.deepEqual(hasher.hashes, got);
    assert.equal(hasher.lastHash, got[got.length - 1]);
  });

  it('PrefixHasher resumes from a parent, clones for branches, and rejects bad ids atomically', () => {
    const tokens = tokensFrom(22, 16 * 5);
    const all = hashBlocks(tokens, ns);
    const resumed = new PrefixHasher(ns, { from: all[1]!, startBlock: 2 });
    assert.deepEqual(resumed.push(tokens.slice(32)), all.slice(2));
    assert.equal(resumed.blockCount, 5);
    assert.equal(resumed.tokenCount, 80);

    const trunk = new PrefixHasher(ns);
    trunk.push(tokens.slice(0, 40));
    const branch = trunk.clone();
    trunk.push(tokens.slice(40));
    const other = tokensFrom(23, 40);
    branch.push(other);
    assert.deepEqual(trunk.hashes, all);
    assert.deepEqual(branch.hashes, hashBlocks(tokens.slice(0, 40).concat(other), ns));

    const h = new PrefixHasher(ns);
    h.push([1, 2, 3]);
    assert.throws(() => h.push([4, -1, 5]), InvalidInputError);
    assert.equal(h.tokenCount, 3); // nothing of the bad push was taken
    assert.throws(() => new PrefixHasher(ns, { startBlock: 1 }), InvalidInputError);
  });

  describe('properties (fast-check)', () => {
    it('prefix monotonicity: the hashes of a prefix are a prefix of the hashes', () => {
      fc.assert(
        fc.property(fc.array(tokenArb, { maxLength: 200 }), fc.nat(200), fc.integer({ min: 1, max: 24 }), (tokens, cut, blockSize) => {
          const n = createNamespace({ ...BASE_SPEC, blockSize });
          const full = hashBlocks(tokens, n);
          const prefix = hashBlocks(tokens.slice(0, cut), n);
          assert.equal(full.length, Math.floor(tokens.length / blockSize));
          assert.deepEqual(prefix, full.slice(0, prefix.length));
          assert.equal(prefix.length, Math.floor(Math.min(cut, tokens.length) / blockSize));
        }),
        { seed: 1, numRuns: 200 },
      );
    });

    it('sequences that differ get different hashes from the first differing block on', () => {
      fc.assert(
        fc.property(fc.array(tokenArb, { minLength: 8, maxLength: 64 }), fc.array(tokenArb, { minLength: 8, maxLength: 64 }), (a, b) => {
          const ha = hashBlocks(a, ns4);
          const hb = hashBlocks(b, ns4);
          let firstDiff = 0;
          while (firstDiff < Math.min(a.length, b.length) && a[firstDiff] === b[firstDiff]) firstDiff++;
          const shared = Math.floor(firstDiff / 4);
          for (let i = 0; i < Math.min(ha.length, hb.length); i++) {
            if (i < shared) assert.equal(ha[i], hb[i]);
            else assert.notEqual(ha[i], hb[i]);
          }
        }),
        { seed: 2, numRuns: 200 },
      );
    });

    it('any split of pushes into a PrefixHasher equals one hashBlocks call', () => {
      fc.assert(
        fc.property(fc.array(fc.array(tokenArb, { maxLength: 12 }), { maxLength: 12 }), (chunks) => {
          const h = new PrefixHasher(ns4);
          for (const c of chunks) h.push(c);
          assert.deepEqual(h.hashes, hashBlocks(chunks.flat(), ns4));
        }),
        { seed: 3, numRuns: 200 },
      );
    });
  });
});
