import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import {
  DEFAULT_BLOCK_SIZE,
  createNamespace,
  exactPromptKey,
  exactPromptLookup,
  hashBlocks,
  longestPrefix,
  prefixLength,
  type BlockHash,
} from '../../lib/src/hashing';
import { InvalidInputError } from '../../lib/src/runtime/errors';
import { BASE_SPEC, SetPresence, loadFixture, tokensFrom } from './helpers';

describe('hashing/lookup', () => {
  const ns = createNamespace(BASE_SPEC);
  const tokens = tokensFrom(31, 16 * 10 + 4);
  const chain = hashBlocks(tokens, ns);

  it('finds the whole chain with exactly one has() call', async () => {
    const store = new SetPresence(chain);
    const m = await longestPrefix(store, chain, ns);
    assert.equal(store.calls, 1);
    assert.deepEqual(store.asked[0], chain);
    assert.deepEqual(
      { matchedBlocks: m.matchedBlocks, matchedTokens: m.matchedTokens, totalBlocks: m.totalBlocks, strandedBlocks: m.strandedBlocks, roundTrips: m.roundTrips },
      { matchedBlocks: 10, matchedTokens: 160, totalBlocks: 10, strandedBlocks: 0, roundTrips: 1 },
    );
  });

  it('stops at the first hole: blocks after an evicted middle block do not count', async () => {
    const store = new SetPresence(chain);
    store.keys.delete(chain[4]!); // evict a middle block
    const m = await longestPrefix(store, chain, ns);
    assert.equal(store.calls, 1);
    assert.equal(m.matchedBlocks, 4);
    assert.equal(m.matchedTokens, 64);
    assert.equal(m.strandedBlocks, 5);
    assert.deepEqual(m.present, chain.map((_, i) => i !== 4));

    const first = new SetPresence(chain.slice(1)); // block 0 missing: nothing is usable
    const m0 = await longestPrefix(first, chain, ns);
    assert.equal(m0.matchedBlocks, 0);
    assert.equal(m0.strandedBlocks, 9);
  });

  it('a longer prompt matches the cached shorter one up to its last full block', async () => {
    const store = new SetPresence(hashBlocks(tokens.slice(0, 100), ns)); // 6 blocks stored
    const m = await longestPrefix(store, chain, ns);
    assert.equal(m.matchedBlocks, 6);
    assert.equal(m.matchedTokens, 96);
  });

  it('uses the default block size when none is given, and the given one otherwise', async () => {
    const store = new SetPresence(chain);
    assert.equal((await longestPrefix(store, chain)).matchedTokens, 10 * DEFAULT_BLOCK_SIZE);
    assert.equal((await longestPrefix(store, chain, { blockSize: 256 })).matchedTokens, 2560);
  });

  it('an empty chain makes no round trip', async () => {
    const store = new SetPresence();
    const m = await longestPrefix(store, [], ns);
    assert.equal(store.calls, 0);
    assert.equal(m.roundTrips, 0);
    assert.equal(m.matchedBlocks, 0);
  });

  it('refuses malformed hashes and malformed store answers', async () => {
    const store = new SetPresence();
    await assert.rejects(longestPrefix(store, ['xyz'], ns), InvalidInputError);
    await assert.rejects(longestPrefix(store, [chain[0]!.toUpperCase()], ns), InvalidInputError);
    assert.equal(store.calls, 0, 'validation happens before any round trip');
    const liar = { has: async (h: readonly BlockHash[]) => h.slice(1).map(() => true) };
    await assert.rejects(longestPrefix(liar, chain, ns), {
      message: /presence\.has\(\): expected 10 booleans/,
      details: { path: 'presence.has()', expected: '10 booleans, one per hash', received: 'an array of length 9' },
    });
    const truthy = { has: async (h: readonly BlockHash[]) => h.map(() => 1 as unknown as boolean) };
    await assert.rejects(longestPrefix(truthy, chain, ns), InvalidInputError);
    await assert.rejects(longestPrefix({} as never, chain, ns), /has\(hashes\)/);
  });

  it('salts isolate tenants: tenant B never matches tenant A\'s prefix', async () => {
    const a = createNamespace({ ...BASE_SPEC, salt: 'tenant-a' });
    const b = createNamespace({ ...BASE_SPEC, salt: 'tenant-b' });
    const store = new SetPresence(hashBlocks(tokens, a)); // tenant A's prompt is cached
    assert.equal((await longestPrefix(store, hashBlocks(tokens, a), a)).matchedBlocks, 10);
    const mb = await longestPrefix(store, hashBlocks(tokens, b), b);
    assert.equal(mb.matchedBlocks, 0);
    assert.equal(mb.strandedBlocks, 0, 'not a single one of B\'s blocks exists in the store');
    const unsalted = await longestPrefix(store, hashBlocks(tokens, ns), ns);
    assert.equal(unsalted.matchedBlocks, 0);
  });

  it('prefixLength counts the leading run of true', () => {
    assert.equal(prefixLength([]), 0);
    assert.equal(prefixLength([false, true]), 0);
    assert.equal(prefixLength([true, true, false, true]), 2);
  });

  describe('properties (fast-check)', () => {
    const ns4 = createNamespace({ ...BASE_SPEC, blockSize: 4 });
    const tok = fc.integer({ min: 0, max: 20 }); // a small vocabulary: shared prefixes happen

    it('longestPrefix ≤ min(stored, asked), equals the common full-block prefix, never counts past a hole', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(tok, { maxLength: 60 }),
          fc.array(tok, { maxLength: 60 }),
          fc.array(fc.nat(20), { maxLength: 4 }),
          async (cached, asked, evict) => {
            const stored = hashBlocks(cached, ns4);
            const store = new SetPresence(stored);
            for (const i of evict) if (i < stored.length) store.keys.delete(stored[i]!);
            const query = hashBlocks(asked, ns4);
            const m = await longestPrefix(store, query, ns4);
            assert.equal(store.calls, query.length === 0 ? 0 : 1);
            assert.ok(m.matchedBlocks <= Math.min(stored.length, query.length));
            assert.equal(m.matchedTokens, m.matchedBlocks * 4);
            // expected: the common prefix in whole blocks, cut at the first evicted block
            let common = 0;
            while (common < Math.min(cached.length, asked.length) && cached[common] === asked[common]) common++;
            let want = Math.min(Math.floor(common / 4), query.length);
            const firstEvicted = Math.min(...evict.filter((i) => i < stored.length), Infinity);
            want = Math.min(want, firstEvicted);
            assert.equal(m.matchedBlocks, want);
            assert.ok(m.present.slice(0, m.matchedBlocks).every(Boolean));
            if (m.matchedBlocks < query.length) assert.equal(m.present[m.matchedBlocks], false);
          },
        ),
        { seed: 4, numRuns: 300 },
      );
    });
  });
});

