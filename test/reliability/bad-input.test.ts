/**
 * Bad input to the public functions: each call fails with a typed error (a stable `code` and a
 * message that names the problem), and the store's contents are exactly what they were before.
 */
import { strict as assert } from 'node:assert';
import type { Redis } from 'ioredis';
import { createStore, type KVStore } from '../../lib/src/store';
import { PrefixCacheConnector, ServingEngine, serdeBlockCodec, type ServeRequest } from '../../lib/src/engine';
import { createNamespace, hashBlocks, longestPrefix } from '../../lib/src/hashing';
import { LlamaModel, type LlamaModel as Model } from '../../lib/src/model';
import { decodeKV, encodeKV, encodedSize, xxh64, type KVDtype } from '../../lib/src/serde';
import { progress } from '../../lib/src/runtime';
import { runSoak } from '../../lib/src/bench/soak';
import type { ErrorDetails } from '../../lib/src/runtime/errors';
import { RedisServer } from '../harness/redis';
import { rawClient, snapshot, stream, tinyModel } from './helpers';

type Code = 'INVALID_INPUT' | 'MODEL_MISMATCH' | 'CORRUPT_ENTRY' | 'UNSUPPORTED_FORMAT' | 'STORE_UNAVAILABLE' | 'VALUE_TOO_LARGE' | 'CONFIG_ERROR';

