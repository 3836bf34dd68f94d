/** Exercises of notebook 04 (the Redis cache). */
import { serdeBlockCodec, type BlockCodec } from '../../engine/codec';
import { PrefixCacheConnector, type MatchResult, type PrefixMatchHandle } from '../../engine/connector';
import type { KVCacheArrays } from '../../model/kv-cache';
import type { LlamaModel } from '../../model/transformer';
import { initBackend } from '../../runtime/backend';
import type { SeededRng } from '../../runtime/rng';
import { MemoryStore } from '../../store/memory-store';
import { HEADER_BYTES } from '../../serde/header';
import type { Exercise } from './types';

/** What a stored block of a case is: loadable, or a reason the load must stop there. */
type BlockKind = 'ok' | 'missing' | 'corrupt' | 'short' | 'other shape' | 'misplaced';

/** The model fields the load step reads: its fingerprint and its KV shape. */
type ModelShape = Pick<LlamaModel, 'fingerprint'> & { config: Pick<LlamaModel['config'], 'numLayers' | 'numKvHeads' | 'headDim'> };

const kinds = new WeakMap<object, BlockKind[]>();

const hex = (rng: SeededRng): string => Array.from({ length: 64 }, () => '0123456789abcdef'[rng.int(16)]).join('');

function block(rng: SeededRng, fingerprint: string, startPosition: number, layers: number, heads: number, tokens: number, dim: number): KVCacheArrays {
  const layer = () => ({ keys: rng.fillUniform(new Float32Array(heads * tokens * dim), -2, 2), values: rng.fillUniform(new Float32Array(heads * tokens * dim), -2, 2) });
  return { fingerprint, startPosition, tokens, numKvHeads: heads, headDim: dim, layers: Array.from({ length: layers }, layer) };
}

/**
 * A seeded store holding a chain of `n` fp16 blocks, some of them missing, corrupt (a flipped payload
 * byte), of the wrong shape or another block's valid entry, as a lookup may have found them a moment
 * before the load.
 */
function loadCase(rng: SeededRng, first: boolean): unknown[] {
  const [layers, heads, dim, blockSize, n] = [1 + rng.int(3), 1 + rng.int(2), 4 * (1 + rng.int(2)), rng.pick([4, 8, 16]), 1 + rng.int(6)];
  const model: ModelShape = { fingerprint: hex(rng), config: { numLayers: layers, numKvHeads: heads, headDim: dim } };
  const codec = serdeBlockCodec({ dtype: 'fp16' });
  const store = new MemoryStore();
  const hashes = Array.from({ length: n }, () => hex(rng));
  const bad: BlockKind[] = ['missing', 'corrupt', 'short', 'other shape', 'misplaced'];
  const kindsOf = hashes.map((): BlockKind => (first || rng.nextFloat() < 0.65 ? 'ok' : rng.pick(bad)));
  const entries = hashes.flatMap((hash, i) => {
    const kind = kindsOf[i]!;
    if (kind === 'missing') return [];
    // A misplaced entry is valid and of the right shape, but names another block (another hash and position).
    const [name, at] = kind === 'misplaced' ? [hex(rng), (i + 1) * blockSize] : [hash, i * blockSize];
    const value = codec.encode(block(rng, model.fingerprint, at, layers, heads, kind === 'short' ? blockSize / 2 : blockSize, kind === 'other shape' ? dim * 2 : dim), name);
    if (kind === 'corrupt') value[HEADER_BYTES + rng.int(value.length - HEADER_BYTES)] ^= 0x5a;
    return [{ hash, value }];
  });
  void store.put(entries); // a MemoryStore stores synchronously: seeded before the case is used
  kinds.set(store, kindsOf);
  return [store, hashes, codec, model, blockSize];
}

/** The library's load step: the prefix connector's `load` on the same store and hashes. */
async function connectorLoad(...args: unknown[]): Promise<KVCacheArrays | null> {
  const [store, hashes, codec, model, blockSize] = args as [MemoryStore, string[], BlockCodec, ModelShape, number];
  await initBackend();
  // The connector's load reads only the model's fingerprint and KV shape.
  const connector = new PrefixCacheConnector(model as LlamaModel, store, codec, { blockSize });
  const match = { matchedTokens: hashes.length * blockSize, handle: { hashes } as unknown as PrefixMatchHandle, roundTrips: 1, fallbacks: 0 } satisfies MatchResult<PrefixMatchHandle>;
  const loaded = await connector.load({ id: 'exercise', tokens: [], maxNewTokens: 1 }, match);
  if (!loaded.kv) return null;
  const arrays = loaded.kv.toArrays();
  loaded.kv.dispose();
  return arrays;
}

function sameKV(got: unknown, expected: unknown): boolean {
  if (expected === null || got === null) return got === expected;
  const a = got as KVCacheArrays;
  const b = expected as KVCacheArrays;
  if (!a || a.tokens !== b.tokens || a.startPosition !== b.startPosition || a.numKvHeads !== b.numKvHeads || a.headDim !== b.headDim || a.layers?.length !== b.layers.length) return false;
  const eq = (x: Float32Array, y: Float32Array): boolean => x instanceof Float32Array && x.length === y.length && x.every((v, i) => v === y[i]);
  return b.layers.every((l, i) => eq(a.layers[i]!.keys, l.keys) && eq(a.layers[i]!.values, l.values));
}

function describeCase(args: unknown[]): string {
  const [store, , , model, blockSize] = args as [MemoryStore, string[], BlockCodec, ModelShape, number];
  const c = model.config;
  return `model KV ${c.numLayers}×[${c.numKvHeads}, ${blockSize}, ${c.headDim}] per block; blocks: ${(kinds.get(store) ?? []).join(', ')}`;
}

export const EXERCISES_04: readonly Exercise[] = [
  { id: '04.1', question: 'Which Redis maxmemory-policy makes writes fail once memory is full (so the cache stops storing)?', expected: () => 'noeviction', hint: 'It is the policy that evicts nothing; the health check warns about it.' },
  { id: '04.2', question: 'With the default key prefix, what is the Redis key of block hash "ab…" (use "ab") in namespace "demo"?', expected: () => 'kvlab:demo:ab', hint: 'Keys are <prefix>:<namespace>:<blockhash>; the default prefix is kvlab.' },
  {
    kind: 'code',
    id: '04.3',
    question: 'Write loadPrefix(store, hashes, codec, model, blockSize): the KV of the longest loadable prefix of the chain, joined, or null.',
    cases: (rng) => Array.from({ length: 12 }, (_, i) => loadCase(rng, i === 0)),
    reference: connectorLoad,
    same: sameKV,
    describe: describeCase,
    hint:
      'Get all the blocks in one call (store.get(hashes)). Walk them in chain order and stop at the first one that is missing, that ' +
      'codec.decode(value, { blockHash: hashes[i], startPosition: i * blockSize, fingerprint: model.fingerprint }) rejects (it throws ' +
      'on a bad checksum and on an entry that names another block), or whose shape is not the ' +
      "model's (layers, numKvHeads, headDim) with blockSize tokens: every later block depends on it. Join the good ones with " +
      'kv.joinArrays(parts); return null when the first block is already unusable.',
  },
];