describe('hashing/exact-prompt (baseline)', () => {
  const ns = createNamespace(BASE_SPEC);

  it('matches the independent Python keys', () => {
    const fx = loadFixture();
    for (const e of fx.exactPrompt) {
      const n = e.namespace === null ? undefined : createNamespace(fx.namespaces[e.namespace]!.spec);
      assert.equal(exactPromptKey(e.prompt, n), e.key, JSON.stringify(e.prompt));
    }
  });

  it('hits only on the identical string: one extra character is a full miss', async () => {
    const system = 'You are a helpful assistant. '.repeat(20);
    const store = new SetPresence([exactPromptKey(system + 'What is a KV cache?', ns)]);
    assert.equal((await exactPromptLookup(store, system + 'What is a KV cache?', ns)).hit, true);
    assert.equal((await exactPromptLookup(store, system + 'What is a KV cache? ', ns)).hit, false);
    assert.equal((await exactPromptLookup(store, system + 'What is a KV cache?')).hit, false, 'namespace is part of the key');
    assert.equal(store.calls, 3);
  });

  it('keys differ from block hashes and namespaces, and refuse empty or ill-formed prompts', () => {
    const k = exactPromptKey('hello', ns);
    assert.match(k, /^[0-9a-f]{64}$/);
    assert.notEqual(k, exactPromptKey('hello'));
    assert.notEqual(k, ns.hash);
    assert.throws(() => exactPromptKey(''), InvalidInputError);
    assert.throws(() => exactPromptKey('a\udc00'), /surrogate/);
    assert.throws(() => exactPromptKey(5 as unknown as string), InvalidInputError);
  });
});
