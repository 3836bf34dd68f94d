/**
 * Thousands of random mutations of stored blocks in a real Redis, interleaved with lookups and loads:
 * every damaged entry must be detected, become a miss (the load stops right before it), and be
 * removed from Redis; nothing loaded may differ by a single bit from what was stored.
 */
import { strict as assert } from 'node:assert';
import type { Redis } from 'ioredis';
import { createStore, type KVStore } from '../../lib/src/store';
import { PrefixCacheConnector, ServingEngine, serdeBlockCodec, sliceArrays, type ServeRequest } from '../../lib/src/engine';
import { hashBlocks } from '../../lib/src/hashing';
import type { KVCacheArrays, LlamaModel } from '../../lib/src/model';
import { decodeKV, verifyKV } from '../../lib/src/serde';
import { SeededRng } from '../../lib/src/runtime';
import { MUTATIONS, mutateEntry, type MutationKind } from '../../lib/src/bench/soak';
import { RedisServer } from '../harness/redis';
import { rawClient, referenceOutputs, stream, tinyModel } from './helpers';

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function sameKV(a: KVCacheArrays, b: KVCacheArrays): boolean {
  return a.tokens === b.tokens && a.layers.length === b.layers.length && a.layers.every((l, i) => sameBits(l.keys, b.layers[i]!.keys) && sameBits(l.values, b.layers[i]!.values));
}

interface Cached {
  request: ServeRequest;
  hashes: string[];
  keys: string[];
  values: Buffer[];
  /** The whole loadable prefix as stored (decoded from the stored bytes). */
  stored: KVCacheArrays;
}

