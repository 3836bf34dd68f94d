import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import type { BlockPresence, Namespace } from '../../lib/src/hashing';
import { checkCodeAnswer } from '../../lib/src/notebook/exercises';

/* The reference solutions of solutions/02.json, written out as the notebook runs them (02.3 uses the
 * notebook's `blockInput` from section 2, repeated here). */

function blockInput(parentHex: string, blockTokens: number[]): Buffer {
  const bytes = Buffer.alloc(32 + 4 * blockTokens.length);
  bytes.write(parentHex, 0, 'hex');
  for (let j = 0; j < blockTokens.length; j++) bytes.writeUInt32LE(blockTokens[j]!, 32 + 4 * j);
  return bytes;
}

function extendChain(earlier: string[], tokens: number[], ns: Namespace): string[] {
  const hashes = earlier.slice();
  let parent = hashes.length > 0 ? hashes[hashes.length - 1]! : ns.hash;
  for (let start = hashes.length * ns.blockSize; start + ns.blockSize <= tokens.length; start += ns.blockSize) {
    parent = createHash('sha256').update(blockInput(parent, tokens.slice(start, start + ns.blockSize))).digest('hex');
    hashes.push(parent);
  }
  return hashes;
}

async function longestPrefixInWindows(store: BlockPresence, hashes: string[], window: number): Promise<number> {
  let matched = 0;
  for (let i = 0; i < hashes.length; i += window) {
    const present = await store.has(hashes.slice(i, i + window));
    let k = 0;
    while (k < present.length && present[k]) k++;
    matched += k;
    if (k < present.length) break;
  }
  return matched;
}

describe('exercises of notebook 02 (code)', () => {
  it('02.3: the reference extendChain matches kv.hashBlocks on every input', async () => {
    const r = await checkCodeAnswer('02.3', extendChain);
    assert.equal(r.ok, true, r.message);
  });

  it('02.3: a chain that forgets the parent link, or writes token ids big-endian, fails with the input and a hint', async () => {
    const unchained = (earlier: string[], tokens: number[], ns: Namespace): string[] => {
      const out = earlier.slice();
      for (let s = out.length * ns.blockSize; s + ns.blockSize <= tokens.length; s += ns.blockSize) {
        out.push(createHash('sha256').update(blockInput(ns.hash, tokens.slice(s, s + ns.blockSize))).digest('hex'));
      }
      return out;
    };
    const bigEndian = (earlier: string[], tokens: number[], ns: Namespace): string[] => {
      const out = earlier.slice();
      let parent = out.length > 0 ? out[out.length - 1]! : ns.hash;
      for (let s = out.length * ns.blockSize; s + ns.blockSize <= tokens.length; s += ns.blockSize) {
        const bytes = Buffer.alloc(32 + 4 * ns.blockSize);
        bytes.write(parent, 0, 'hex');
        tokens.slice(s, s + ns.blockSize).forEach((t, j) => bytes.writeUInt32BE(t, 32 + 4 * j));
        parent = createHash('sha256').update(bytes).digest('hex');
        out.push(parent);
      }
      return out;
    };
    for (const wrong of [unchained, bigEndian]) {
      const r = await checkCodeAnswer('02.3', wrong);
      assert.equal(r.ok, false);
      assert.equal(r.answered, true);
      assert.match(r.message, /earlier hash\(es\), \d+ tokens, block size \d+/);
      assert.match(r.message, /Hint: Block k has the parent/);
    }
  });

  it('02.4: the reference windowed walk matches kv.longestPrefix, blocks stranded after a hole included', async () => {
    const r = await checkCodeAnswer('02.4', longestPrefixInWindows);
    assert.equal(r.ok, true, r.message);
  });

  it('02.4: counting every stored block instead of the leading run fails with a counterexample', async () => {
    const countsAll = async (store: BlockPresence, hashes: string[]): Promise<number> => (await store.has(hashes)).filter(Boolean).length;
    const r = await checkCodeAnswer('02.4', countsAll);
    assert.equal(r.ok, false);
    assert.match(r.message, /on \(\d+ hashes, window \d+\) the library gives \d+, yours \d+/);
    assert.match(r.message, /Hint:/);
  });

  it('an unanswered function (the notebook as shipped) reports "not answered" with the question, no hint', async () => {
    for (const id of ['02.3', '02.4']) {
      const r = await checkCodeAnswer(id, () => undefined);
      assert.equal(r.ok, false);
      assert.equal(r.answered, false);
      assert.match(r.message, /write the function/);
      assert.doesNotMatch(r.message, /Hint/);
    }
    const r = await checkCodeAnswer('02.4', async () => undefined);
    assert.equal(r.answered, false);
  });
});
