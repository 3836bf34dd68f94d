/**
 * Disaster recovery, measured on real redis-server processes: what survives a SIGKILL with no
 * persistence, with an RDB snapshot (fresh or stale) and with the AOF, and what AOF costs writes.
 */
import { strict as assert } from 'node:assert';
import { requestsToWarm, runRestartBench, type RestartBenchResult } from '../../lib/src/bench/restart';
import { loadSecondsFromLog } from '../../lib/src/bench/persistence';
import { AOF_MODES } from '../../lib/src/bench/aof-cost';

describe('bench: warm restart of a Redis KV cache', function () {
  this.timeout(120_000);
  let r: RestartBenchResult;

  before(async () => {
    r = await runRestartBench({
      preset: 'tiny',
      seed: 0,
      dtype: 'fp16',
      blockSize: 16,
      workload: 'agent',
      workloadOptions: { requests: 16, sessions: 3, sharedTokens: 128, turnTokens: 32, maxNewTokens: 1 },
      fillRequests: 8,
      windowRequests: 3,
      scenarios: ['no-restart', 'no-persistence', 'rdb', 'rdb-stale', 'aof'],
      aofWrite: { bytesPerPass: 2 ** 20, rounds: 1 },
      loadTime: { totalBytes: 8 * 2 ** 20 },
      showProgress: false,
    });
  });

  const of = (s: string) => r.scenarios.find((x) => x.scenario === s)!;

  it('without persistence the server comes back empty and the first requests recompute', () => {
    const s = of('no-persistence');
    assert.ok(s.keysBefore > 0);
    assert.equal(s.keysAfter, 0);
    assert.equal(s.loadSeconds, null);
    assert.ok(s.requestsToWarm! > 0, 'some requests reuse less than without the restart');
    assert.ok(s.hitRateFirstAfter < of('no-restart').hitRateFirstAfter);
    assert.ok(s.extraComputedTokens! > 0);
    assert.equal(of('no-restart').extraComputedTokens, 0);
  });

  it('a fresh RDB snapshot or the AOF bring every key back: the stream continues as if nothing happened', () => {
    for (const name of ['rdb', 'aof']) {
      const s = of(name);
      assert.equal(s.keysAfter, s.keysBefore, name);
      assert.notEqual(s.loadSeconds, null, `${name}: Redis logged its load time`);
      assert.equal(s.requestsToWarm, 0, name);
      assert.equal(s.extraComputedTokens, 0, name);
      assert.equal(s.hitRateAfter, of('no-restart').hitRateAfter, name);
    }
    assert.ok(of('rdb').rdbBytes! > 0 && of('rdb').snapshotMs! > 0);
    assert.ok(of('aof').aofBytes! > 0);
  });

  it('a stale snapshot loses what was written after it', () => {
    const s = of('rdb-stale');
    assert.ok(s.keysAfter > 0 && s.keysAfter < s.keysBefore, `${s.keysAfter} of ${s.keysBefore} keys`);
    assert.ok(s.extraComputedTokens! > 0 && s.extraComputedTokens! < of('no-persistence').extraComputedTokens!, 'less to recompute than with nothing');
  });

  it('times a crash and restart with more data, from RDB and from the AOF: every key comes back', () => {
    assert.deepEqual(r.loadTime!.map((x) => x.mode), ['rdb', 'aof']);
    for (const x of r.loadTime!) {
      assert.equal(x.keys, 3, '8 MiB holds three blocks of 2 MiB + a 160-byte header');
      assert.equal(x.keysAfter, x.keys, x.mode);
      assert.ok(x.fileBytes >= x.dataBytes, `${x.mode}: the file holds every value`);
      assert.notEqual(x.loadSeconds, null);
    }
  });

  it('every output equals the no-restart run, whatever survived', () => {
    for (const s of r.scenarios) assert.equal(s.outputMismatches, 0, s.scenario);
  });

  it('measures SET throughput for every AOF mode at both value sizes, relative to appendonly no', () => {
    const rows = r.aofWrite!.rows;
    assert.equal(rows.length, AOF_MODES.length * 2);
    for (const row of rows.filter((x) => x.mode === 'appendonly no')) assert.equal(row.ratioToNoAof, 1);
    for (const row of rows) assert.ok(row.gbps > 0 && row.setsPerS > 0);
    assert.equal(rows[3]!.valueBytes, 16 * 131_072 + 160, 'a 16-token fp16 block of Llama-3-8B');
  });
});

describe('restart bench helpers', () => {
  it('reads the load time Redis logged (RDB and AOF), the last one when it restarted twice', () => {
    const log = [
      '1:M 06 Dec 2026 23:05:03.340 * Done loading RDB, keys loaded: 10, keys expired: 0.',
      '1:M 06 Dec 2026 23:05:03.340 * DB loaded from disk: 0.012 seconds',
      '2:M 06 Dec 2026 23:06:00.000 * DB loaded from append only file: 0.250 seconds',
    ].join('\n');
    assert.equal(loadSecondsFromLog(log), 0.25);
    assert.equal(loadSecondsFromLog('* Ready to accept connections'), null);
  });

  it('requests to warm: the stretch after which every request reuses as much as the reference', () => {
    const ref = [10, 20, 30, 40].map((reusedTokens) => ({ reusedTokens }));
    assert.equal(requestsToWarm(ref, ref), 0);
    assert.equal(requestsToWarm([0, 20, 30, 40].map((reusedTokens) => ({ reusedTokens })), ref), 1);
    assert.equal(requestsToWarm([0, 20, 0, 40].map((reusedTokens) => ({ reusedTokens })), ref), 3);
    assert.equal(requestsToWarm([0, 20, 30, 0].map((reusedTokens) => ({ reusedTokens })), ref), null, 'never matched within the stream');
    assert.equal(requestsToWarm([{ reusedTokens: 1 }], ref), null, 'streams of different lengths cannot be compared');
  });
});
