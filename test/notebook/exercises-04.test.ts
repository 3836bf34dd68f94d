import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { joinArrays, type BlockCodec } from '../../lib/src/engine/codec';
import type { KVCacheArrays } from '../../lib/src/model/kv-cache';
import type { LlamaModel } from '../../lib/src/model/transformer';
import { checkCodeAnswer } from '../../lib/src/notebook/exercises';
import type { KVStore } from '../../lib/src/store/types';

/** The reference solution of solutions/04.json, written as a function. */
async function loadPrefix(store: KVStore, hashes: string[], codec: BlockCodec, model: LlamaModel, blockSize: number): Promise<KVCacheArrays | null> {
  const values = await store.get(hashes);
  const parts: KVCacheArrays[] = [];
  for (let i = 0; i < values.length; i++) {
    if (values[i] === undefined) break;
    let part: KVCacheArrays;
    try {
      part = codec.decode(values[i]!, { blockHash: hashes[i]!, startPosition: i * blockSize, fingerprint: model.fingerprint });
    } catch {
      break;
    }
    const c = model.config;
    if (part.layers.length !== c.numLayers || part.numKvHeads !== c.numKvHeads || part.headDim !== c.headDim || part.tokens !== blockSize) break;
    parts.push(part);
  }
  return parts.length > 0 ? joinArrays(parts) : null;
}

describe('exercise 04.3 (the load step of the prefix connector)', function () {
  this.timeout(30_000);

  it('the reference solution matches the connector on every seeded case', async () => {
    const r = await checkCodeAnswer('04.3', loadPrefix);
    assert.equal(r.ok, true, r.message);
    assert.match(r.message, /all 12 inputs/);
  });

  it('the solution in solutions/04.json is this function body', () => {
    const solutions = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'solutions', '04.json'), 'utf8')) as Record<string, string>;
    const body = solutions['04.3']!;
    for (const piece of ['store.get(hashes)', 'codec.decode(values[i], { blockHash: hashes[i], startPosition: i * blockSize, fingerprint: model.fingerprint })', 'part.tokens !== blockSize', 'kv.joinArrays(parts)']) assert.ok(body.includes(piece), piece);
  });

  it('a load that skips holes instead of stopping fails with a counterexample', async () => {
    const skipsHoles = async (store: KVStore, hashes: string[], codec: BlockCodec, model: LlamaModel, blockSize: number): Promise<KVCacheArrays | null> => {
      const parts = (await store.get(hashes)).flatMap((v, i) => {
        if (v === undefined) return [];
        try {
          return [codec.decode(v, { blockHash: hashes[i]!, startPosition: i * blockSize, fingerprint: model.fingerprint })];
        } catch {
          return [];
        }
      });
      return parts.length ? joinArrays(parts) : null;
    };
    const r = await checkCodeAnswer('04.3', skipsHoles);
    assert.equal(r.ok, false);
    assert.equal(r.answered, true);
    assert.match(r.message, /blocks: .*(missing|corrupt|short|other shape)/);
    assert.match(r.message, /Hint: Get all the blocks/);
  });

  it('a load that checks only the checksum, not the shape, fails too', async () => {
    const noShape = async (store: KVStore, hashes: string[], codec: BlockCodec, model: LlamaModel, blockSize: number): Promise<KVCacheArrays | null> => {
      const parts: KVCacheArrays[] = [];
      for (const [i, v] of (await store.get(hashes)).entries()) {
        if (v === undefined) break;
        try {
          parts.push(codec.decode(v, { blockHash: hashes[i]!, startPosition: i * blockSize, fingerprint: model.fingerprint }));
        } catch {
          break;
        }
      }
      try {
        return parts.length ? joinArrays(parts) : null;
      } catch {
        return null;
      }
    };
    assert.equal((await checkCodeAnswer('04.3', noShape)).ok, false);
  });

  it('an unanswered exercise (returns undefined) is "not answered", with the question', async () => {
    const r = await checkCodeAnswer('04.3', async () => undefined);
    assert.equal(r.answered, false);
    assert.equal(r.ok, false);
    assert.match(r.message, /write the function/);
    assert.doesNotMatch(r.message, /Hint/);
  });
});
