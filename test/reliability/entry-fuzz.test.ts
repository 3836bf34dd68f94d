/**
 * Fuzzing the read path with entries that are valid somewhere else: taken from other keys, other
 * models, other tenants, truncated or extended, signed with another secret or not at all — with and
 * without the reader holding the cache secret. Every one must be a miss at exactly its block,
 * counted once with its reason, and deleted; the blocks before it still load.
 */
import { strict as assert } from 'node:assert';
import { MemoryStore } from '../../lib/src/store';
import { PrefixCacheConnector, ServingEngine, serdeBlockCodec, type BlockCodec, type ServeRequest } from '../../lib/src/engine';
import { hashBlocks, loadableBlocks } from '../../lib/src/hashing';
import type { LlamaModel } from '../../lib/src/model';
import { SeededRng } from '../../lib/src/runtime';
import { stream, tinyModel } from './helpers';

const SECRET = 'entry fuzz secret, long enough 42';
const KINDS = ['other-key', 'other-model', 'other-tenant', 'truncated', 'extended', 'unsigned', 'other-secret'] as const;
type Kind = (typeof KINDS)[number];

describe('reliability: fuzzed entries from elsewhere are counted misses', function () {
  this.timeout(180_000);
  let model: LlamaModel;
  let other: LlamaModel;
  let requests: ServeRequest[];

  before(async () => {
    model = await tinyModel(0);
    other = await tinyModel(1);
    requests = stream('chat', { requests: 6, seed: 41, prefix: 'fuzz' }).filter((r) => loadableBlocks(r.tokens.length, 16) >= 2);
    assert.ok(requests.length >= 3);
  });

  /** A store holding every block of the stream, written by `m` through `codec` (tenant `t` if given). */
  async function filled(m: LlamaModel, codec: BlockCodec, tenant?: string): Promise<{ store: MemoryStore; connector: PrefixCacheConnector }> {
    const store = new MemoryStore({ name: 'fuzz' });
    const connector = new PrefixCacheConnector(m, store, codec, { salts: { alice: 'salt of alice 1234', bob: 'salt of bob 5678' } });
    const engine = new ServingEngine(m, connector);
    for (const r of requests) await engine.serve({ ...r, ...(tenant ? { tenant } : {}) });
    return { store, connector };
  }

  for (const readerHasSecret of [false, true]) {
    it(`${readerHasSecret ? 'a reader with the secret' : 'a reader without a secret'}: every fuzzed entry is refused at its block and counted`, async () => {
      const codec = serdeBlockCodec({ dtype: 'fp16', secret: readerHasSecret ? SECRET : null });
      const { store, connector } = await filled(model, codec);
      const sources = {
        model: await filled(other, codec),
        tenant: await filled(model, codec, 'alice'),
        unsigned: await filled(model, serdeBlockCodec({ dtype: 'fp16', secret: null })),
        otherSecret: await filled(model, serdeBlockCodec({ dtype: 'fp16', secret: 'somebody else secret 999' })),
      };
      const rng = new SeededRng(9);
      let trials = 0;
      for (let n = 0; n < 60; n++) {
        const kind: Kind = KINDS[n % KINDS.length]!;
        // A reader without a secret accepts unsigned entries and ignores MACs: those two kinds are not attacks on it.
        if (!readerHasSecret && (kind === 'unsigned' || kind === 'other-secret')) continue;
        const r = requests[rng.int(requests.length)]!;
        const hashes = hashBlocks(r.tokens, connector.namespaceFor(undefined));
        const loadable = loadableBlocks(r.tokens.length, 16);
        const i = rng.int(loadable);
        const [original] = await store.get([hashes[i]!], { validate: null });
        assert.ok(original, 'the block is stored');
        const bad = await fuzzed(kind, r, i, original);
        await store.delete([hashes[i]!]);
        await store.put([{ hash: hashes[i]!, value: bad }]);
        const before = store.stats();
        const match = await connector.getMatchedTokens(r);
        const load = await connector.load(r, match);
        load.kv?.dispose();
        const after = store.stats();
        assert.equal(load.tokens, i * 16, `${kind} at block ${i}: the blocks before it load, it does not`);
        assert.equal(load.fallbacks, 1, `${kind}: one fallback`);
        assert.equal(after.corrupt - before.corrupt, 1, `${kind}: counted once`);
        const reason = (Object.keys(after.rejected) as (keyof typeof after.rejected)[]).find((k) => after.rejected[k] !== before.rejected[k]);
        // Wrong-place entries signed with the same secret pass the MAC and fail the identity check;
        // damaged ones fail the MAC (or, shorter than a header, the framing before it).
        const expected =
          kind === 'other-key' || kind === 'other-model' || kind === 'other-tenant'
            ? ['misplaced']
            : kind === 'unsigned' || kind === 'other-secret'
              ? ['unauthenticated']
              : readerHasSecret
                ? ['unauthenticated', 'corrupt', 'unsupported']
                : ['corrupt', 'unsupported'];
        assert.ok(expected.includes(reason!), `${kind}: refused as ${reason}, expected ${expected.join('/')}`);
        assert.deepEqual(await store.has([hashes[i]!]), [false], `${kind}: deleted`);
        await store.put([{ hash: hashes[i]!, value: original }]);
        trials++;
      }
      assert.ok(trials >= 30, `${trials} fuzzed entries`);

      async function fuzzed(kind: Kind, r: ServeRequest, i: number, original: Buffer): Promise<Buffer> {
        const blockOf = async (src: { store: MemoryStore; connector: PrefixCacheConnector }, tenant?: string, index = i): Promise<Buffer> => {
          const h = hashBlocks(r.tokens, src.connector.namespaceFor(tenant))[index]!;
          const [v] = await src.store.get([h], { validate: null });
          assert.ok(v, `source block of ${kind}`);
          return v;
        };
        switch (kind) {
          case 'other-key':
            return blockOf({ store, connector }, undefined, (i + 1 + rng.int(loadableBlocks(r.tokens.length, 16) - 1)) % loadableBlocks(r.tokens.length, 16));
          case 'other-model':
            return blockOf(sources.model);
          case 'other-tenant':
            return blockOf(sources.tenant, 'alice');
          case 'truncated':
            return original.subarray(0, rng.int(original.length));
          case 'extended':
            return Buffer.concat([original, Buffer.alloc(1 + rng.int(32), 7)]);
          case 'unsigned':
            return blockOf(sources.unsigned);
          case 'other-secret':
            return blockOf(sources.otherSecret);
        }
      }
    });
  }
});
