import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { SeededRng } from '../../lib/src/runtime';
import {
  byteShuffle,
  byteUnshuffle,
  decodeKV,
  dequantizeInt8,
  encodeKV,
  type KVBlockData,
  packCodes,
  quantizeInt8,
  readKVHeader,
  syntheticKV,
  unpackCodes,
} from '../../lib/src/serde';
import { expectKVError } from './helpers';

/**
 * Independent worst-case error of one group: the encoder rounds its min down and its scale up
 * to fp16 (at most one fp16 ulp each, 2^-10 relative, or 2^-24 absolute in the subnormal range),
 * then the error is at most scale / 2; plus the final fp32 rounding of the decoded value.
 */
function asymBound(lo: number, hi: number, levels: number, x: number): number {
  const minSlack = Math.abs(lo) * 2 ** -10 + 2 ** -24;
  const scale = (((hi - lo + minSlack) / levels) * (1 + 2 ** -10)) + 2 ** -24;
  return (scale / 2) * (1 + 1e-9) + Math.abs(x) * 2 ** -23;
}

/** Check the KIVI error bound group by group (K per channel over token groups, V per token). */
function checkKivi(orig: KVBlockData, dec: KVBlockData, bits: number, G: number): number {
  const { kvHeads: H, tokens: T, headDim: D } = orig;
  const levels = (1 << bits) - 1;
  let worst = 0;
  for (let l = 0; l < orig.layers; l++) {
    const a = orig.k[l]!;
    const b = dec.k[l]!;
    for (let h = 0; h < H; h++) {
      for (let t0 = 0; t0 < T; t0 += G) {
        const t1 = Math.min(T, t0 + G);
        for (let d = 0; d < D; d++) {
          let lo = Infinity;
          let hi = -Infinity;
          for (let t = t0; t < t1; t++) {
            const x = a[(h * T + t) * D + d]!;
            lo = Math.min(lo, x);
            hi = Math.max(hi, x);
          }
          for (let t = t0; t < t1; t++) {
            const i = (h * T + t) * D + d;
            const err = Math.abs(a[i]! - b[i]!);
            const bound = asymBound(lo, hi, levels, a[i]!);
            if (err > bound) assert.fail(`K layer ${l} head ${h} token ${t} ch ${d}: error ${err} > bound ${bound}`);
            worst = Math.max(worst, err / bound);
          }
        }
      }
    }
    const av = orig.v[l]!;
    const bv = dec.v[l]!;
    for (let row = 0; row < H * T; row++) {
      for (let g0 = 0; g0 < D; g0 += G) {
        const g1 = Math.min(D, g0 + G);
        let lo = Infinity;
        let hi = -Infinity;
        for (let d = g0; d < g1; d++) {
          lo = Math.min(lo, av[row * D + d]!);
          hi = Math.max(hi, av[row * D + d]!);
        }
        for (let d = g0; d < g1; d++) {
          const i = row * D + d;
          const err = Math.abs(av[i]! - bv[i]!);
          const bound = asymBound(lo, hi, levels, av[i]!);
          if (err > bound) assert.fail(`V layer ${l} row ${row} ch ${d}: error ${err} > bound ${bound}`);
          worst = Math.max(worst, err / bound);
        }
      }
    }
  }
  return worst;
}

/** int8: |x − x'| ≤ absmax(group) / 254 (+ fp32 rounding of the scale and of x'). */
function checkInt8(orig: KVBlockData, dec: KVBlockData, G: number): number {
  const D = orig.headDim;
  let worst = 0;
  for (const kind of ['k', 'v'] as const) {
    for (let l = 0; l < orig.layers; l++) {
      const a = orig[kind][l]!;
      const b = dec[kind][l]!;
      for (let row = 0; row < a.length; row += D) {
        for (let g0 = row; g0 < row + D; g0 += G) {
          const g1 = Math.min(row + D, g0 + G);
          let absmax = 0;
          for (let i = g0; i < g1; i++) absmax = Math.max(absmax, Math.abs(a[i]!));
          for (let i = g0; i < g1; i++) {
            const err = Math.abs(a[i]! - b[i]!);
            const bound = (absmax / 254) * (1 + 2 ** -22) + Math.abs(a[i]!) * 2 ** -23 + 1e-45;
            if (err > bound) assert.fail(`${kind} layer ${l} index ${i}: error ${err} > bound ${bound}`);
            worst = Math.max(worst, err / bound);
          }
        }
      }
    }
  }
  return worst;
}

