import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  CODECS,
  DEFAULT_CODEC,
  DEFAULT_ENCODE_OPTIONS,
  DTYPES,
  FORMAT_VERSION,
  HEADER_BYTES,
  type KVBlockData,
  type KVCodec,
  type KVDtype,
  compareKV,
  decodeKV,
  encodeKV,
  encodedSize,
  formatId,
  readKVHeader,
  syntheticKV,
  verifyKV,
  useWasmKernels,
} from '../../lib/src/serde';
import { FP16_NAN_SIGN_KEPT, bitsOfF32, u32, expectKVError, f32FromBits, fp16Value, bf16Value, refBf16, refFp16 } from './helpers';

const SHAPES = [
  { layers: 1, kvHeads: 1, headDim: 1, tokens: 1 },
  { layers: 2, kvHeads: 3, headDim: 5, tokens: 3 },
  { layers: 3, kvHeads: 2, headDim: 16, tokens: 33 },
];

/** Special values placed into float blocks: they must pass through fp32/fp16/bf16 faithfully. */
const SPECIAL_BITS = [0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00001, 0x00000001, 0x477ff000, 0x7f7fffff, 0x33000000];

function withSpecials(block: KVBlockData): KVBlockData {
  const k0 = new Uint32Array(block.k[0]!.buffer, block.k[0]!.byteOffset, block.k[0]!.length);
  SPECIAL_BITS.forEach((b, i) => {
    if (i < k0.length) k0[i] = b;
  });
  return block;
}

function expectedBits(dtype: KVDtype, bits: number): number | 'nan' | '-nan' {
  if (dtype === 'fp32') return bits;
  const r = dtype === 'fp16' ? refFp16(bits) : refBf16(bits);
  if (typeof r !== 'number') return r;
  return bitsOfF32(dtype === 'fp16' ? fp16Value(r) : bf16Value(r));
}

function checkFloatRoundTrip(dtype: KVDtype, orig: KVBlockData, dec: KVBlockData, ctx: string): void {
  for (const kind of ['k', 'v'] as const) {
    for (let l = 0; l < orig.layers; l++) {
      const a = new Uint32Array(orig[kind][l]!.buffer, orig[kind][l]!.byteOffset, orig[kind][l]!.length);
      const b = new Uint32Array(dec[kind][l]!.buffer, dec[kind][l]!.byteOffset, dec[kind][l]!.length);
      for (let i = 0; i < a.length; i++) {
        const want = expectedBits(dtype, a[i]!);
        if (typeof want === 'number') {
          if (b[i] !== want >>> 0) assert.fail(`${ctx} ${kind}[${l}][${i}]: ${f32FromBits(a[i]!)} decoded as ${f32FromBits(b[i]!)}, expected ${f32FromBits(want)}`);
        } else {
          const signOk = (b[i]! >>> 31 === 1) === (want === '-nan') || (dtype === 'fp16' && !FP16_NAN_SIGN_KEPT);
          assert.ok(Number.isNaN(f32FromBits(b[i]!)) && signOk, `${ctx} ${kind}[${l}][${i}] NaN`);
        }
      }
    }
  }
}

