import { strict as assert } from 'node:assert';
import { projectCost } from '../../lib/src/bench/cost';
import { breakEvenTokensPerMonth, paybackMonths, projectRoi } from '../../lib/src/bench/roi';

describe('ROI in months', () => {
  const base = {
    model: 'llama3-70b',
    promptTokens: 4096,
    reuseFraction: 0.9,
    dollarsPerGpuHour: 3,
    storeGBps: 10,
    promptTokensPerMonth: 1e11,
    storeNodes: 4,
    dollarsPerNodeMonth: 500,
    engineeringDollars: 20_000,
  };

  it('scales the per-million projection to a month, subtracts the store and divides the one-time cost by the net saving', () => {
    const r = projectRoi(base);
    const p = projectCost({ model: base.model, promptTokens: base.promptTokens, reuseFraction: base.reuseFraction, dollarsPerGpuHour: 3, storeGBps: 10 });
    assert.deepEqual(r.cost, p);
    assert.ok(Math.abs(r.gpuDollarsPerMonthNoCache - p.dollarsPerMillionNoCache * 1e5) < 1e-6);
    assert.ok(Math.abs(r.gpuSavingPerMonth - (p.dollarsPerMillionNoCache - p.dollarsPerMillionWithCache) * 1e5) < 1e-6);
    assert.equal(r.storeDollarsPerMonth, 2000);
    assert.ok(Math.abs(r.netSavingPerMonth - (r.gpuSavingPerMonth - 2000)) < 1e-9);
    assert.ok(r.netSavingPerMonth > 0);
    assert.ok(Math.abs(r.breakEvenMonths! - 20_000 / r.netSavingPerMonth) < 1e-9);
    assert.ok(Math.abs(r.firstYearNet - (12 * r.netSavingPerMonth - 20_000)) < 1e-6);
    assert.equal(r.inputs.engineeringDollars, 20_000);
  });

  it('never pays back when the store costs more than the GPU time it saves', () => {
    const small = projectRoi({ ...base, promptTokensPerMonth: 1e8 });
    assert.ok(small.netSavingPerMonth < 0);
    assert.equal(small.breakEvenMonths, null);
    // The volume at which saving and store cost meet: just above it the net turns positive.
    const at = breakEvenTokensPerMonth(small.cost, small.storeDollarsPerMonth)!;
    assert.ok(projectRoi({ ...base, promptTokensPerMonth: at * 0.99 }).netSavingPerMonth < 0);
    assert.ok(projectRoi({ ...base, promptTokensPerMonth: at * 1.01 }).netSavingPerMonth > 0);
  });

  it('a store slower than recomputing saves nothing, so nothing ever pays it back', () => {
    const slow = projectRoi({ ...base, model: 'llama2-7b', storeGBps: 1 });
    assert.equal(slow.cost.reusedKV, 'recompute');
    assert.equal(slow.gpuSavingPerMonth, 0);
    assert.equal(slow.breakEvenMonths, null);
    assert.equal(breakEvenTokensPerMonth(slow.cost, 1000), null);
  });

  it('payback arithmetic: a one-time cost over a monthly net saving', () => {
    assert.ok(Math.abs(paybackMonths(10_000, 3_000)! - 10 / 3) < 1e-12, '$10k repaid by $3k a month takes 3.3 months');
    assert.equal(paybackMonths(0, 1), 0);
    assert.equal(paybackMonths(5, 0), null);
    assert.equal(paybackMonths(5, -1), null);
    assert.throws(() => paybackMonths(-1, 1), { code: 'INVALID_INPUT', details: { path: 'oneTimeDollars', expected: 'a finite number ≥ 0', received: '-1' } });
  });

  it('rejects bad inputs with a typed error naming the input', () => {
    assert.throws(() => projectRoi({ ...base, storeNodes: 1.5 }), { code: 'INVALID_INPUT', details: { path: 'inputs.storeNodes', expected: 'a whole number ≥ 0', received: '1.5' } });
    assert.throws(() => projectRoi({ ...base, promptTokensPerMonth: NaN }), { code: 'INVALID_INPUT', details: { path: 'inputs.promptTokensPerMonth', expected: 'a finite number ≥ 0', received: 'NaN' } });
    assert.throws(() => projectRoi({ ...base, engineeringDollars: -5 }), { code: 'INVALID_INPUT', details: { path: 'inputs.engineeringDollars', expected: 'a finite number ≥ 0', received: '-5' } });
    assert.throws(() => projectRoi({ ...base, reuseFraction: 2 }), { code: 'INVALID_INPUT', details: { path: 'inputs.reuseFraction', expected: 'a fraction in [0, 1]', received: '2' } });
  });
});