describe('reliability: bad input gives typed errors and leaves the store untouched', function () {
  this.timeout(120_000);
  let model: Model;
  let server: RedisServer;
  let raw: Redis;
  let store: KVStore;
  let engine: ServingEngine;
  let prompt: ServeRequest;
  const codec = serdeBlockCodec({ dtype: 'fp32' });

  before(async () => {
    model = await tinyModel(0);
    server = await RedisServer.start();
    raw = rawClient(server.port);
    store = await createStore(server.url, { namespace: 'bad', maxValueBytes: 64 * 1024 });
    engine = new ServingEngine(model, new PrefixCacheConnector(model, store, codec));
    prompt = stream('chat', { requests: 2, seed: 3 })[1]!;
    await engine.serve(prompt); // something in the store to protect
    assert.ok(Number(await server.cli('DBSIZE')) > 0);
  });

  after(async () => {
    await raw?.quit();
    await store?.close();
    await server?.stop();
  });

  /**
   * `fn` must reject with `code`, a message matching `message` and, when given, `details` among its
   * structured details (the fields named must be equal); Redis must not change.
   */
  async function rejects(what: string, fn: () => unknown, code: Code, message: RegExp, details?: ErrorDetails): Promise<void> {
    const before = await snapshot(raw);
    let error: unknown;
    try {
      await fn();
    } catch (err) {
      error = err;
    }
    assert.ok(error instanceof Error, `${what}: expected a ${code} error, got ${error === undefined ? 'no error' : String(error)}`);
    assert.equal((error as { code?: string }).code, code, `${what}: code of "${error.message}"`);
    assert.match(error.message, message, `${what}: message`);
    assert.ok(error.message.length < 400, `${what}: a short message`);
    if (details) {
      const got = (error as { details?: ErrorDetails }).details ?? {};
      for (const [k, v] of Object.entries(details)) assert.deepEqual(got[k as keyof ErrorDetails], v, `${what}: details.${k}`);
    }
    const after = await snapshot(raw);
    assert.deepEqual([...after], [...before], `${what}: the store changed`);
  }

  it('serving requests: wrong types, NaN, negative or out-of-range token ids, bad lengths', async () => {
    const t = prompt.tokens;
    const cases: [string, unknown, RegExp][] = [
      ['no request', undefined, /request\.tokens: expected a non-empty array of prompt token ids, received undefined/],
      ['tokens is a string', { id: 'x', tokens: 'hello', maxNewTokens: 2 }, /array of prompt token ids, received "hello"/],
      ['empty prompt', { id: 'x', tokens: [], maxNewTokens: 2 }, /non-empty/],
      ['NaN token', { id: 'x', tokens: [...t.slice(0, 40), NaN], maxNewTokens: 2 }, /NaN/],
      ['fractional token', { id: 'x', tokens: [...t.slice(0, 40), 1.5], maxNewTokens: 2 }, /integer token id/],
      ['negative token', { id: 'x', tokens: [...t.slice(0, 40), -1], maxNewTokens: 2 }, /tokens\[40\]: expected a token id inside the vocabulary \[0, 50257\), received -1/],
      ['token ≥ vocabulary', { id: 'x', tokens: [...t.slice(0, 40), 50257], maxNewTokens: 2 }, /inside the vocabulary \[0, 50257\), received 50257/],
      ['token 2^32', { id: 'x', tokens: [...t.slice(0, 40), 2 ** 32], maxNewTokens: 2 }, /inside the vocabulary/],
      ['token as string', { id: 'x', tokens: [...t.slice(0, 40), '7'], maxNewTokens: 2 }, /integer token id/],
      ['maxNewTokens 0', { id: 'x', tokens: t, maxNewTokens: 0 }, /maxNewTokens: expected a positive integer, received 0/],
      ['maxNewTokens -3', { id: 'x', tokens: t, maxNewTokens: -3 }, /maxNewTokens/],
      ['maxNewTokens NaN', { id: 'x', tokens: t, maxNewTokens: NaN }, /maxNewTokens/],
      ['maxNewTokens Infinity', { id: 'x', tokens: t, maxNewTokens: Infinity }, /maxNewTokens/],
      ['prompt longer than the context', { id: 'x', tokens: Array.from({ length: 2100 }, (_, i) => i), maxNewTokens: 1 }, /maxContext \(2048\)/],
    ];
    for (const [what, request, message] of cases) await rejects(what, () => engine.serve(request as ServeRequest), 'INVALID_INPUT', message);
    await rejects('token ≥ vocabulary (details)', () => engine.serve({ id: 'x', tokens: [...t.slice(0, 40), 50257], maxNewTokens: 2 }), 'INVALID_INPUT', /vocabulary/, {
      path: 'request.tokens[40]',
      expected: 'a token id inside the vocabulary [0, 50257)',
      received: '50257',
    });
  });

  it('serving requests: a prompt + maxNewTokens beyond the context is refused up front, before anything is stored', async () => {
    // 40 new tokens of prompt (2 full blocks not yet cached) + 2048 to generate > maxContext 2048.
    const fresh = { id: 'too-long', tokens: Array.from({ length: 40 }, (_, i) => 1000 + i), maxNewTokens: 2048 };
    const t0 = performance.now();
    await rejects('prompt + maxNewTokens > maxContext', () => engine.serve(fresh), 'INVALID_INPUT', /maxContext/);
    assert.ok(performance.now() - t0 < 2000, `refused after ${(performance.now() - t0).toFixed(0)} ms of work`);
  });

  it('encoding tensors: NaN/±Infinity for quantized encodings, negative or huge sizes, wrong types, bad options', async () => {
    // A valid 1-layer block with one value set to x; `shape` overrides the declared shape only.
    const block = (x: number, shape: Partial<{ layers: number; kvHeads: number; headDim: number; tokens: number }> = {}) => {
      const k = new Float32Array(2 * 8 * 4).fill(0.5);
      k[3] = x;
      return { layers: 1, kvHeads: 2, headDim: 8, tokens: 4, ...shape, k: [k], v: [new Float32Array(2 * 8 * 4)] };
    };
    for (const dtype of ['int8', 'kivi4', 'kivi2'] as KVDtype[]) {
      for (const x of [NaN, Infinity, -Infinity]) {
        // kivi names the value in the block; int8's kernel, the element of the tensor it was given.
        const details = dtype === 'int8' ? undefined : { path: 'block.k[0][3]', received: String(x) };
        await rejects(`${dtype} with ${x}`, () => encodeKV(block(x), { dtype }), 'INVALID_INPUT', new RegExp(`${dtype} quantization.*${String(x).replace('+', '')}`), details);
      }
    }
    await rejects('negative layers', () => encodeKV(block(1, { layers: -1 })), 'INVALID_INPUT', /block\.layers: expected an integer in \[1, 2\^32\), received -1/, {
      path: 'block.layers',
      expected: 'an integer in [1, 2^32)',
      received: '-1',
    });
    await rejects('zero tokens', () => encodeKV(block(1, { tokens: 0 })), 'INVALID_INPUT', /tokens: expected an integer/, { path: 'block.tokens', received: '0' });
    await rejects('2^32 tokens', () => encodeKV(block(1, { tokens: 2 ** 32 })), 'INVALID_INPUT', /tokens: expected an integer in \[1, 2\^32\)/);
    await rejects('fractional headDim', () => encodeKV(block(1, { headDim: 2.5 })), 'INVALID_INPUT', /headDim/);
    await rejects('size of a huge shape', () => encodedSize({ layers: 2 ** 33, kvHeads: 1, headDim: 1, tokens: 1 }), 'INVALID_INPUT', /layers/);
    await rejects('k as a plain array', () => encodeKV({ ...block(1), k: [[1, 2, 3]] as unknown as Float32Array[] }), 'INVALID_INPUT', /k\[0\]: expected a Float32Array/, {
      path: 'block.k[0]',
      received: 'an array of length 3',
    });
    await rejects('k of the wrong length', () => encodeKV({ ...block(1), k: [new Float32Array(5)] }), 'INVALID_INPUT', /received 5 values/, {
      path: 'block.k[0]',
      expected: '64 values (shape [2, 4, 8])',
      received: '5 values',
    });
    await rejects('unknown dtype', () => encodeKV(block(1), { dtype: 'fp8' as KVDtype }), 'INVALID_INPUT', /options\.dtype: expected one of fp32, fp16, .*received "fp8"/, {
      path: 'options.dtype',
      received: '"fp8"',
    });
    await rejects('groupSize -1', () => encodeKV(block(1), { dtype: 'int8', groupSize: -1 }), 'INVALID_INPUT', /options\.groupSize: expected an integer in \[1, 2\^32\), received -1/);
    await rejects('level 11', () => encodeKV(block(1), { codec: 'zlib', level: 11 }), 'INVALID_INPUT', /options\.level: expected an integer in \[0, 9\], received 11/, { path: 'options.level' });
    await rejects('decode a string', () => decodeKV('\x89KVB' as unknown as Uint8Array), 'INVALID_INPUT', /blob: expected a KV entry as bytes .*getBuffer/, { path: 'blob' });
    await rejects('decode garbage', () => decodeKV(Buffer.from('definitely not a KV block')), 'CORRUPT_ENTRY', /header\.magic: expected 89 4b 56 42/);
    // A header that claims an enormous block (consistent header checksum): refused before allocating.
    const huge = encodeKV(block(1));
    huge.writeUInt32LE(2 ** 31, 20);
    huge.writeBigUInt64LE(xxh64(huge, 0n, 0, 152), 152);
    await rejects('header claiming 2^31 tokens', () => decodeKV(huge), 'CORRUPT_ENTRY', /header\.shape: expected a shape of at most 1073741824 decoded bytes/, {
      path: 'header.shape',
      limit: 2 ** 30,
      actual: 2 * 1 * 2 * 2 ** 31 * 8 * 4,
    });
  });

  it('store calls: malformed hashes and values, oversized values (nothing of the batch written)', async () => {
    const [h1, h2] = hashBlocks(prompt.tokens, createNamespace({ modelFingerprint: model.fingerprint, kvDtype: 'test', kvFormatVersion: 1 })).map((h) => h.replace(/^./, 'f'));
    const ok = Buffer.alloc(100, 1);
    await rejects('put: value above maxValueBytes', () => store.put([{ hash: h1!, value: ok }, { hash: h2!, value: Buffer.alloc(64 * 1024 + 1) }]), 'VALUE_TOO_LARGE', /expected at most 65536 bytes per block \(store 'redis'\), received 65537 bytes/, {
      path: 'entries[1].value',
      limit: 65536,
      actual: 65537,
      hint: 'Use smaller blocks (fewer tokens per block) or raise maxValueBytes.',
    });
    await rejects('put: value is a string', () => store.put([{ hash: h1!, value: 'text' as unknown as Buffer }]), 'INVALID_INPUT', /value: expected a Buffer or Uint8Array/, {
      path: 'entries[0].value',
      expected: 'a Buffer or Uint8Array',
      received: '"text"',
    });
    await rejects('put: value is a plain array', () => store.put([{ hash: h1!, value: [1, 2] as unknown as Buffer }]), 'INVALID_INPUT', /expected a Buffer/, { received: 'an array of length 2' });
    await rejects('put: hash in upper case', () => store.put([{ hash: h1!.toUpperCase(), value: ok }]), 'INVALID_INPUT', /expected a block hash/, { path: 'entries[0].hash' });
    await rejects('put: hash with a key separator', () => store.put([{ hash: `${h1!.slice(0, 63)}:`, value: ok }]), 'INVALID_INPUT', /expected a block hash/);
    await rejects('put: not an array', () => store.put({ hash: h1!, value: ok } as never), 'INVALID_INPUT', /entries: expected an array/, { path: 'entries', received: 'object' });
    await rejects('put: null entry', () => store.put([null as never]), 'INVALID_INPUT', /entries\[0\]: expected \{ hash, value \}, received null/);
    await rejects('get: a number', () => store.get([42 as unknown as string]), 'INVALID_INPUT', /hashes\[0\]: expected a block hash/, { path: 'hashes[0]', received: '42' });
    await rejects('has: not an array', () => store.has('abc' as never), 'INVALID_INPUT', /expected an array of block hashes/, { path: 'hashes', received: '"abc"' });
    await rejects('delete: wildcard', () => store.delete(['*']), 'INVALID_INPUT', /expected a block hash/, { path: 'hashes[0]', received: '"*"' });
    await rejects('lookup: block size 0', () => longestPrefix(store, [h1!], { blockSize: 0 }), 'INVALID_INPUT', /block/i, { path: 'options.blockSize', received: '0' });
    await rejects('hash: token NaN', () => hashBlocks([1, NaN, 3], createNamespace({ modelFingerprint: model.fingerprint, kvDtype: 'fp32', kvFormatVersion: 1, blockSize: 2 })), 'INVALID_INPUT', /NaN/, {
      path: 'tokens[1]',
      received: 'NaN',
    });
    await rejects('namespace: empty salt', () => createNamespace({ modelFingerprint: model.fingerprint, kvDtype: 'fp32', kvFormatVersion: 1, salt: '' }), 'INVALID_INPUT', /salt: expected a non-empty string/, {
      path: 'spec.salt',
      received: '""',
    });
    await rejects('namespace: dtype in capitals', () => createNamespace({ modelFingerprint: model.fingerprint, kvDtype: 'FP16', kvFormatVersion: 1 }), 'INVALID_INPUT', /kvDtype: expected a lowercase name/, { path: 'spec.kvDtype' });
  });

  it('store configuration: malformed URLs and options (passwords never echoed)', async () => {
    const pw = 'Sup3r-s3cret-pw';
    const urls: [string, RegExp][] = [
      [`http://user:${pw}@127.0.0.1:6379`, /unknown scheme/],
      [`redis://user:${pw}@127.0.0.1:99999`, /invalid port "99999"/],
      [`redis://user:${pw}@127.0.0.1:abc`, /invalid port "abc"/],
      [`redis://user:${pw}@127.0.0.1:6379/db7`, /database number/],
      [`redis://127.0.0.1:6379/0?password=${pw}`, /unknown parameter "password"/],
      [`redis://u:${pw}%ZZ@127.0.0.1:6379`, /received invalid percent-encoding/],
      [`redis://127.0.0.1:6379?ttl=-5`, /url\.query\.ttl: expected a non-negative integer, received "-5"/],
      [`redis://127.0.0.1:6379?maxValueBytes=lots`, /url\.query\.maxValueBytes: expected a byte size/],
      [`redis+cluster://127.0.0.1:7000/3`, /only has database 0/],
      ['', /empty/],
      ['   ', /empty/],
    ];
    for (const [url, message] of urls) {
      let msg = '';
      await rejects(`URL ${url}`, () => createStore(url).catch((e: Error) => ((msg = e.message), Promise.reject(e))), 'CONFIG_ERROR', message);
      assert.ok(!msg.includes(pw), `the password appears in "${msg}"`);
    }
    await rejects('URL not a string', () => createStore(42 as never), 'INVALID_INPUT', /received 42/, { path: 'target', received: '42' });
    await rejects('commandTimeout -1', () => createStore(server.url, { commandTimeout: -1 }), 'INVALID_INPUT', /commandTimeout: expected an integer ≥ 1, received -1/);
    await rejects('commandTimeout NaN', () => createStore(server.url, { commandTimeout: NaN }), 'INVALID_INPUT', /commandTimeout.*NaN/);
    await rejects('maxValueBytes 1 GiB', () => createStore(server.url, { maxValueBytes: 2 ** 30 }), 'INVALID_INPUT', /maxValueBytes must be at most/);
    await rejects('namespace with a colon', () => createStore(server.url, { namespace: 'a:b' }), 'INVALID_INPUT', /namespace: expected 1–64 characters/, { received: '"a:b"' });
    await rejects('unknown store kind', () => createStore({ kind: 'mongo' } as never), 'INVALID_INPUT', /unknown store kind "mongo"/, { path: 'config.kind' });
    await rejects('unreachable with requireReachable', () => createStore(`redis://u:${pw}@127.0.0.1:1`, { requireReachable: true, connectTimeout: 300 }), 'STORE_UNAVAILABLE', /cannot reach the store at redis:\/\/\*\*\*@127\.0\.0\.1:1/, {
      path: 'url',
      received: 'no connection to redis://***@127.0.0.1:1',
      limit: 300,
    });
  });

  it('a prefix connector with an invalid block size is refused when it is built (not turned into a silent 0 % hit rate)', async () => {
    for (const blockSize of [0, -16, 1.5, NaN, 2 ** 40]) {
      await rejects(`connector blockSize ${blockSize}`, () => new PrefixCacheConnector(model, store, codec, { blockSize }), 'INVALID_INPUT', /block ?size/i);
    }
  });

  it('model and run configuration: presets, seeds, progress totals, soak options', async () => {
    await rejects('unknown preset', () => LlamaModel.create('huge' as never), 'CONFIG_ERROR', /unknown model preset "huge"/, { path: 'name', received: '"huge"' });
    await rejects('negative seed', () => LlamaModel.create('tiny', { seed: -1 }), 'INVALID_INPUT', /seed: expected an integer in \[0, 2\^32\), received -1/, { path: 'seed', received: '-1' });
    await rejects('progress NaN', () => progress(NaN), 'INVALID_INPUT', /total: expected a finite number/, { path: 'total', received: 'NaN' });
    await rejects('soak duration -1', () => runSoak({ durationMs: -1 }), 'INVALID_INPUT', /durationMs: expected a positive number, received -1/, { path: 'options.durationMs', received: '-1' });
    await rejects('soak fault kind', () => runSoak({ faults: ['meteor' as never] }), 'INVALID_INPUT', /unknown fault kind "meteor"/, { path: 'options.faults[0]' });
  });
});
