/**
 * Tensor-parallel sharding of cached KV: each rank stores its KV heads under its own namespace;
 * the shards of all ranks join back into the unsharded block; a deployment with another
 * tensor-parallel degree finds none of the entries (other namespaces) and could not use them
 * anyway (other heads per rank).
 */
import { strict as assert } from 'node:assert';
import { createNamespace, hashBlocks, longestPrefix, type NamespaceSpec } from '../../lib/src/hashing';
import { joinKVShards, kvHeadsOfRank, reshardKV, shardKV } from '../../lib/src/model/tensor-parallel';
import type { KVCacheArrays } from '../../lib/src/model';
import { MemoryStore } from '../../lib/src/store';
import { serdeBlockCodec } from '../../lib/src/engine';
import { SeededRng } from '../../lib/src/runtime/rng';

const FINGERPRINT = 'cd'.repeat(32);
const SPEC: NamespaceSpec = { modelFingerprint: FINGERPRINT, kvDtype: 'fp32', kvFormatVersion: 3 };
const HEADS = 8; // Llama-3-8B's KV heads, with small layers so the test stays quick

/** One 16-token block of seeded KV with `HEADS` KV heads (layout [heads, tokens, headDim] per layer). */
function block(startPosition = 0, tokens = 16): KVCacheArrays {
  const rng = new SeededRng(startPosition + 1);
  const n = HEADS * tokens * 8;
  const fill = (): Float32Array => Float32Array.from({ length: n }, () => rng.nextFloat() * 2 - 1);
  return { fingerprint: FINGERPRINT, startPosition, tokens, numKvHeads: HEADS, headDim: 8, layers: [0, 1, 2].map(() => ({ keys: fill(), values: fill() })) };
}

/** The namespace rank `tpRank` of a `tpSize`-way deployment hashes under. */
const rankNamespace = (tpRank: number, tpSize: number) => createNamespace({ ...SPEC, layout: { tpRank, tpSize } });

const TOKENS = Array.from({ length: 64 }, (_, i) => (i * 7919) % 50_000);

