import { strict as assert } from 'node:assert';
import { LlamaModel, Tokenizer } from '../../lib/src/model';
import {
  bitEntropyFigure,
  codecThroughput,
  codecThroughputFigure,
  compressionPaysOff,
  compressionPaysOffFigure,
  corruptionTable,
  encodingQuality,
  encodingQualityFigure,
  flipByte,
  floatBits,
  floatBitsFigure,
  floatBitsTable,
  halfPrecisionPipeline,
  headerTable,
  hexDump,
  kvValueStats,
  mantissaEntropy,
  perTensorCompression,
  realKV,
  serdePromptTokens,
  type CodecThroughput,
  type EncodingQualityResult,
  type RealKV,
} from '../../lib/src/notebook/serde-lab';
import { decodeKV, encodeKV, readKVHeader, syntheticKV, type KVBlockData, type KVDtype } from '../../lib/src/serde';
import { expectCode } from '../model/helpers';

function sameNumber(a: number, b: number): boolean {
  return Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));
}

function absMax(kv: KVBlockData): number {
  let m = 0;
  for (const a of [...kv.k, ...kv.v]) for (const x of a) m = Math.max(m, Math.abs(x));
  return m;
}

function constantBlock(values: (i: number) => number): KVBlockData {
  const n = 2 * 8 * 16;
  const make = (): Float32Array => Float32Array.from({ length: n }, (_, i) => values(i));
  return { layers: 1, kvHeads: 2, headDim: 16, tokens: 8, k: [make()], v: [make()] };
}

