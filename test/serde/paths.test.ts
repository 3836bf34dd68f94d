/**
 * Choosing a half-precision path by timing (path-choice.ts): the library's four conversions, and
 * the chooser itself on paths of known speed.
 */
import * as assert from 'node:assert/strict';
import { HALF_CONVERSIONS, hasNativeFloat16, halfPrecisionPaths, halfPrecisionReport, pinHalfPrecisionPath, useNativeFloat16 } from '../../lib/src/serde';
import { hasWasmKernels, useWasmKernels } from '../../lib/src/serde/kernels';
import { type HalfPath, PATH_CALIBRATION, PathChoice } from '../../lib/src/serde/path-choice';
import { expectKVError } from './helpers';

/** Busy-wait `ms` (a path of known speed). */
function spin(ms: number): void {
  const t0 = performance.now();
  while (performance.now() - t0 < ms);
}

function fakeChoice(paths: { path: HalfPath; ms: number; exact: boolean; on?: () => boolean }[]): { choice: PathChoice<number, number>; samples: () => number } {
  let samples = 0;
  const choice = new PathChoice<number, number>(
    'fp16Encode',
    paths.map((p) => ({ path: p.path, available: p.on ?? (() => true), run: () => spin(p.ms), exact: p.exact })),
    () => {
      samples++;
      return { src: 0, dst: 0, fp32Bytes: 1e6 };
    },
  );
  return { choice, samples: () => samples };
}

describe('serde: half-precision path choice', () => {
  it('every conversion has a path, chosen by timing when more than one can run', () => {
    const paths = halfPrecisionPaths();
    assert.deepEqual(Object.keys(paths).sort(), [...HALF_CONVERSIONS].sort());
    for (const r of halfPrecisionReport()) {
      assert.equal(paths[r.conversion], r.path);
      if (r.how === 'measured') {
        assert.ok(r.timings.length >= 2, r.conversion);
        const chosen = r.timings.find((t) => t.path === r.path)!;
        for (const t of r.timings) assert.ok(t.MBps > 0 && (t.exact || t.path === 'native'), `${r.conversion} ${t.path}`);
        // The chosen path is the fastest exact one, or an inexact one that beat it by the margin.
        const bestExact = Math.max(...r.timings.filter((t) => t.exact).map((t) => t.MBps));
        assert.ok(chosen.exact ? chosen.MBps === bestExact : chosen.MBps > PATH_CALIBRATION.inexactMargin * bestExact, r.conversion);
      }
    }
    // The kernels are 2–6× faster than the JavaScript loops on every runtime measured.
    if (hasWasmKernels()) for (const c of HALF_CONVERSIONS) assert.equal(paths[c], 'wasm', c);
  });

  it('switching the kernels or the native path off re-decides without timing again', () => {
    const before = halfPrecisionReport();
    try {
      useWasmKernels(false);
      useNativeFloat16(false);
      for (const c of HALF_CONVERSIONS) assert.equal(halfPrecisionPaths()[c], 'js', c);
      for (const r of halfPrecisionReport()) assert.equal(r.how, 'only');
    } finally {
      useWasmKernels(true);
      useNativeFloat16(true);
    }
    const after = halfPrecisionReport();
    assert.deepEqual(after, before, 'the same paths, and the first calibration kept');
  });

  it('pins a path for comparisons, and refuses one that cannot run here', () => {
    try {
      pinHalfPrecisionPath('bf16Decode', 'js');
      const r = halfPrecisionReport().find((x) => x.conversion === 'bf16Decode')!;
      assert.equal(r.path, 'js');
      assert.equal(r.how, 'pinned');
    } finally {
      pinHalfPrecisionPath('bf16Decode', undefined);
    }
    assert.notEqual(halfPrecisionReport().find((x) => x.conversion === 'bf16Decode')!.how, 'pinned');
    expectKVError(() => pinHalfPrecisionPath('bf16Encode', 'native'), 'INVALID_INPUT');
    if (!hasNativeFloat16()) expectKVError(() => pinHalfPrecisionPath('fp16Decode', 'native'), 'INVALID_INPUT');
  });

  describe('the chooser on paths of known speed', () => {
    it('takes the fastest exact path, and times only once', () => {
      const { choice, samples } = fakeChoice([
        { path: 'wasm', ms: 0.4, exact: true },
        { path: 'js', ms: 0.1, exact: true },
      ]);
      assert.equal(choice.path(), 'js');
      assert.equal(choice.path(), 'js');
      assert.equal(samples(), 1);
      const r = choice.report();
      assert.equal(r.how, 'measured');
      assert.ok(r.timings.find((t) => t.path === 'js')!.MBps > r.timings.find((t) => t.path === 'wasm')!.MBps);
    });

    it('takes an inexact path only when it is clearly faster', () => {
      const close = fakeChoice([
        { path: 'wasm', ms: 0.2, exact: true },
        { path: 'native', ms: 0.19, exact: false },
      ]);
      assert.equal(close.choice.path(), 'wasm', 'within the margin: the exact path');
      const far = fakeChoice([
        { path: 'wasm', ms: 0.6, exact: true },
        { path: 'native', ms: 0.1, exact: false },
      ]);
      assert.equal(far.choice.path(), 'native');
    });

    it('with one path available it times nothing; a newly available path is timed then', () => {
      let wasmOn = false;
      const { choice, samples } = fakeChoice([
        { path: 'wasm', ms: 0.05, exact: true, on: () => wasmOn },
        { path: 'js', ms: 0.3, exact: true },
      ]);
      assert.equal(choice.path(), 'js');
      assert.equal(choice.report().how, 'only');
      assert.equal(samples(), 0);
      wasmOn = true;
      assert.equal(choice.path(), 'wasm');
      assert.equal(samples(), 1);
      wasmOn = false;
      assert.equal(choice.path(), 'js');
      wasmOn = true;
      assert.equal(choice.path(), 'wasm');
      assert.equal(samples(), 1, 'both paths were timed already');
    });
  });
});
