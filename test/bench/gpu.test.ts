/**
 * bench:gpu's arithmetic and bookkeeping, on the two backends every machine has (cpu as the backend
 * under test, wasm as the baseline) and a real redis-server. The GPU run itself happens on a GPU
 * machine (scripts/gpu/) and its output is committed in results/gpu.json.
 */
import { strict as assert } from 'node:assert';
import { runGpuBench, type GpuBenchResult } from '../../lib/src/bench/gpu';
import { formatGpuBench, gpuBreakEvenRows } from '../../lib/src/bench/gpu-report';
import { kvBytesPerToken } from '../../lib/src/model/config';
import { getPreset } from '../../lib/src/model/presets';
import { initBackend, backendReport } from '../../lib/src/runtime/backend';
import { RedisServer } from '../harness/redis';
import { expectCode } from '../model/helpers';

describe('bench:gpu on cpu against wasm (the code path; the GPU numbers come from the GPU run)', function () {
  this.timeout(120_000);
  let redis: RedisServer;
  let r: GpuBenchResult;
  let before0: string;

  before(async () => {
    before0 = (backendReport() ?? (await initBackend())).backend;
    redis = await RedisServer.start();
    r = await runGpuBench({ backend: 'cpu', baseline: 'wasm', presets: ['tiny'], baselinePresets: ['tiny'], promptLengths: [32, 96], repeats: 2, decodeSteps: 3, sharedTokens: 96, questionTokens: 8, requests: 3, redisUrl: redis.url, progressTarget: 'silent' });
  });
  after(async () => {
    await initBackend(before0 as 'wasm');
    await redis?.stop();
  });

  it('runs every preset on both backends, and the same weights give the same logits on both', () => {
    assert.deepEqual(r.runs.map((x) => `${x.preset}/${x.backend}`), ['tiny/cpu', 'tiny/wasm']);
    for (const run of r.runs) {
      assert.deepEqual(run.prefill.map((p) => p.tokens), [32, 96]);
      for (const p of run.prefill) {
        assert.equal(p.samplesMs.length, 2);
        assert.ok(p.medianMs > 0 && p.gflops > 0 && p.tokensPerS > 0, JSON.stringify(p));
      }
      assert.equal(run.decode.samplesMs.length, 3);
      assert.equal(run.decode.contextTokens, 96);
    }
    assert.equal(r.agreement.length, 2);
    // Different kernels (plain JS vs XNNPACK) sum in different orders: close, and not trivially equal.
    for (const a of r.agreement) assert.ok(a.maxAbsDiff <= 1e-4, `max |Δlogit| ${a.maxAbsDiff} at ${a.tokens} tokens`);
  });

  it('TTFT: the cached requests load the whole document from Redis and answer the same', () => {
    assert.equal(r.ttft.length, 1);
    const t = r.ttft[0]!;
    assert.equal(t.withoutCache.length, 3);
    assert.equal(t.withCache.length, 2, 'the first cached request stores the document and is not counted');
    for (const w of t.withCache) {
      assert.equal(w.reusedTokens, 96, 'the 96-token document is 6 whole blocks of 16');
      assert.ok(w.bytesLoaded > 0 && w.loadMs > 0);
    }
    assert.equal(t.sameOutput, true);
    assert.ok(t.loadGBps > 0);
  });

  it('break-even bandwidth is fp16 KV bytes per token × prefill tokens per second', () => {
    const perToken = kvBytesPerToken(getPreset('tiny'), 2);
    for (const b of r.breakEven) {
      assert.equal(b.kvBytesPerToken, perToken);
      const run = r.runs.find((x) => x.backend === b.backend)!;
      const p = run.prefill.find((x) => x.tokens === b.tokens)!;
      assert.equal(b.prefillTokensPerS, p.tokensPerS);
      assert.ok(Math.abs(b.breakEvenGBps - (perToken * p.tokensPerS) / 1e9) < 1e-4);
    }
    const rows = gpuBreakEvenRows(r);
    assert.deepEqual(rows.map((x) => x.backend), ['cpu', 'wasm'], 'the longest prompt, once per run');
    assert.match(formatGpuBench(r), /Break-even load bandwidth[\s\S]*tiny +cpu +96/);
  });

  it('bad options are INVALID_INPUT or CONFIG_ERROR before anything runs', async () => {
    await expectCode(() => runGpuBench({ promptLengths: [0] }), 'INVALID_INPUT', /promptLengths\[0\]/);
    await expectCode(() => runGpuBench({ requests: 1 }), 'INVALID_INPUT', /requests/);
    await expectCode(() => runGpuBench({ presets: ['huge' as 'tiny'] }), 'CONFIG_ERROR', /unknown model preset/);
  });
});