describe('notebook/serde-lab (notebook 03 helpers)', function () {
  this.timeout(60_000);
  const tokenizer = new Tokenizer();
  let model: LlamaModel;
  let kv: RealKV;
  let quality: EncodingQualityResult;
  const GENERATE = 12;
  const PROMPT = 96;

  before(async () => {
    model = await LlamaModel.create('tiny');
    kv = await realKV(model, tokenizer, 256);
    quality = await encodingQuality(model, tokenizer, { prompt: PROMPT, generateTokens: GENERATE, progress: 'silent' });
  });
  after(() => model?.dispose());

  describe('floatBits', () => {
    it('splits 1.0 into sign 0, fp16 exponent field 15 and a zero mantissa (fp32 and bf16: 127)', () => {
      const fb = floatBits(1.0);
      const fp16 = fb.formats.find((f) => f.format === 'fp16')!;
      assert.equal(fp16.sign, 0);
      assert.equal(fp16.exponent, 15);
      assert.equal(fp16.mantissa, 0);
      assert.equal(fp16.bits, 0x3c00);
      assert.equal(fp16.bitString, '0 01111 0000000000');
      assert.equal(fp16.recombined, 1);
      assert.equal(fp16.kind, 'normal');
      for (const f of fb.formats.filter((x) => x.format !== 'fp16')) {
        assert.equal(f.exponent, 127, f.format);
        assert.equal(f.mantissa, 0, f.format);
        assert.equal(f.recombined, 1, f.format);
      }
    });

    it('gives the known bit patterns of 0.1 (fp16 0x2E66, bf16 0x3DCD, fp32 0x3DCCCCCD)', () => {
      const by = Object.fromEntries(floatBits(0.1).formats.map((f) => [f.format, f]));
      assert.equal(by.fp16!.bits, 0x2e66);
      assert.equal(by.fp16!.exponent, 11);
      assert.equal(by.fp16!.mantissa, 0x266);
      assert.equal(by.bf16!.bits, 0x3dcd);
      assert.equal(by.fp32!.bits, 0x3dcccccd);
      assert.equal(by.fp32!.value, Math.fround(0.1));
      assert.ok(by.fp16!.relError <= 2 ** -11 && by.bf16!.relError <= 2 ** -8);
    });

    it('fields recombine to the stored value for normal, subnormal, zero, overflow and NaN inputs', () => {
      const inputs = [0.1, -2.5, 1e-6, -3e-8, 65504, 65519.99, 65520, 1e-40, -0, 0, 3.3e38, -Infinity, NaN, 123.456, -0.000061];
      for (let i = 0; i < 200; i++) inputs.push(Math.sin(i * 12.9898) * 10 ** ((i % 13) - 6));
      for (const x of inputs) {
        for (const f of floatBits(x).formats) {
          assert.ok(sameNumber(f.recombined, f.value), `${x} ${f.format}: fields give ${f.recombined}, stored ${f.value}`);
          assert.equal(f.bitString.replace(/ /g, '').length, f.totalBits);
          assert.equal(parseInt(f.bitString.replace(/ /g, ''), 2), f.bits);
        }
      }
      const kinds = (x: number): string[] => floatBits(x).formats.map((f) => f.kind);
      assert.deepEqual(kinds(1e-6), ['normal', 'subnormal', 'normal']);
      assert.deepEqual(kinds(70000), ['normal', 'infinity', 'normal']);
      assert.deepEqual(kinds(NaN), ['nan', 'nan', 'nan']);
      assert.deepEqual(kinds(-0), ['zero', 'zero', 'zero']);
      assert.equal(floatBits(-0).formats[1]!.sign, 1);
    });

    it('draws one grid row per (value, format) with 32 bit columns, half formats padded with empty cells', () => {
      const fig = floatBitsFigure([floatBits(1), floatBits(-0.1)]);
      const heat = fig.data[0] as { z: (number | null)[][]; y: string[] };
      assert.equal(heat.z.length, 6);
      assert.ok(heat.z.every((r) => r.length === 32));
      for (let r = 0; r < 6; r++) {
        const filled = heat.z[r]!.filter((v) => v !== null).length;
        assert.equal(filled, heat.y[r]!.endsWith('fp32') ? 32 : 16, heat.y[r]);
      }
      assert.equal(floatBitsTable(floatBits(2)).length, 3);
    });

    it('rejects what is not a number with a typed error', async () => {
      await expectCode(() => floatBits('1' as unknown as number), 'INVALID_INPUT');
      await expectCode(() => floatBitsFigure([]), 'INVALID_INPUT');
    });
  });

  describe('real KV', () => {
    it('realKV has the model shape, one value per prompt token, and describes it', () => {
      const c = model.config;
      assert.equal(kv.layers, c.numLayers);
      assert.equal(kv.kvHeads, c.numKvHeads);
      assert.equal(kv.headDim, c.headDim);
      assert.equal(kv.tokens, 256);
      assert.deepEqual(kv.promptTokens, serdePromptTokens(tokenizer, 256));
      assert.equal(kv.k[0]!.length, c.numKvHeads * 256 * c.headDim);
      const stats = kvValueStats(kv);
      const kMax = Math.max(...kv.k.map((a) => Math.max(...Array.from(a, Math.abs))));
      assert.equal(stats[0]!['max |x|'], kMax);
      assert.equal(stats[0]!.values, kv.layers * kv.k[0]!.length);
    });

    it('rejects a disposed model, a bad prompt and a non-block', async () => {
      await expectCode(() => realKV({ prefill() {}, decodeStep() {}, isDisposed: true } as unknown as LlamaModel, tokenizer, 8), 'INVALID_INPUT');
      await expectCode(() => realKV(model, tokenizer, { length: 3 } as unknown as number[]), 'INVALID_INPUT');
      await expectCode(() => realKV(model, tokenizer, 1), 'INVALID_INPUT');
      await expectCode(() => realKV(model, tokenizer, 5000), 'INVALID_INPUT');
      await expectCode(() => kvValueStats({ layers: 1 } as unknown as KVBlockData), 'INVALID_INPUT');
    });
  });

  describe('encodingQuality', () => {
    const row = (d: KVDtype) => quality.rows.find((r) => r.dtype === d)!;

    it('fp32 round-trips exactly: zero error, every generated token and logit identical', () => {
      const r = row('fp32');
      assert.equal(r['max abs error'], 0);
      assert.equal(r['mean abs error'], 0);
      assert.equal(r['greedy agreement'], 1);
      assert.equal(r['teacher-forced top-1'], 1);
      assert.equal(r['identical leading tokens'], GENERATE);
      assert.equal(r['max logit error'], 0);
      assert.deepEqual(quality.generated.fp32, quality.reference.tokens);
    });

    it('fp16 error stays within the fp16 rounding bound of the cached values (independently computed)', async () => {
      // The cached block is the prefill of all prompt tokens but the last one.
      const ids = serdePromptTokens(tokenizer, PROMPT);
      const prefix = await realKV(model, tokenizer, ids.slice(0, -1));
      const bound = Math.max(absMax(prefix) * 2 ** -11, 2 ** -25);
      const r = row('fp16');
      assert.ok(r['max abs error'] > 0, 'real KV is not exactly representable in fp16');
      assert.ok(r['max abs error'] <= bound, `fp16 max error ${r['max abs error']} > bound ${bound}`);
      assert.ok(Math.abs(r['error bound']! - bound) <= 1e-12);
      for (const x of quality.rows) if (x['within bound'] !== null) assert.equal(x['within bound'], true, x.dtype);
    });

    it('entry sizes strictly decrease fp32 > fp16 > int8 > kivi4 > kivi2, with bf16 = fp16', () => {
      const sizes = (['fp32', 'fp16', 'int8', 'kivi4', 'kivi2'] as const).map((d) => row(d).bytes);
      for (let i = 1; i < sizes.length; i++) assert.ok(sizes[i]! < sizes[i - 1]!, `sizes ${sizes.join(' > ')}`);
      assert.equal(row('bf16').bytes, row('fp16').bytes);
      assert.equal(row('fp32')['bits per value'], 32);
      assert.equal(row('fp16')['bits per value'], 16);
    });

    it('agreement figures match an independent recount of the generated tokens', () => {
      const ref = quality.reference.tokens;
      assert.equal(ref.length, GENERATE);
      for (const r of quality.rows) {
        const gen = quality.generated[r.dtype]!;
        let lead = 0;
        while (lead < GENERATE && gen[lead] === ref[lead]) lead++;
        assert.equal(r['identical leading tokens'], lead, r.dtype);
        assert.equal(r['greedy agreement'], gen.filter((t, i) => t === ref[i]).length / GENERATE, r.dtype);
        assert.ok(r['teacher-forced top-1'] >= lead / GENERATE, r.dtype);
        assert.ok(r['teacher-forced top-1'] <= 1);
      }
      assert.ok(row('kivi2')['max abs error'] > row('int8')['max abs error']);
      const fig = encodingQualityFigure(quality);
      assert.equal((fig.data[0] as { x: number[] }).x.length, quality.rows.length);
    });

    it('rejects unknown dtypes and too long runs with typed errors', async () => {
      await expectCode(() => encodingQuality(model, tokenizer, { dtypes: ['fp8' as KVDtype], progress: 'silent' }), 'INVALID_INPUT');
      await expectCode(() => encodingQuality(model, tokenizer, { prompt: 2040, generateTokens: 64, progress: 'silent' }), 'INVALID_INPUT');
      await expectCode(() => encodingQuality(model, tokenizer, { generateTokens: 0, progress: 'silent' }), 'INVALID_INPUT');
    });
  });

  describe('mantissaEntropy', () => {
    it('real fp16 KV: the low byte plane carries more entropy than the high one, and the shuffle helps zlib', () => {
      const e = mantissaEntropy(kv, 'fp16');
      assert.equal(e.width, 2);
      assert.equal(e.values, 2 * kv.layers * kv.k[0]!.length);
      const high = e.planes.find((p) => p.plane === 1)!;
      const low = e.planes.find((p) => p.plane === 0)!;
      assert.ok(low.entropyBits > high.entropyBits, `low ${low.entropyBits} vs high ${high.entropyBits}`);
      assert.ok(low.entropyBits > 7.5 && low.entropyBits <= 8);
      assert.equal(e.bits.length, 16);
      assert.equal(e.bits[0]!.field, 'sign');
      assert.deepEqual(e.bits.map((b) => b.field).filter((f) => f === 'exponent').length, 5);
      for (const b of e.bits) assert.ok(b.entropyBits >= 0 && b.entropyBits <= 1);
      assert.ok(e.shuffledZlibRatio > e.zlibRatio, `shuffle ${e.shuffledZlibRatio} vs plain ${e.zlibRatio}`);
      const fig = bitEntropyFigure([e, mantissaEntropy(kv, 'bf16')]);
      assert.equal(fig.data.length, 6);
    });

    it('constant values have zero entropy everywhere; alternating ±1 has exactly one random bit, the sign', () => {
      const flat = mantissaEntropy(constantBlock(() => 1.5), 'fp32');
      assert.ok(flat.planes.every((p) => p.entropyBits === 0));
      assert.ok(flat.bits.every((b) => b.entropyBits === 0));
      const signs = mantissaEntropy(constantBlock((i) => (i % 2 === 0 ? 1 : -1)), 'bf16');
      assert.equal(signs.bits[0]!.entropyBits, 1);
      assert.ok(signs.bits.slice(1).every((b) => b.entropyBits === 0));
      assert.equal(signs.planes.find((p) => p.plane === 1)!.entropyBits, 1);
      assert.equal(signs.planes.find((p) => p.plane === 0)!.entropyBits, 0);
    });

    it("counts repeated rows exactly: layer 0's V repeats for every repeated prompt token, K never", () => {
      const rows = perTensorCompression(kv, 'fp16');
      assert.equal(rows.length, 2 * kv.layers);
      const distinct = new Set(kv.promptTokens).size;
      assert.ok(distinct < kv.tokens, 'the prose prompt repeats tokens');
      const v0 = rows.find((r) => r.tensor === 'layer 0 · V')!;
      assert.equal(v0['repeated rows'], (kv.tokens - distinct) / kv.tokens);
      for (const r of rows.filter((x) => String(x.tensor).endsWith('K'))) assert.equal(r['repeated rows'], 0, String(r.tensor));
    });

    it('rejects quantized dtypes with a typed error', async () => {
      await expectCode(() => mantissaEntropy(kv, 'int8'), 'INVALID_INPUT');
      await expectCode(() => perTensorCompression(kv, 'kivi4'), 'INVALID_INPUT');
    });
  });

  describe('codecs and links', () => {
    let thr: CodecThroughput;
    const block = syntheticKV({ layers: 2, kvHeads: 2, headDim: 16, tokens: 64 });

    before(async () => {
      thr = await codecThroughput(block, { minTimeMs: 6, rounds: 3, progress: 'silent' });
    });

    it('measures every (dtype, codec) with exact entry sizes and lossless round trips', () => {
      assert.equal(thr.rows.length, 4 * 5);
      for (const r of thr.rows) {
        const blob = encodeKV(block, { dtype: r.dtype, codec: r.codec });
        assert.equal(r['entry bytes'], blob.length, `${r.dtype} ${r.codec}`);
        assert.ok(r['encode (ms)'] > 0 && r['decode (ms)'] > 0);
        if (r.codec === 'none') assert.equal(r.ratio, 1);
      }
      const pipe = halfPrecisionPipeline(block, thr);
      const fp16 = pipe.filter((p) => String(p.step).startsWith('fp16'));
      assert.ok(fp16.length >= 2 && fp16.every((p) => p['max abs error'] === fp16[0]!['max abs error']), 'codecs are lossless');
      assert.equal(pipe[0]!['max abs error'], 0);
      const fig = codecThroughputFigure(thr, 'fp16');
      assert.deepEqual((fig.data[0] as { x: string[] }).x, ['none', 'pako', 'shuffle-pako', 'zlib', 'shuffle-zlib']);
    });

    it('compression pays on a very slow link and does not on a very fast one', () => {
      const res = compressionPaysOff(thr, [0.001, 1e7]);
      assert.deepEqual(res.links, [0.001, 1e7]);
      let compared = 0;
      for (const s of res.summary) {
        const slow = res.points.find((p) => p.dtype === s.dtype && p.codec === s.codec && p.linkMBps === 0.001)!;
        const fast = res.points.find((p) => p.dtype === s.dtype && p.codec === s.codec && p.linkMBps === 1e7)!;
        assert.equal(fast.pays, false, `${s.dtype} + ${s.codec} at 10 TB/s`);
        if (s['bytes saved'] > 0) {
          assert.equal(slow.pays, true, `${s.dtype} + ${s.codec} at 1 kB/s`);
          compared++;
        }
      }
      assert.ok(compared > 0, 'some codec saved bytes');
      assert.ok(compressionPaysOffFigure(compressionPaysOff(thr)).data.length >= 2);
    });

    it('computes totals and the break-even link speed exactly (hand-made timings)', () => {
      const res = compressionPaysOff(
        {
          rows: [
            { dtype: 'fp16', codec: 'none', 'entry bytes': 1000, 'encode (ms)': 1, 'decode (ms)': 1 },
            { dtype: 'fp16', codec: 'zlib', 'entry bytes': 500, 'encode (ms)': 3, 'decode (ms)': 2 },
          ],
        },
        [0.1, 1],
      );
      const s = res.summary[0]!;
      assert.equal(res.summary.length, 1);
      assert.equal(s['extra codec time (ms)'], 3);
      assert.ok(Math.abs(s['pays below (MB/s)'] - 500 / 3000) < 1e-12);
      const at = (link: number) => res.points.find((p) => p.codec === 'zlib' && p.linkMBps === link)!;
      assert.ok(Math.abs(at(0.1).totalMs - (5 + 500 / 100)) < 1e-12);
      assert.ok(Math.abs(at(0.1).uncompressedMs - (2 + 1000 / 100)) < 1e-12);
      assert.equal(at(0.1).pays, true);
      assert.equal(at(1).pays, false);
    });

    it('rejects bad link speeds and results without a baseline with typed errors', async () => {
      for (const bad of [[0], [-1], [NaN], [Infinity], [], 'fast']) {
        await expectCode(() => compressionPaysOff(thr, bad as unknown as number[]), 'INVALID_INPUT');
      }
      await expectCode(() => compressionPaysOff({ rows: thr.rows.filter((r) => r.codec !== 'none') }), 'INVALID_INPUT');
      await expectCode(() => compressionPaysOff({} as unknown as CodecThroughput), 'INVALID_INPUT');
      await expectCode(() => codecThroughput(block, { codecs: ['gzip' as 'zlib'], progress: 'silent' }), 'INVALID_INPUT');
    });
  });

  describe('the container and damage', () => {
    it('headerTable shows what readKVHeader reads, and the hex dump starts with the magic', () => {
      const blob = encodeKV(kv, { dtype: 'int8' });
      const h = readKVHeader(blob);
      const rows = headerTable(blob);
      const field = (name: string) => rows.find((r) => r.field === name)!;
      assert.equal(field('tokens').value, h.tokens);
      assert.equal(field('tokens').bytes, '00 01 00 00');
      assert.equal(field('dtype').value, 'int8');
      assert.equal(field('group size').value, 64);
      assert.equal(field('stored payload length').value, blob.length - 64);
      assert.equal(String(field('payload XXH64').bytes).split(' ').length, 8);
      assert.ok(hexDump(blob, 0, 20).startsWith('     0  89 4b 56 42'));
    });

    it('every flipped bit and the truncation are caught as typed errors; the original is untouched', async () => {
      const blob = encodeKV(kv, { dtype: 'fp16' });
      const before = Buffer.from(blob);
      const rows = corruptionTable(blob);
      assert.ok(rows.length >= 8);
      for (const r of rows) {
        assert.equal(r.detected, true, String(r.damage));
        assert.ok(r.code === 'CORRUPT_ENTRY' || r.code === 'UNSUPPORTED_FORMAT', `${r.damage}: ${r.code}`);
      }
      assert.equal(rows.find((r) => String(r.damage).includes('format version'))!.code, 'UNSUPPORTED_FORMAT');
      assert.ok(blob.equals(before));
      await expectCode(() => decodeKV(flipByte(blob, 1000)), 'CORRUPT_ENTRY');
      await expectCode(() => flipByte(blob, blob.length), 'INVALID_INPUT');
      await expectCode(() => headerTable('bytes' as unknown as Uint8Array), 'INVALID_INPUT');
    });
  });
});
