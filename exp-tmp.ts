import { RedisStore } from './lib/src/store/redis-store';
import { LocalRedisNode } from './lib/src/store/local-cluster';
import { plainSocketRead } from './lib/src/bench/plain-socket';
import { encodeKV, decodeKV, syntheticKV, type KVArrays } from './lib/src/serde';
(async () => {
  const server = await LocalRedisNode.start({ args: ['--maxmemory', '2gb'] });
  const shape = { layers: 32, kvHeads: 8, headDim: 128, tokens: 16 };
  const blob = encodeKV(syntheticKV(shape, { seed: 1 }), { dtype: 'fp16' });
  const n = shape.kvHeads * shape.tokens * shape.headDim;
  const into: KVArrays = { k: Array.from({ length: 32 }, () => new Float32Array(n)), v: Array.from({ length: 32 }, () => new Float32Array(n)) };
  const store = new RedisStore({ url: server.url, namespace: 'exp' });
  await store.ready();
  const hs = Array.from({ length: 125 }, (_, i) => i.toString(16).padStart(64, '0'));
  await store.put(hs.map((hash) => ({ hash, value: Buffer.from(blob) })));
  const keys = hs.map((h) => store.keyFor(h));
  const total = 125 * blob.length;
  const t = async (name: string, fn: () => Promise<unknown>) => {
    const ms: number[] = [];
    for (let i = 0; i < 7; i++) { const t0 = performance.now(); await fn(); ms.push(performance.now() - t0); }
    ms.sort((a, b) => a - b);
    console.log(name.padEnd(28), (total / ms[3]! / 1e6).toFixed(2), 'GB/s');
  };
  await store.stream(hs.slice(0, 2), () => undefined);
  for (let r = 0; r < 2; r++) {
    await t('plain socket w4', () => plainSocketRead('127.0.0.1', server.port, keys, 4));
    await t('stream, no decode', () => store.stream(hs, () => undefined));
    await t('stream + decode', () => store.stream(hs, (_i, v) => decodeKV(v, { into })));
    await t('decode only (125 blocks)', async () => { for (let i = 0; i < 125; i++) decodeKV(blob, { into }); });
  }
  await store.close(); await server.stop();
})();