describe('serde: int8', () => {
  for (const G of [1, 7, 32, 64, 1000]) {
    it(`stays within absmax/254 per group (group size ${G}, odd head_dim, outlier channels)`, () => {
      const block = syntheticKV({ layers: 2, kvHeads: 3, headDim: 40, tokens: 9 }, { seed: G });
      const dec = decodeKV(encodeKV(block, { dtype: 'int8', groupSize: G }));
      const worst = checkInt8(block, dec, G);
      // With one value per group every value is its own absmax: (almost) no error at all.
      if (G > 1) assert.ok(worst > 0.3, `the bound should be reasonably tight, worst ratio ${worst}`);
    });
  }

  it('maps zeros to 0 exactly and ±absmax to ±127', () => {
    const src = new Float32Array([0, 0, 0, 0, 3, 3, 3, 3, -2, 2, 1, -1]);
    const codes = new Int8Array(12);
    const scales = new Float32Array(3);
    quantizeInt8(src, 4, 4, codes, scales);
    assert.deepEqual(Array.from(codes), [0, 0, 0, 0, 127, 127, 127, 127, -127, 127, 63, -63]);
    const out = new Float32Array(12);
    dequantizeInt8(codes, scales, 4, 4, out);
    assert.deepEqual(Array.from(out.subarray(0, 4)), [0, 0, 0, 0]);
    // absmax comes back as 127 · scale, the scale rounded up to fp32: within one part in 2^23.
    for (const i of [4, 8, 9]) assert.ok(Math.abs(out[i]! - src[i]!) <= Math.abs(src[i]!) * 2 ** -22, `index ${i}: ${out[i]}`);
  });

  it('handles tiny (subnormal) and large (1e38) magnitudes without overflow', () => {
    const src = new Float32Array([1e-40, -3e-41, 0, 1e-45, 3e38, -1e38, 2e38, 0]);
    const block: KVBlockData = { layers: 1, kvHeads: 1, tokens: 1, headDim: 8, k: [src], v: [src] };
    const dec = decodeKV(encodeKV(block, { dtype: 'int8', groupSize: 4 }));
    checkInt8(block, dec, 4);
    assert.ok(dec.k[0]!.every(Number.isFinite));
  });

  it('rejects NaN and ±Infinity with InvalidInputError', () => {
    for (const bad of [NaN, Infinity, -Infinity]) {
      const block = syntheticKV({ layers: 2, kvHeads: 1, headDim: 8, tokens: 4 });
      block.v[1]![13] = bad;
      const err = expectKVError(() => encodeKV(block, { dtype: 'int8' }), 'INVALID_INPUT');
      assert.match(err.message, /finite/);
    }
  });
});

