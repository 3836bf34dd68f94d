import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultBenchmarkOptions, runBenchmark, oracleReuse, makeWorkload, Tokenizer, readResults, writeResults } from '../../lib/src';
import { RedisServer } from '../harness/redis';

describe('benchmark suite (real model, real Redis, worker processes)', function () {
  this.timeout(300_000);
  let server: RedisServer;
  before(async () => {
    server = await RedisServer.start();
  });
  after(async () => server?.stop());

  it('workloads are seeded: same options, same tokens', () => {
    const tok = new Tokenizer();
    const a = makeWorkload('agent', (t) => tok.encode(t), { requests: 6, sharedTokens: 128 });
    const b = makeWorkload('agent', (t) => tok.encode(t), { requests: 6, sharedTokens: 128 });
    assert.deepEqual(a, b);
    assert.throws(() => makeWorkload('agent', (t) => tok.encode(t), { requests: 0 }), { code: 'INVALID_INPUT' });
  });

  it('the oracle counts only full shared blocks and never the last token', () => {
    const reuse = oracleReuse([
      { id: '1', tokens: Array.from({ length: 40 }, (_, i) => i), maxNewTokens: 1 },
      { id: '2', tokens: Array.from({ length: 40 }, (_, i) => i), maxNewTokens: 1 },
      { id: '3', tokens: Array.from({ length: 33 }, (_, i) => i), maxNewTokens: 1 },
    ], 'a'.repeat(64), 16);
    assert.deepEqual(reuse, [0, 32, 32]);
  });

  it('prefix strategies reach the oracle on one worker, outputs never change, and a shared Redis beats per-worker memory', async () => {
    const o = defaultBenchmarkOptions();
    const results = await runBenchmark({
      ...o,
      preset: 'tiny',
      workloads: ['agent', 'none'],
      strategies: ['no-cache', 'exact-prompt', 'prefix-memory', 'prefix-redis'],
      workers: 2,
      workload: { ...o.workload, requests: 10, sharedTokens: 192, maxNewTokens: 2 },
      redisUrl: server.url,
    });
    const agent = results.workloads.find((w) => w.workload === 'agent')!;
    const by = (s: string) => agent.summaries.find((x) => x.strategy === s)!;
    assert.ok(agent.oracleTokens > 0);
    assert.equal(by('prefix-memory').reusedTokens, agent.oracleTokens);
    assert.equal(by('prefix-redis').reusedTokens, agent.oracleTokens);
    assert.equal(by('exact-prompt').reusedTokens, 0, 'agent prompts grow: no prompt repeats exactly');
    for (const w of results.workloads) for (const s of w.summaries) {
      assert.equal(s.outputMismatches, 0, `${w.workload}/${s.strategy} changed an output`);
      assert.equal(s.fallbacks, 0);
    }
    const none = results.workloads.find((w) => w.workload === 'none')!;
    assert.equal(none.oracleTokens, 0);
    for (const s of none.summaries) assert.equal(s.reuseVsOracle, null, `${s.strategy}: 0/0 reuse is no ratio`);
    assert.equal(by('prefix-redis').reuseVsOracle, 1);
    const [mem, redis] = results.multiWorker[0]!.summaries;
    assert.equal(mem!.workers, 2);
    assert.ok(redis!.reusedTokens >= mem!.reusedTokens, `shared Redis ${redis!.reusedTokens} ≥ per-worker memory ${mem!.reusedTokens}`);
    assert.ok(mem!.reusedTokens < agent.oracleTokens, 'per-worker memory caches fragment');
  });

  it('reading a results file written before the 0/0 fix gives null, not 1, where the oracle reuses nothing', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kvlab-bench-')), 'bench.json');
    const summary = { strategy: 'no-cache', workers: 1, reusedTokens: 0, oracleTokens: 0, reuseVsOracle: 1 };
    const old = { kind: 'kvlab-benchmark', workloads: [{ workload: 'none', summaries: [summary, { ...summary, strategy: 'prefix-redis', reusedTokens: 0, oracleTokens: 64, reuseVsOracle: 0 }] }], multiWorker: [] };
    fs.writeFileSync(file, JSON.stringify(old));
    const r = readResults(file);
    assert.equal(r.workloads[0]!.summaries[0]!.reuseVsOracle, null);
    assert.equal(r.workloads[0]!.summaries[1]!.reuseVsOracle, 0);
    writeResults(r, file);
    assert.equal(JSON.parse(fs.readFileSync(file, 'utf8')).workloads[0].summaries[0].reuseVsOracle, null, 'null survives JSON');
    fs.rmSync(path.dirname(file), { recursive: true });
  });
});
