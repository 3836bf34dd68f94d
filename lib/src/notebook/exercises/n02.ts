/** Exercises of notebook 02 (prefix hashing). */
import { fullBlocks } from '../../hashing/block-size';
import { hashBlocks } from '../../hashing/block-hash';
import { longestPrefix } from '../../hashing/lookup';
import { createNamespace, type Namespace } from '../../hashing/namespace';
import type { BlockHash, BlockPresence } from '../../hashing/types';
import type { SeededRng } from '../../runtime/rng';
import { MemoryStore } from '../../store/memory-store';
import type { Exercise } from './types';

function randomTokens(rng: SeededRng, n: number): number[] {
  return Array.from({ length: n }, () => rng.int(50_000));
}

function randomNamespace(rng: SeededRng, blockSize: number): Namespace {
  const fingerprint = Array.from({ length: 32 }, () => rng.int(256).toString(16).padStart(2, '0')).join('');
  return createNamespace({ modelFingerprint: fingerprint, kvDtype: 'fp32', kvFormatVersion: 1, blockSize });
}

/** 02.3: a conversation of `tokens` whose first blocks were hashed earlier (`earlier`); the learner hashes the rest. */
function extendCases(rng: SeededRng): unknown[][] {
  const cases: unknown[][] = [];
  for (let i = 0; i < 12; i++) {
    const blockSize = i < 2 ? 16 : 1 + rng.int(20);
    const ns = randomNamespace(rng, blockSize);
    const tokens = randomTokens(rng, i === 2 ? blockSize - 1 : rng.int(6 * blockSize + 1));
    const done = i % 4 === 0 ? 0 : rng.int(Math.floor(tokens.length / blockSize) + 1);
    cases.push([hashBlocks(tokens.slice(0, done * blockSize), ns), tokens, ns]);
  }
  return cases;
}

/**
 * 02.4: a store holding some blocks of a chain (a leading run, sometimes a hole after it, sometimes
 * everything or nothing) and a window size for the learner's batched walk.
 */
function windowCases(rng: SeededRng): unknown[][] {
  const cases: unknown[][] = [];
  for (let i = 0; i < 12; i++) {
    const ns = randomNamespace(rng, 4);
    const hashes = hashBlocks(randomTokens(rng, 4 * rng.int(30)), ns);
    const run = i === 0 ? hashes.length : i === 1 ? 0 : rng.int(hashes.length + 1);
    const held = hashes.filter((_h, k) => k < run || (k > run + 1 && rng.int(2) === 0)); // blocks after a hole are stranded
    const store = new MemoryStore({ name: `exercise-02.4-${i}` });
    // MemoryStore.put fills its map before its first await: the store is ready when the check calls the function.
    void store.put(held.map((h) => ({ hash: h, value: Buffer.of(1) })));
    cases.push([store, hashes, 1 + rng.int(8)]);
  }
  return cases;
}

export const EXERCISES_02: readonly Exercise[] = [
  { id: '02.1', question: 'How many full 16-token blocks does a 100-token prompt have (only full blocks are hashed)?', expected: () => fullBlocks(100, 16), hint: 'Integer division: the partial tail block is never cached.' },
  { id: '02.2', question: "Two prompts share their first 40 tokens and differ at token 41. With 16-token blocks, how many tokens of the second can be loaded from the first one's cache?", expected: () => Math.floor(40 / 16) * 16, hint: 'The match stops at the first block whose tokens differ; only whole blocks count.' },
  {
    kind: 'code',
    id: '02.3',
    question: 'Write extendChain(earlier, tokens, ns): the chained hashes of every full block of `tokens`, reusing `earlier` (the hashes of its first blocks, computed before) and hashing only the blocks after them.',
    cases: extendCases,
    reference: (_earlier, tokens, ns) => hashBlocks(tokens as number[], ns as Namespace),
    describe: ([earlier, tokens, ns]) => `${(earlier as BlockHash[]).length} earlier hash(es), ${(tokens as number[]).length} tokens, block size ${(ns as Namespace).blockSize}`,
    hint: 'Block k has the parent earlier[k − 1] (or ns.hash when k = 0): start from the last earlier hash, hash blocks earlier.length, earlier.length + 1, … with the same byte layout as chainHashes, and return earlier followed by the new hashes.',
  },
  {
    kind: 'code',
    id: '02.4',
    question: 'Write longestPrefixInWindows(store, hashes, window): the number of leading blocks the store holds, asking `store.has` for `window` hashes at a time and stopping after the first window with a miss.',
    cases: windowCases,
    reference: async (store, hashes) => (await longestPrefix(store as BlockPresence, hashes as BlockHash[])).matchedBlocks,
    describe: ([, hashes, window]) => `${(hashes as BlockHash[]).length} hashes, window ${String(window)}`,
    hint: 'Loop over windows hashes.slice(i, i + window): await store.has(slice), add the leading run of true to the count, and return as soon as that run is shorter than the window.',
  },
];
