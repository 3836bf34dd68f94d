import { strict as assert } from 'node:assert';
import { runSerdeBench } from '../../lib/src'; // the public API (notebook 03 calls kv.runSerdeBench)
import { REFERENCE_LINKS, agreementFigure, bitEntropyFigure, codecSpeedFigure, paysOffFigure } from '../../lib/src/notebook/serde-lab';
import { syntheticKV } from '../../lib/src/serde';
import { expectCode } from '../model/helpers';

type Trace = Record<string, unknown> & { x?: unknown[]; y?: unknown[]; text?: unknown[] };

describe('notebook 03 charts (serde-lab)', () => {
  it('bitEntropyFigure: one panel per format, each bit coloured by its field', () => {
    const fig = bitEntropyFigure([
      { format: 'fp16', exponentBits: 5, entropy: Array.from({ length: 16 }, (_, i) => i / 16) },
      { format: 'bf16', exponentBits: 8, entropy: Array.from({ length: 16 }, () => 1) },
    ]);
    assert.equal(fig.data.length, 6, 'sign, exponent, mantissa traces per panel');
    const [sign, exponent, mantissa] = fig.data as Trace[];
    assert.deepEqual(sign!.x, [0]);
    assert.deepEqual(exponent!.x, [1, 2, 3, 4, 5]);
    assert.equal(mantissa!.x!.length, 10);
    assert.deepEqual(exponent!.y, [1, 2, 3, 4, 5].map((i) => i / 16));
    assert.equal((fig.data[3] as Trace).yaxis, 'y2');
    expectCode(() => bitEntropyFigure([]), 'INVALID_INPUT');
  });

  it('agreementFigure: sizes in KiB, agreements in %, equal sizes share one label', () => {
    const rows = [
      { dtype: 'fp16', 'entry bytes': 2048, 'greedy agreement': 1, 'teacher-forced top-1': 1, 'identical leading tokens': 8 },
      { dtype: 'bf16', 'entry bytes': 2048, 'greedy agreement': 0.5, 'teacher-forced top-1': 0.75, 'identical leading tokens': 2 },
    ];
    const fig = agreementFigure(rows, 8);
    const [greedy, forced, leading] = fig.data as Trace[];
    assert.deepEqual(greedy!.x, [2, 2]);
    assert.deepEqual(greedy!.y, [100, 50]);
    assert.deepEqual(greedy!.text, ['fp16 / bf16', '']);
    assert.deepEqual(forced!.y, [100, 75]);
    assert.deepEqual(leading!.y, [100, 25]);
    expectCode(() => agreementFigure(rows, 0), 'INVALID_INPUT');
    expectCode(() => agreementFigure([], 8), 'INVALID_INPUT');
  });

  it('codecSpeedFigure: the container without codec next to each measured codec', () => {
    const data = syntheticKV({ layers: 1, kvHeads: 1, headDim: 16, tokens: 16 });
    const bench = runSerdeBench({ data, dtypes: ['fp16'], codecDtypes: ['fp16'], codecs: ['zlib', 'shuffle-zlib'], minTimeMs: 1, rounds: 1 });
    const fig = codecSpeedFigure(bench, 'fp16');
    const [enc, dec] = fig.data as Trace[];
    assert.deepEqual(enc!.x, ['none (encodeKV / decodeKV)', 'zlib', 'shuffle-zlib']);
    assert.equal(enc!.text![0], '1');
    assert.match(String(enc!.text![1]), /^\d+\.\d\d×$/);
    for (const v of [...enc!.y!, ...dec!.y!]) assert.ok(typeof v === 'number' && v > 0 && Number.isFinite(v));
    expectCode(() => codecSpeedFigure(bench, 'int8'), 'INVALID_INPUT');
  });

  it('paysOffFigure: one curve per codec, the line at 1, reference links inside the range only', () => {
    const links = [0.1, 1, 10, 100, 1000];
    const fig = paysOffFigure(links, [{ name: 'fp16 + zlib', relative: [0.9, 0.95, 1.5, 6, 50] }]);
    assert.equal(fig.data.length, 2);
    assert.deepEqual((fig.data[1] as Trace).y, [1, 1]);
    const shapes = fig.layout!.shapes as { x0: number }[];
    assert.deepEqual(shapes.map((s) => s.x0), REFERENCE_LINKS.filter((l) => l.MBps <= 1000).map((l) => l.MBps));
    expectCode(() => paysOffFigure(links, [{ name: 'short', relative: [1] }]), 'INVALID_INPUT');
    expectCode(() => paysOffFigure([], []), 'INVALID_INPUT');
  });
});