describe('reliability: corrupted entries in Redis', function () {
  this.timeout(120_000);
  let model: LlamaModel;
  let server: RedisServer;
  let raw: Redis;
  let plain: KVStore;
  let validating: KVStore;
  let requests: ServeRequest[];
  let reference: Map<string, string>;
  const cached: Cached[] = [];
  const codec = serdeBlockCodec({ dtype: 'fp32' });

  before(async () => {
    model = await tinyModel(0);
    requests = stream('chat', { requests: 10, seed: 21, prefix: 'corrupt' });
    reference = await referenceOutputs(model, requests);
    server = await RedisServer.start();
    raw = rawClient(server.port);
    plain = await createStore(server.url, { namespace: 'corrupt' });
    // The same keys through a store that checks every value it reads (header + checksums).
    validating = await createStore(server.url, {
      namespace: 'corrupt',
      validate: (v) => {
        verifyKV(v);
      },
    });
    const engine = new ServingEngine(model, new PrefixCacheConnector(model, plain, codec));
    for (const r of requests) await engine.serve(r);
    const connector = new PrefixCacheConnector(model, plain, codec);
    for (const r of requests) {
      const usable = Math.floor((r.tokens.length - 1) / 16);
      const hashes = hashBlocks(r.tokens, connector.namespaceFor(undefined)).slice(0, usable);
      const keys = hashes.map((h) => `kvlab:corrupt:${h}`);
      const values = (await raw.mgetBuffer(...keys)) as (Buffer | null)[];
      assert.ok(values.every((v) => v !== null), 'every block of the stream is stored');
      const match = await connector.getMatchedTokens(r);
      const load = await connector.load(r, match);
      assert.equal(load.tokens, usable * 16);
      const stored = load.kv!.toArrays();
      load.kv!.dispose();
      cached.push({ request: r, hashes, keys, values: values as Buffer[], stored });
    }
  });

  after(async () => {
    await raw?.quit();
    await plain?.close();
    await validating?.close();
    await server?.stop();
  });

  interface MutationRun {
    total: number;
    byKind: Record<string, number>;
    fullServes: number;
    /** Mutations whose damaged key was still in Redis after the read that detected it. */
    kept: { n: number; kind: MutationKind; error: string }[];
  }

  /**
   * `total` mutations through `store`: damage one stored block, then either look up + load the
   * prompt (checking what was loaded bit by bit) or, every 40th time, serve it end to end.
   */
  async function mutate(store: KVStore, total: number, seed: number): Promise<MutationRun> {
    const rng = new SeededRng(seed);
    const connector = new PrefixCacheConnector(model, store, codec);
    const engine = new ServingEngine(model, connector);
    const run: MutationRun = { total, byKind: {}, fullServes: 0, kept: [] };
    for (let n = 0; n < total; n++) {
      const c = cached[rng.int(cached.length)]!;
      const i = rng.int(c.keys.length);
      const kind: MutationKind = MUTATIONS[n % MUTATIONS.length]!;
      const bad = mutateEntry(c.values[i]!, kind, rng);
      assert.ok(!bad.equals(c.values[i]!), `${kind} changed the bytes`);
      await raw.set(c.keys[i]!, bad);
      run.byKind[kind] = (run.byKind[kind] ?? 0) + 1;
      const label = `mutation #${n} (${kind}, block ${i} of ${c.keys.length})`;

      if (n % 40 === 39) {
        // End to end: the request recomputes from the damaged block on and answers correctly.
        const r = await engine.serve(c.request);
        assert.equal(r.output.join(','), reference.get(c.request.id), `${label}: wrong output`);
        assert.equal(r.reusedTokens, i * 16, `${label}: reused ${r.reusedTokens} tokens`);
        run.fullServes++;
      } else {
        const match = await connector.getMatchedTokens(c.request);
        assert.equal(match.matchedTokens, c.keys.length * 16, `${label}: the damaged key still exists at lookup time`);
        const load = await connector.load(c.request, match);
        assert.equal(load.tokens, i * 16, `${label}: loaded ${load.tokens} tokens`);
        assert.equal(load.fallbacks, 1, `${label}: counted as a fallback`);
        if (i > 0) {
          const got = load.kv!.toArrays();
          load.kv!.dispose();
          assert.ok(sameKV(got, sliceArrays(c.stored, 0, i * 16)), `${label}: the loaded KV differs from what was stored`);
        } else {
          assert.equal(load.kv, undefined);
        }
        const left = await raw.getBuffer(c.keys[i]!);
        if (left !== null && left.equals(bad)) {
          let error = 'decodes';
          try {
            verifyKV(left);
          } catch (err) {
            error = (err as { code?: string }).code ?? String(err);
          }
          run.kept.push({ n, kind, error });
        }
      }
      // Put the original bytes back (the end-to-end request also saved a fresh copy).
      await raw.set(c.keys[i]!, c.values[i]!);
    }
    for (const c of cached) {
      const now = (await raw.mgetBuffer(...c.keys)) as (Buffer | null)[];
      now.forEach((v, i) => assert.ok(v?.equals(c.values[i]!), `${c.keys[i]} restored`));
    }
    assert.equal(Object.keys(run.byKind).length, MUTATIONS.length);
    return run;
  }

  function describeKept(run: MutationRun): string {
    const counts: Record<string, number> = {};
    for (const k of run.kept) counts[`${k.kind} → ${k.error}`] = (counts[`${k.kind} → ${k.error}`] ?? 0) + 1;
    return Object.entries(counts).map(([k, v]) => `${k}: ${v}`).join('; ');
  }

  it('2400 random mutations read through the connector: each is detected, becomes a miss at exactly that block, and the bad key is removed; zero wrong tensors or outputs', async () => {
    const run = await mutate(plain, 2400, 2024);
    assert.deepEqual(run.kept, [], `damaged keys left in Redis: ${describeKept(run)}`);
    console.log(`      corruption (connector): ${run.total} mutations (${Object.entries(run.byKind).map(([k, v]) => `${k} ${v}`).join(', ')}), all detected and removed; ${run.fullServes} full requests, 0 wrong`);
  });

  it('1200 random mutations read through a store with a validate hook (verifyKV): detected, a miss at that block, zero wrong tensors — and the bad key removed', async () => {
    const corruptBefore = validating.stats().corrupt;
    const run = await mutate(validating, 1200, 4048);
    // Detection, miss at the right block and bit-exact loads were asserted for every mutation above.
    const counted = validating.stats().corrupt - corruptBefore;
    console.log(`      corruption (validate hook): ${run.total} mutations all detected, 0 wrong; store counted ${counted} corrupt; damaged keys left in Redis: ${run.kept.length} (${describeKept(run)})`);
    assert.deepEqual(
      run.kept.map((k) => `#${k.n} ${k.kind} ${k.error}`),
      [],
      `the validating store returned a miss but kept ${run.kept.length} damaged entries (${describeKept(run)}): a lookup keeps finding them, ` +
        'every load misses them, and SET NX never replaces them',
    );
  });

  it('a valid entry of another dtype under the key is refused (the codec must check the header dtype)', async () => {
    // The fp32 connector's key holds a perfectly valid int8 entry of the same block: same shape,
    // checksums fine, but quantized numbers served as if they were the exact fp32 KV.
    const c = cached[0]!;
    const i = Math.min(2, c.keys.length - 1);
    const d = decodeKV(c.values[i]!);
    const int8 = serdeBlockCodec({ dtype: 'int8' }).encode({
      fingerprint: model.fingerprint,
      startPosition: i * 16,
      tokens: d.tokens,
      numKvHeads: d.kvHeads,
      headDim: d.headDim,
      layers: d.k.map((keys, l) => ({ keys, values: d.v[l]! })),
    }, c.hashes[i]!);
    await raw.set(c.keys[i]!, int8);
    try {
      const connector = new PrefixCacheConnector(model, plain, codec);
      const match = await connector.getMatchedTokens(c.request);
      const load = await connector.load(c.request, match);
      load.kv?.dispose();
      assert.equal(load.tokens, i * 16, `an int8 entry was loaded by the fp32 codec as block ${i} (loaded ${load.tokens} tokens)`);
    } finally {
      await raw.set(c.keys[i]!, c.values[i]!);
    }
  });
});
