import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseSerdeBenchArgs } from '../../lib/src/bench/serde-cli';
import { measure, runSerdeBench } from '../../lib/src/bench/serde';
import { formatSerdeReport, writeSerdeResults } from '../../lib/src/bench/serde-report';
import { DTYPES, HALF_CONVERSIONS, syntheticKV } from '../../lib/src/serde';
import { expectKVError } from './helpers';

describe('serde: benchmark (smoke)', () => {
  it('runs on a tiny block and reports every encoding, codec and target', () => {
    const data = syntheticKV({ layers: 2, kvHeads: 2, headDim: 16, tokens: 8 });
    const steps: string[] = [];
    const r = runSerdeBench({ data, minTimeMs: 2, rounds: 1, codecs: ['zlib', 'shuffle-pako'], codecDtypes: ['fp16', 'int8'], onProgress: (_d, _t, label) => steps.push(label) });
    assert.equal(r.config.data, 'provided');
    assert.deepEqual(r.encodings.map((e) => e.dtype), [...DTYPES]);
    assert.equal(r.codecs.length, 4);
    assert.equal(r.targets.length, 6);
    assert.ok(r.baseline.copyMBps > 0 && r.baseline.crc32cMBps > 0 && r.baseline.xxh64MBps > 0);
    for (const e of r.encodings) assert.ok(e.kernel.encodeMBps > 0 && e.container.decodeMBps > 0, e.dtype);
    const fp32 = r.encodings.find((e) => e.dtype === 'fp32')!;
    assert.equal(fp32.quality.maxAbsError, 0);
    assert.equal(fp32.quality.sqnrDb, null);
    for (const c of r.codecs) {
      assert.ok(c.ratio > 0.5 && c.ratio < 3, `${c.codec} on ${c.dtype}: ratio ${c.ratio}`);
      assert.ok(c.breakEvenMBps.roundTrip <= Math.min(c.breakEvenMBps.write, c.breakEvenMBps.read));
    }
    assert.ok(steps.length > 0);
    // Each half-precision conversion: the chosen path, timed here next to every other path.
    assert.deepEqual(r.halfPaths.map((h) => h.conversion), HALF_CONVERSIONS);
    for (const h of r.halfPaths) {
      assert.equal(r.machine.halfPrecisionPaths[h.conversion], h.chosen);
      assert.ok(h.measured.some((m) => m.path === h.chosen && m.MBps > 0), h.conversion);
      assert.equal(h.measured.length, Math.max(1, h.calibration.length));
    }
    // JSON round trip: nothing that JSON would silently turn into null (except the documented ∞ SQNR).
    const back = JSON.parse(JSON.stringify(r)) as typeof r;
    assert.deepEqual(back.targets, r.targets);
    const text = formatSerdeReport(r);
    assert.match(text, /Float32Array\.set copy/);
    assert.match(text, /shuffle-pako/);
    assert.match(text, /Half-precision paths/);
    assert.match(text, /fp16Decode +(wasm|native|js) /);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvlab-serde-'));
    try {
      const file = writeSerdeResults(r, path.join(dir, 'sub', 'serde.json'));
      assert.equal((JSON.parse(fs.readFileSync(file, 'utf8')) as { benchmark: string }).benchmark, 'serde');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('measure() reports per-call times', () => {
    let calls = 0;
    const t = measure(() => calls++, 5, 2);
    assert.equal(t.samples, 2);
    assert.equal(t.calls + 1, calls);
    assert.ok(t.bestMs <= t.medianMs);
  });

  it('parses its command line', () => {
    assert.deepEqual(parseSerdeBenchArgs(['--out', 'x.json', '--no-progress']), { out: 'x.json', progress: false });
    assert.deepEqual(parseSerdeBenchArgs(['--out=y.json']), { out: 'y.json' });
    expectKVError(() => parseSerdeBenchArgs(['--fast']), 'CONFIG_ERROR');
    expectKVError(() => parseSerdeBenchArgs(['--out']), 'CONFIG_ERROR');
  });
});
