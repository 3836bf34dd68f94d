/**
 * Several OS processes write and read the same prefixes at the same time through one Redis.
 */
import { strict as assert } from 'node:assert';
import { fork } from 'node:child_process';
import * as path from 'node:path';
import type { Redis } from 'ioredis';
import { runWorkers, type WorkerConfig } from '../../lib/src/bench';
import { createNamespace, hashBlocks } from '../../lib/src/hashing';
import { serdeBlockCodec, sliceArrays, type ServeRequest } from '../../lib/src/engine';
import type { KVCacheArrays, LlamaModel } from '../../lib/src/model';
import { decodeKV, verifyKV } from '../../lib/src/serde';
import { RedisServer } from '../harness/redis';
import { rawClient, referenceOutputs, stream, tinyModel } from './helpers';

/** Largest |a − b| over two KV blocks. */
function maxDiff(a: KVCacheArrays, k: Float32Array[], v: Float32Array[]): number {
  let m = 0;
  a.layers.forEach((l, i) => {
    for (const [x, y] of [[l.keys, k[i]!], [l.values, v[i]!]] as const) {
      for (let j = 0; j < x.length; j++) m = Math.max(m, Math.abs(x[j]! - y[j]!));
    }
  });
  return m;
}

describe('reliability: concurrent writers and readers in several processes', function () {
  this.timeout(180_000);
  let model: LlamaModel;
  let server: RedisServer;
  let raw: Redis;

  before(async () => {
    model = await tinyModel(0);
    server = await RedisServer.start();
    raw = rawClient(server.port);
  });

  after(async () => {
    await raw?.quit();
    await server?.stop();
  });

  it('3 serving processes run the same prompts at once: identical outputs, every stored block decodes and holds the right KV, each block stored once', async () => {
    const workers = 3;
    const prompts = stream('agent', { requests: 8, seed: 99, prefix: 'conc' });
    // Request i·N + w is copy w of prompt i; runWorkers gives request j to worker j mod N, so all
    // workers serve the same prompt at the same time and race to write the same blocks.
    const requests: ServeRequest[] = prompts.flatMap((p) => Array.from({ length: workers }, (_, w) => ({ ...p, id: `${p.id}-w${w}` })));
    const reference = await referenceOutputs(model, requests);
    const config: WorkerConfig = {
      preset: 'tiny',
      seed: 0,
      dtype: 'fp32',
      strategy: 'prefix-redis',
      blockSize: 16,
      memoryBytes: 64 * 1024 * 1024,
      storeNamespace: 'conc',
      redisUrl: server.url,
    };
    const result = await runWorkers(config, requests, workers);
    assert.equal(result.records.length, requests.length);
    const wrong = result.records.filter((r) => r.output.join(',') !== reference.get(r.id));
    assert.deepEqual(wrong.map((r) => r.id), [], 'every process produced the no-cache output');

    // Every key in Redis is a complete, valid entry holding the KV of the block its hash names.
    const codec = serdeBlockCodec({ dtype: 'fp32' });
    const ns = createNamespace({ modelFingerprint: model.fingerprint, kvDtype: codec.dtype, kvFormatVersion: codec.formatVersion, blockSize: 16 });
    const expected = new Map<string, KVCacheArrays>();
    for (const p of prompts) {
      const { kv } = await model.prefill(p.tokens);
      const arrays = kv.toArrays();
      kv.dispose();
      hashBlocks(p.tokens, ns).forEach((h, b) => expected.set(`kvlab:conc:${h}`, sliceArrays(arrays, b * 16, (b + 1) * 16)));
    }
    const keys = await raw.keys('kvlab:conc:*');
    assert.ok(keys.length > 0);
    let storedBytes = 0;
    let worst = 0;
    for (const key of keys) {
      const value = (await raw.getBuffer(key))!;
      storedBytes += value.length;
      verifyKV(value); // throws CORRUPT_ENTRY on a torn or mixed value
      const d = decodeKV(value);
      const want = expected.get(key);
      assert.ok(want, `${key} is not the hash of any block of the prompts`);
      worst = Math.max(worst, maxDiff(want, d.k, d.v));
    }
    // A block computed with part of the prompt loaded from the cache differs from a full prefill
    // only by float rounding.
    assert.ok(worst < 1e-4, `largest difference from the reference KV: ${worst}`);
    // SET NX: the first writer wins and the others store nothing, so the bytes the workers report
    // as saved are exactly the bytes in Redis (no block written twice, none half-written).
    const saved = result.records.reduce((a, r) => a + r.bytesSaved, 0);
    assert.equal(saved, storedBytes, 'each block was stored by exactly one process');
    console.log(`      concurrency: ${workers} processes, ${requests.length} requests, ${keys.length} blocks, max |ΔKV| ${worst.toExponential(1)}`);
  });

  it('4 processes race to write different bytes under the same 400 keys: each key holds one writer’s complete value, and every process reads the same one', async () => {
    const writers = 4;
    const blocks = 400;
    const script = path.join(__dirname, 'fixtures', 'racing-writer.ts');
    type Report = { id: number; statuses: string[]; read: (string | null)[]; mine: string[]; error?: string; ready?: boolean };
    const children: ReturnType<typeof fork>[] = [];
    let ready = 0;
    const reports = await Promise.all(
      Array.from(
        { length: writers },
        (_, id) =>
          new Promise<Report>((resolve, reject) => {
            const child = fork(script, [server.url, String(id), String(blocks)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
            children.push(child);
            let report: Report | undefined;
            child.on('message', (m: Report) => {
              // A barrier: once every writer has loaded and connected, all start at once.
              if (m.ready) {
                if (++ready === writers) for (const c of children) c.send('go');
              } else report = m;
            });
            child.on('exit', (code) => (report && !report.error ? resolve(report) : reject(new Error(`writer ${id} exited ${code}: ${report?.error ?? 'no report'}`))));
          }),
      ),
    );
    const winners = new Array<number>(blocks).fill(-1);
    for (let b = 0; b < blocks; b++) {
      const stored = reports.filter((r) => r.statuses[b] === 'stored').map((r) => r.id);
      assert.equal(stored.length, 1, `block ${b}: stored by ${stored.length} writers`);
      winners[b] = stored[0]!;
      for (const r of reports) {
        assert.equal(r.read[b], reports[winners[b]!]!.mine[b], `block ${b}: writer ${r.id} read a value other than the winner's`);
        assert.ok(r.statuses[b] === 'stored' || r.statuses[b] === 'exists');
      }
    }
    // And what Redis holds is that value, byte for byte, a valid entry.
    const keys = await raw.keys('kvlab:race:*');
    assert.equal(keys.length, blocks);
    for (const key of keys) verifyKV((await raw.getBuffer(key))!);
    const perWriter = reports.map((r) => winners.filter((w) => w === r.id).length);
    console.log(`      race: blocks won per writer ${perWriter.join(' / ')}`);
    assert.ok(perWriter.filter((n) => n > 0).length >= 2, 'the writers really raced (more than one won some blocks)');
  });
});
