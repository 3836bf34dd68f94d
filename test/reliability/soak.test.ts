/**
 * A short soak: every fault kind on real servers while two engines serve a seeded stream. The long
 * run is `npm run soak` (results/soak.json, docs/soak.md).
 */
import { strict as assert } from 'node:assert';
import { FAULT_KINDS, formatSoakTable, renderSoakMarkdown, runSoak, type SoakResult } from '../../lib/src/bench/soak';

describe('reliability: fast soak (all fault kinds, real servers)', function () {
  this.timeout(180_000);
  let result: SoakResult;

  before(async () => {
    result = await runSoak({ seed: 11, durationMs: 40_000, faultGapMs: [300, 800], poolSize: 30, progress: false });
  });

  it('injects every kind of fault and serves through them with 0 wrong outputs', () => {
    const m = result.measurements;
    console.log(formatSoakTable(result).replace(/^/gm, '      '));
    assert.equal(m.totals.wrongOutputs, 0, 'no output differs from the no-cache output');
    for (const k of FAULT_KINDS) assert.ok(m.byFault[k].injected >= 1, `${k} was injected`);
    assert.ok(m.totals.requests > 100, `requests served: ${m.totals.requests}`);
    assert.ok(m.totals.fallbacks > 0, 'faults were felt (fallbacks counted)');
    assert.ok(m.totals.reuseRatio > 0.3, `the cache still helps through the faults (reuse ${m.totals.reuseRatio})`);
    assert.ok(m.totals.keysLost > 0);
  });

  it('never waits long on a broken store, and every key left at the end is valid or a known damaged one', () => {
    const m = result.measurements;
    // Three store operations per request, each under commandTimeout (300 ms) + transfer time,
    // plus ioredis' retries on a cluster that is failing over.
    assert.ok(m.totals.maxStoreMs < 3000, `max time on the store in one request: ${m.totals.maxStoreMs} ms`);
    assert.equal(m.finalScan.keys, m.finalScan.valid + m.finalScan.damaged);
    assert.ok(m.finalScan.damaged <= m.corruption.mutated + m.corruption.misplaced + m.corruption.forged);
    assert.ok(m.corruption.misplaced > 0 && m.corruption.forged > 0, 'valid entries were moved and forged');
    const seen = m.corruption.detectedByReason;
    assert.ok((seen.misplaced ?? 0) + (seen.unauthenticated ?? 0) > 0, `moved or forged entries were read and refused: ${JSON.stringify(seen)}`);
    assert.equal(m.corruption.stillDamagedAtEnd, m.finalScan.damaged);
  });

  it('renders the table and docs from the result', () => {
    const md = renderSoakMarkdown(result);
    assert.match(md, /\| redis-kill \| \d+ \|/);
    assert.match(md, new RegExp(`\\*\\*0 wrong outputs in ${result.measurements.totals.requests} requests\\.\\*\\*`));
    assert.ok(JSON.parse(JSON.stringify(result)).measurements.events.length >= FAULT_KINDS.length);
  });
});