describe('tensor-parallel sharding of cached KV', () => {
  it('gives each rank an equal slice of the KV heads, or one replicated head when ranks outnumber heads', () => {
    assert.deepEqual([0, 1].map((r) => kvHeadsOfRank(HEADS, r, 2)), [{ first: 0, count: 4, replicas: 1 }, { first: 4, count: 4, replicas: 1 }]);
    assert.deepEqual(kvHeadsOfRank(HEADS, 3, 4), { first: 6, count: 2, replicas: 1 });
    assert.deepEqual(kvHeadsOfRank(HEADS, 7, 8), { first: 7, count: 1, replicas: 1 });
    // 16 ranks, 8 KV heads: ranks 2k and 2k+1 both hold head k.
    assert.deepEqual([4, 5, 6].map((r) => kvHeadsOfRank(HEADS, r, 16)), [
      { first: 2, count: 1, replicas: 2 },
      { first: 2, count: 1, replicas: 2 },
      { first: 3, count: 1, replicas: 2 },
    ]);
    assert.throws(() => kvHeadsOfRank(HEADS, 0, 3), { code: 'INVALID_INPUT', details: { path: 'tpSize', expected: 'a divisor or a multiple of the 8 KV heads', received: '3' } });
    assert.throws(() => kvHeadsOfRank(HEADS, 12, 12), { code: 'INVALID_INPUT', details: { path: 'tpRank', expected: 'an integer in [0, 11]', received: '12' } });
    assert.throws(() => kvHeadsOfRank(HEADS, 2, 2), { code: 'INVALID_INPUT', details: { path: 'tpRank', expected: 'an integer in [0, 1]', received: '2' } });
  });

  it('the shards of all W ranks join back into the unsharded block, bit for bit', () => {
    const kv = block(32);
    for (const W of [1, 2, 4, 8, 16]) {
      const shards = Array.from({ length: W }, (_, r) => shardKV(kv, r, W));
      for (const [r, s] of shards.entries()) {
        const { first, count } = kvHeadsOfRank(HEADS, r, W);
        assert.equal(s.numKvHeads, count);
        assert.equal(s.startPosition, 32);
        // Rank r's keys of layer 1 are the original's heads [first, first + count).
        const per = kv.tokens * kv.headDim;
        assert.deepEqual(s.layers[1]!.keys, kv.layers[1]!.keys.slice(first * per, (first + count) * per));
      }
      assert.deepEqual(joinKVShards(shards, HEADS), kv, `W = ${W}`);
      assert.equal(shards.reduce((a, s) => a + s.layers[0]!.keys.length, 0), kv.layers[0]!.keys.length * Math.max(1, W / HEADS), 'replicated heads cost memory on every rank that holds them');
    }
  });

  it('each rank stores its shard under its own namespace; no rank can read another rank\'s entry', async () => {
    const W = 4;
    const codec = serdeBlockCodec({ dtype: 'fp32', secret: null });
    const namespaces = Array.from({ length: W }, (_, r) => rankNamespace(r, W));
    assert.equal(new Set(namespaces.map((n) => n.hash)).size, W, 'four ranks, four namespaces');
    const firstHashes = namespaces.map((ns) => hashBlocks(TOKENS, ns)[0]!);
    assert.equal(new Set(firstHashes).size, W, 'the same tokens hash differently on every rank');

    const store = new MemoryStore();
    const kv = block(0);
    for (let r = 0; r < W; r++) {
      const hash = firstHashes[r]!;
      await store.put([{ hash, value: codec.encode(shardKV(kv, r, W), hash) }]);
    }
    for (let r = 0; r < W; r++) {
      const [value] = await store.get([firstHashes[r]!]);
      const got = codec.decode(value!, { blockHash: firstHashes[r]!, startPosition: 0, fingerprint: FINGERPRINT });
      assert.deepEqual(got, shardKV(kv, r, W), `rank ${r} reads back its own heads`);
    }
    // Rank 0's bytes handed to rank 1 (a wrong key, a bad restore): the entry names its block, so it is refused.
    const [rank0] = await store.get([firstHashes[0]!]);
    assert.throws(() => codec.decode(rank0!, { blockHash: firstHashes[1]!, startPosition: 0, fingerprint: FINGERPRINT }), { code: 'MISPLACED_ENTRY' });
    await store.close();
  });

  it('a W = 2 deployment finds none of a W = 4 deployment\'s entries, and its ranks hold other heads', async () => {
    const store = new MemoryStore();
    const four = Array.from({ length: 4 }, (_, r) => rankNamespace(r, 4));
    for (const ns of four) await store.put(hashBlocks(TOKENS, ns).map((hash) => ({ hash, value: Buffer.alloc(8) })));
    for (let r = 0; r < 4; r++) assert.equal((await longestPrefix(store, hashBlocks(TOKENS, four[r]!))).matchedBlocks, 4, `W = 4 rank ${r} hits`);
    for (let r = 0; r < 2; r++) {
      const found = await longestPrefix(store, hashBlocks(TOKENS, rankNamespace(r, 2)));
      assert.equal(found.matchedBlocks, 0, `W = 2 rank ${r}: a cold cache, not an error`);
    }
    // And the entries would not fit: W = 2 ranks hold 4 heads each, W = 4 ranks 2.
    assert.equal(kvHeadsOfRank(HEADS, 0, 2).count, 4);
    assert.equal(kvHeadsOfRank(HEADS, 0, 4).count, 2);
    const kv = block(16);
    const shardsOf4 = Array.from({ length: 4 }, (_, r) => shardKV(kv, r, 4));
    assert.throws(() => joinKVShards(shardsOf4.slice(0, 2), HEADS), {
      code: 'MODEL_MISMATCH',
      details: { path: 'shards[0]', expected: '4 KV head(s) of 16 tokens × 8, 3 layers, from position 16 (rank 0 of 2)', received: '2 head(s) of 16 tokens × 8, 3 layers, from position 16' },
    });
    // Migrating means joining every old rank's shard and cutting again — the same as sharding directly.
    assert.deepEqual(reshardKV(shardsOf4, HEADS, 2), [0, 1].map((r) => shardKV(kv, r, 2)));
    await store.close();
  });
});