describe('serde: KIVI-style low-bit', () => {
  for (const dtype of ['kivi4', 'kivi2'] as const) {
    const bits = dtype === 'kivi4' ? 4 : 2;
    for (const G of [32, 5, 1]) {
      it(`${dtype}: K per channel and V per token stay within scale/2 (group ${G})`, () => {
        const block = syntheticKV({ layers: 2, kvHeads: 2, headDim: 12, tokens: 37 }, { seed: 3 + G });
        const blob = encodeKV(block, { dtype, groupSize: G });
        assert.equal(readKVHeader(blob).scaleDtype, 'fp16');
        const worst = checkKivi(block, decodeKV(blob), bits, G);
        assert.ok(G === 1 || worst > 0.3, `the bound should be reasonably tight, worst ratio ${worst}`);
      });
    }

    it(`${dtype}: per-channel keys beat per-token keys on outlier channels`, () => {
      // Same data, K quantized per channel (as stored) vs what V's per-token grouping gives it.
      const block = syntheticKV({ layers: 1, kvHeads: 2, headDim: 64, tokens: 64 }, { seed: 11, outlierFraction: 0.1 });
      const asKeys = decodeKV(encodeKV(block, { dtype }));
      const swapped: KVBlockData = { ...block, k: block.v, v: block.k };
      const asValues = decodeKV(encodeKV(swapped, { dtype })).v;
      const err = (x: Float32Array, y: Float32Array): number => x.reduce((s, a, i) => s + (a - y[i]!) ** 2, 0);
      assert.ok(err(block.k[0]!, asKeys.k[0]!) < err(block.k[0]!, asValues[0]!), 'per-channel K error should be smaller');
    });

    it(`${dtype}: fp32 scales when values exceed the fp16-safe range (auto), or on request`, () => {
      const block = syntheticKV({ layers: 1, kvHeads: 1, headDim: 16, tokens: 8 });
      block.k[0]![3] = 5e4;
      const auto = encodeKV(block, { dtype });
      assert.equal(readKVHeader(auto).scaleDtype, 'fp32');
      checkKivi(block, decodeKV(auto), bits, 32);
      expectKVError(() => encodeKV(block, { dtype, scaleStorage: 'fp16' }), 'INVALID_INPUT');
      const small = syntheticKV({ layers: 1, kvHeads: 1, headDim: 16, tokens: 8 });
      const f32 = encodeKV(small, { dtype, scaleStorage: 'fp32' });
      assert.equal(readKVHeader(f32).scaleDtype, 'fp32');
      checkKivi(small, decodeKV(f32), bits, 32);
      assert.ok(f32.length > encodeKV(small, { dtype }).length);
    });

    it(`${dtype}: constant groups decode exactly; tiny ranges stay within the bound`, () => {
      const n = 2 * 4 * 8;
      const k = new Float32Array(n).fill(0.75);
      const v = new Float32Array(n).map((_, i) => 1 + i * 1e-7);
      const block: KVBlockData = { layers: 1, kvHeads: 2, tokens: 4, headDim: 8, k: [k], v: [v] };
      const dec = decodeKV(encodeKV(block, { dtype, groupSize: 4 }));
      assert.ok(dec.k[0]!.every((x) => x === 0.75));
      checkKivi(block, dec, bits, 4);
    });

    it(`${dtype}: rejects NaN and ±Infinity with InvalidInputError`, () => {
      const block = syntheticKV({ layers: 1, kvHeads: 1, headDim: 8, tokens: 4 });
      block.k[0]![5] = NaN;
      expectKVError(() => encodeKV(block, { dtype }), 'INVALID_INPUT');
      block.k[0]![5] = -Infinity;
      expectKVError(() => encodeKV(block, { dtype }), 'INVALID_INPUT');
    });
  }

  it('kivi2 is smaller than kivi4 is smaller than int8 is smaller than fp16', () => {
    const block = syntheticKV({ layers: 2, kvHeads: 4, headDim: 64, tokens: 64 });
    const sizes = (['fp16', 'int8', 'kivi4', 'kivi2'] as const).map((dtype) => encodeKV(block, { dtype }).length);
    for (let i = 1; i < sizes.length; i++) assert.ok(sizes[i]! < sizes[i - 1]!, `sizes ${sizes.join(' > ')}`);
  });
});

describe('serde: bit packing and byte shuffle', () => {
  it('pack/unpack are inverse for every length, 2 and 4 bits; padding bits are zero', () => {
    const rng = new SeededRng(5);
    for (const bits of [2, 4]) {
      for (let n = 0; n <= 21; n++) {
        const codes = Uint8Array.from({ length: n }, () => rng.int(1 << bits));
        const packed = new Uint8Array(Math.ceil((n * bits) / 8)).fill(0xff);
        packCodes(codes, n, bits, packed);
        const back = new Uint8Array(n);
        assert.equal(unpackCodes(packed, n, bits, back), true);
        assert.deepEqual(back, codes);
        if ((n * bits) % 8 !== 0) {
          packed[packed.length - 1]! |= 0x80;
          assert.equal(unpackCodes(packed, n, bits, back), false, 'set padding bits are reported');
        }
      }
    }
  });

  it('shuffle/unshuffle are inverse for widths 1–5 and any length', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 70 }), fc.integer({ min: 1, max: 5 }), (data, width) => {
        const s = new Uint8Array(data.length);
        const back = new Uint8Array(data.length);
        byteShuffle(data, s, width);
        byteUnshuffle(s, back, width);
        return Buffer.from(back).equals(Buffer.from(data));
      }),
      { seed: 9, numRuns: 300 },
    );
    const s = new Uint8Array(5);
    byteShuffle(Uint8Array.from([1, 2, 3, 4, 9]), s, 2);
    assert.deepEqual(Array.from(s), [1, 3, 2, 4, 9]);
  });
});