describe('serde: container round trips', () => {
  for (const dtype of DTYPES) {
    for (const codec of CODECS) {
      it(`${dtype} × ${codec}`, () => {
        for (const [s, shape] of SHAPES.entries()) {
          const block = syntheticKV(shape, { seed: s + 1 });
          const quantized = dtype === 'int8' || dtype === 'kivi4' || dtype === 'kivi2';
          if (!quantized) withSpecials(block);
          const blob = encodeKV(block, { dtype, codec });
          assert.ok(Buffer.isBuffer(blob), 'encodeKV returns a Buffer (ioredis needs one)');
          // Deterministic, and every byte written (the output Buffer starts uninitialised and the
          // scratch buffers hold other data now).
          encodeKV(syntheticKV({ layers: 2, kvHeads: 4, headDim: 32, tokens: 40 }, { seed: 99 }), { dtype, codec });
          assert.ok(encodeKV(block, { dtype, codec }).equals(blob), 'same input, same bytes');
          const h = readKVHeader(blob);
          assert.equal(h.dtype, dtype);
          assert.equal(h.codec, codec);
          assert.deepEqual([h.layers, h.kvHeads, h.headDim, h.tokens], [shape.layers, shape.kvHeads, shape.headDim, shape.tokens]);
          if (codec === 'none') assert.equal(blob.length, encodedSize(shape, { dtype }));
          const dec = decodeKV(blob);
          assert.deepEqual([dec.layers, dec.kvHeads, dec.headDim, dec.tokens], [shape.layers, shape.kvHeads, shape.headDim, shape.tokens]);
          if (!quantized) {
            checkFloatRoundTrip(dtype, block, dec, `${dtype}/${codec}/shape ${s}`);
          } else {
            // Bounds are checked group by group in quant.test.ts; here: same result for every codec.
            const ref = decodeKV(encodeKV(block, { dtype, codec: 'none' }));
            assert.equal(compareKV(ref, dec).maxAbsError, 0);
            assert.ok(compareKV(block, dec).relRmse < (dtype === 'kivi2' ? 0.6 : 0.2));
          }
        }
      });
    }
  }

  it('fp32 is bit-exact, NaN payloads included', () => {
    const block = withSpecials(syntheticKV(SHAPES[2]!));
    const dec = decodeKV(encodeKV(block, { dtype: 'fp32' }));
    for (let l = 0; l < block.layers; l++) {
      assert.ok(Buffer.from(block.k[l]!.buffer).equals(Buffer.from(dec.k[l]!.buffer)));
      assert.ok(Buffer.from(block.v[l]!.buffer).equals(Buffer.from(dec.v[l]!.buffer)));
    }
  });

  it('decodes from any byte offset (Buffers sliced out of a socket read)', () => {
    const block = syntheticKV({ layers: 2, kvHeads: 2, headDim: 6, tokens: 7 });
    for (const dtype of DTYPES) {
      const blob = encodeKV(block, { dtype });
      const ref = decodeKV(blob);
      for (const shift of [1, 2, 3]) {
        const moved = Buffer.alloc(blob.length + shift).subarray(shift);
        blob.copy(moved);
        assert.equal(compareKV(ref, decodeKV(moved)).maxAbsError, 0, `${dtype} at offset ${shift}`);
      }
    }
  });

  it('encodes views that start inside a larger buffer', () => {
    const shape = { layers: 1, kvHeads: 2, headDim: 4, tokens: 3 };
    const src = syntheticKV(shape);
    const big = new Float32Array(100);
    const k = big.subarray(3, 27);
    const v = big.subarray(51, 75);
    k.set(src.k[0]!);
    v.set(src.v[0]!);
    for (const dtype of DTYPES) {
      const a = decodeKV(encodeKV({ ...shape, k: [k], v: [v] }, { dtype }));
      const b = decodeKV(encodeKV(src, { dtype }));
      assert.equal(compareKV(a, b).maxAbsError, 0, dtype);
    }
  });

  it('decodes into caller-provided arrays', () => {
    const block = syntheticKV({ layers: 2, kvHeads: 2, headDim: 8, tokens: 5 });
    const into = { k: [new Float32Array(80), new Float32Array(80)], v: [new Float32Array(80), new Float32Array(80)] };
    for (const dtype of DTYPES) {
      const dec = decodeKV(encodeKV(block, { dtype }), { into });
      assert.equal(dec.k[1], into.k[1], 'the same arrays come back');
      assert.equal(compareKV(decodeKV(encodeKV(block, { dtype })), dec).maxAbsError, 0);
    }
  });

  it('decodes blocks straight into their span of a prefix\'s arrays (intoSpan), with and without the kernels and a codec', () => {
    // 3 heads × 3 tokens × 5 channels: 45 values per tensor, so the staged fp16/bf16 path has a tail.
    const shape = { layers: 2, kvHeads: 3, headDim: 5, tokens: 3 };
    const blocks = [0, 1, 2].map((seed) => syntheticKV(shape, { seed: seed + 40 }));
    const total = 3 * shape.tokens;
    const n = shape.kvHeads * total * shape.headDim;
    for (const wasm of [true, false]) {
      try {
        useWasmKernels(wasm);
        for (const dtype of DTYPES) {
          for (const codec of ['none', 'pako'] as const) {
            const entries = blocks.map((b) => encodeKV(b, { dtype, codec }));
            const into = { k: [new Float32Array(n), new Float32Array(n)], v: [new Float32Array(n), new Float32Array(n)] };
            // Out of order, as blocks may arrive: each fills only its own rows.
            for (const i of [2, 0, 1]) decodeKV(entries[i]!, { into, intoSpan: { tokens: total, start: i * shape.tokens } });
            for (let i = 0; i < 3; i++) {
              const alone = decodeKV(entries[i]!);
              for (const kind of ['k', 'v'] as const) {
                for (let l = 0; l < shape.layers; l++) {
                  for (let h = 0; h < shape.kvHeads; h++) {
                    const rows = shape.tokens * shape.headDim;
                    const want = alone[kind][l]!.subarray(h * rows, (h + 1) * rows);
                    const at = (h * total + i * shape.tokens) * shape.headDim;
                    const got = into[kind][l]!.subarray(at, at + rows);
                    assert.deepEqual(u32(got), u32(want), `${dtype}/${codec}${wasm ? '' : ' (no kernels)'}: block ${i} ${kind}[${l}] head ${h}`);
                  }
                }
              }
            }
          }
        }
      } finally {
        useWasmKernels(true);
      }
    }
  });

  it('intoSpan: bad spans are typed errors naming the field; a damaged entry leaves the prefix\'s arrays untouched', () => {
    const shape = { layers: 1, kvHeads: 2, headDim: 4, tokens: 4 };
    const entry = encodeKV(syntheticKV(shape));
    const into = { k: [new Float32Array(2 * 12 * 4).fill(7)], v: [new Float32Array(2 * 12 * 4).fill(7)] };
    assert.equal(expectKVError(() => decodeKV(entry, { intoSpan: { tokens: 12, start: 0 } }), 'INVALID_INPUT').details.path, 'options.intoSpan');
    assert.deepEqual(expectKVError(() => decodeKV(entry, { into, intoSpan: { tokens: 12, start: 9 } }), 'INVALID_INPUT').details, {
      path: 'options.intoSpan.start',
      expected: "an integer in [0, 8] (the entry's 4 tokens within 12)",
      received: '9',
    });
    assert.equal(expectKVError(() => decodeKV(entry, { into, intoSpan: { tokens: 0, start: 0 } }), 'INVALID_INPUT').details.path, 'options.intoSpan.tokens');
    assert.equal(expectKVError(() => decodeKV(entry, { into, intoSpan: { tokens: 16, start: 0 } }), 'MODEL_MISMATCH').details.path, 'options.into.k[0]');
    // A prefix is made of whole blocks: with blockTokens, an entry of another length is refused.
    assert.deepEqual(expectKVError(() => decodeKV(entry, { into, intoSpan: { tokens: 12, start: 4, blockTokens: 8 } }), 'MODEL_MISMATCH').details, {
      path: 'entry.tokens',
      expected: '8 tokens (options.intoSpan.blockTokens)',
      received: '4 tokens',
    });
    assert.equal(expectKVError(() => decodeKV(entry, { into, intoSpan: { tokens: 12, start: 4, blockTokens: 0 } }), 'INVALID_INPUT').details.path, 'options.intoSpan.blockTokens');
    const damaged = Buffer.from(entry);
    damaged[damaged.length - 3]! ^= 0x10;
    expectKVError(() => decodeKV(damaged, { into, intoSpan: { tokens: 12, start: 4 } }), 'CORRUPT_ENTRY');
    assert.ok(into.k[0]!.every((x) => x === 7) && into.v[0]!.every((x) => x === 7), 'nothing written');
    decodeKV(entry, { into, intoSpan: { tokens: 12, start: 4 } });
    assert.equal(into.k[0]![0], 7, 'rows before the span untouched');
    assert.notEqual(into.k[0]![4 * 4], 7, 'the span written');
  });

  it('default options: fp16 with no codec', () => {
    assert.equal(DEFAULT_ENCODE_OPTIONS.dtype, 'fp16');
    assert.equal(DEFAULT_ENCODE_OPTIONS.codec, 'none');
    assert.equal(DEFAULT_CODEC, 'none');
    const block = syntheticKV(SHAPES[1]!);
    const h = readKVHeader(encodeKV(block));
    assert.equal(h.dtype, 'fp16');
    assert.equal(h.codec, 'none');
  });

  it('header fields', () => {
    const block = syntheticKV(SHAPES[2]!);
    const blob = encodeKV(block, { dtype: 'int8', codec: 'zlib', groupSize: 8 });
    const h = verifyKV(blob);
    assert.equal(h.version, FORMAT_VERSION);
    assert.equal(h.groupSize, 8);
    assert.equal(h.scaleDtype, 'fp32');
    assert.equal(h.totalLength, blob.length);
    assert.equal(h.payloadLength, blob.length - HEADER_BYTES);
    assert.equal(h.rawLength, encodedSize(block, { dtype: 'int8', groupSize: 8 }) - HEADER_BYTES);
    assert.deepEqual(Array.from(blob.subarray(0, 4)), [0x89, 0x4b, 0x56, 0x42]);
  });

  it("docs/format.md's worked examples are the bytes encodeKV writes", () => {
    const text = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'format.md'), 'utf8');
    const section = text.slice(text.indexOf('## 9. Worked examples'));
    // Each dump line: an offset, then two-hex-digit bytes, then the annotation.
    const dumps = [...section.matchAll(/```\n([\s\S]*?)```/g)].map((m) =>
      m[1]!.split('\n').flatMap((line) => {
        const tokens = line.trim().split(/\s+/);
        if (!/^\d+$/.test(tokens[0] ?? '')) return [];
        const bytes: number[] = [];
        for (const t of tokens.slice(1)) {
          if (!/^[0-9a-f]{2}$/.test(t)) break;
          bytes.push(parseInt(t, 16));
        }
        return bytes;
      }),
    );
    const kv = new Float32Array([1, -2, 0.5, 4, 1, 1, 1, 1]);
    const expected = [
      encodeKV(
        { layers: 1, kvHeads: 1, headDim: 2, tokens: 2, k: [new Float32Array([1, -2, 0.5, 65504])], v: [new Float32Array([0, -0, 3.140625, -1e-5])] },
        { dtype: 'fp16', identity: { blockHash: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', startPosition: 16, fingerprint: '5f'.repeat(32) } },
      ),
      encodeKV({ layers: 1, kvHeads: 1, headDim: 4, tokens: 2, k: [kv], v: [kv.slice()] }, { dtype: 'kivi2', groupSize: 2 }),
    ];
    assert.equal(dumps.length, expected.length);
    dumps.forEach((bytes, i) => assert.deepEqual(bytes, [...expected[i]!], `worked example ${i + 1}`));
  });

  it('bad options and decode targets: the error details name the option and what it should be', () => {
    const block = syntheticKV(SHAPES[1]!);
    assert.deepEqual(expectKVError(() => encodeKV(block, { codec: 'lz4' as KVCodec }), 'INVALID_INPUT').details, {
      path: 'options.codec',
      expected: 'one of none, pako, shuffle-pako, zlib, shuffle-zlib',
      received: '"lz4"',
    });
    assert.equal(expectKVError(() => formatId('fp8' as KVDtype), 'INVALID_INPUT').details.path, 'dtype');
    assert.equal(expectKVError(() => encodedSize(SHAPES[1]!, { dtype: 'fp8' as KVDtype }), 'INVALID_INPUT').details.path, 'options.dtype');
    assert.deepEqual(expectKVError(() => formatId('kivi4', { groupSize: 0 }), 'INVALID_INPUT').details, { path: 'options.groupSize', expected: 'an integer in [1, 2^32)', received: '0' });
    assert.equal(expectKVError(() => encodeKV(block, { dtype: 'int8', scaleStorage: 'fp16' }), 'INVALID_INPUT').details.path, 'options.scaleStorage');
    // fp16 kivi scales overflow above 32752: the limit and the block's largest |value| as numbers.
    const big = syntheticKV(SHAPES[1]!);
    big.v[1]![4] = -40000;
    const over = expectKVError(() => encodeKV(big, { dtype: 'kivi4', scaleStorage: 'fp16' }), 'INVALID_INPUT').details;
    assert.deepEqual([over.path, over.limit, over.actual, over.received], ['options.scaleStorage', 32752, 40000, '"fp16"']);
    const nan = syntheticKV(SHAPES[1]!);
    nan.v[1]![7] = NaN;
    assert.deepEqual(expectKVError(() => encodeKV(nan, { dtype: 'kivi2' }), 'INVALID_INPUT').details, { path: 'block.v[1][7]', expected: 'a finite value (kivi2 quantization)', received: 'NaN' });
    // A decode target of another shape: the same details as the check of a block, plus the entry's shape.
    const n = 3 * 3 * 5;
    const into = { k: [new Float32Array(n), new Float32Array(n)], v: [new Float32Array(n), new Float32Array(n - 1)] };
    const err = expectKVError(() => decodeKV(encodeKV(block), { into }), 'MODEL_MISMATCH');
    assert.deepEqual(err.details, { path: 'options.into.v[1]', expected: `${n} values (shape [3, 3, 5])`, received: `${n - 1} values`, hint: 'The entry is 2 layers × [3, 3, 5].' });
    assert.ok(err.cause instanceof Error && (err.cause as { code?: string }).code === 'INVALID_INPUT', 'the check that failed is the cause');
  });

  it('formatId and FORMAT_VERSION', () => {
    assert.equal(FORMAT_VERSION, 3);
    assert.equal(formatId('fp16'), 'kvlb3-fp16');
    assert.equal(formatId('fp32'), 'kvlb3-fp32');
    assert.equal(formatId('int8'), 'kvlb3-int8-g64');
    assert.equal(formatId('kivi2'), 'kvlb3-kivi2-g32');
    assert.equal(formatId('kivi4', { groupSize: 16 }), 'kvlb3-kivi4-g16');
    assert.equal(new Set(DTYPES.map((d) => formatId(d))).size, DTYPES.length);
  });
});
