/**
 * The WebAssembly kernels against the JavaScript loops and independent implementations: every fp16
 * pattern decoded; encoding on every edge class (fp16 values, their midpoints and neighbours, every
 * exponent, NaN payloads, subnormal ties) through the fast and the full kernel; both directions at
 * every length/offset around the 8-value groups and the chunk sizes; XXH64 against published
 * vectors, the spec transcription and the xxhash-wasm package. (Every one of the 2^32 encode inputs:
 * scripts/check-half-exhaustive.ts.)
 */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { SeededRng } from '../../lib/src/runtime';
import {
  type HalfConversion,
  bf16BitsFromFp32Bits,
  bf16ToFp32,
  fp16BitsFromFp32Bits,
  fp16ToFp32,
  fp32ToBf16,
  fp32ToFp16,
  pinHalfPrecisionPath,
  xxh64,
  xxh64Reference,
} from '../../lib/src/serde';
import { u32 } from './helpers';
import { MAX_STAGED_BYTES, fp32ToHalves, hasWasmKernels, stagePayload, useWasmKernels } from '../../lib/src/serde/kernels';

/** Run `fn` on the wasm path and on the JavaScript path of `conversion`; returns both outputs. */
function bothWays<T extends Float32Array | Uint16Array>(conversion: HalfConversion, fn: () => T): { wasm: T; js: T } {
  try {
    pinHalfPrecisionPath(conversion, 'wasm');
    const wasm = fn().slice() as T;
    pinHalfPrecisionPath(conversion, 'js');
    const js = fn().slice() as T;
    return { wasm, js };
  } finally {
    pinHalfPrecisionPath(conversion, undefined);
  }
}

function firstDifference(a: Uint32Array | Uint16Array, b: Uint32Array | Uint16Array): string {
  if (a.length !== b.length) return `lengths ${a.length} vs ${b.length}`;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return `at ${i}: 0x${a[i]!.toString(16)} vs 0x${b[i]!.toString(16)}`;
  return 'none';
}

describe('serde: WebAssembly kernels', () => {
  it('load on this runtime (Node 20 has WebAssembly SIMD)', () => {
    assert.equal(hasWasmKernels(), true);
  });

  it('kernels-wasm.ts is the compiled kernels.wat (npm run build:wasm)', function () {
    this.timeout(30_000);
    const script = path.join(__dirname, '..', '..', 'scripts', 'build-wasm.mjs');
    const out = execFileSync(process.execPath, [script, '--check'], { encoding: 'utf8' });
    assert.match(out, /matches kernels\.wat/);
  });

  it('fp16 → fp32: all 65 536 patterns bit-identical to the lookup table (NaN payloads and signs kept)', () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const { wasm, js } = bothWays('fp16Decode', () => {
      const out = new Float32Array(all.length);
      fp16ToFp32(all, out);
      return out;
    });
    assert.equal(firstDifference(u32(wasm), u32(js)), 'none');
  });

  it('fp16 and bf16 decoding at lengths and offsets around the 8-value groups and the 128 Ki-value chunks', () => {
    const rng = new SeededRng(11);
    const pool = new Uint16Array(300_000);
    for (let i = 0; i < pool.length; i++) pool[i] = rng.int(65536);
    const lengths = [0, 1, 7, 8, 9, 15, 16, 17, 1000, 131_071, 131_072, 131_073, 262_151];
    for (const kind of ['fp16', 'bf16'] as const) {
      const convert = kind === 'fp16' ? fp16ToFp32 : bf16ToFp32;
      for (const offset of [0, 1, 3]) {
        for (const n of lengths) {
          const src = pool.subarray(offset, offset + n);
          const { wasm, js } = bothWays(kind === 'fp16' ? 'fp16Decode' : 'bf16Decode', () => {
            const out = new Float32Array(n + 2).subarray(1, n + 1); // a view that does not start at 0
            convert(src, out);
            return out;
          });
          assert.equal(firstDifference(u32(wasm), u32(js)), 'none', `${kind} offset ${offset} length ${n}`);
        }
      }
    }
  });

  describe('fp32 → fp16 / bf16 encoding', () => {
    /** Every edge class of both formats, as fp32 bit patterns (a few hundred thousand). */
    function edgePatterns(): Uint32Array {
      const out: number[] = [];
      const add = (b: number): void => {
        out.push(b >>> 0, (b ^ 0x80000000) >>> 0); // both signs
      };
      const f32 = new Float32Array(1);
      const u32v = new Uint32Array(f32.buffer);
      const bitsOf = (x: number): number => {
        f32[0] = x;
        return u32v[0]!;
      };
      // Every finite fp16 value, its neighbours in fp32, the midpoint to the next fp16 value (a tie)
      // and the midpoint's neighbours; the same for bf16 (the high half of an fp32).
      for (let h = 0; h < 0x7c00; h++) {
        const lo = bitsOf(fp16Value(h));
        const mid = bitsOf((fp16Value(h) + fp16Value(h + 1)) / 2);
        for (const b of [lo, lo - 1, lo + 1, mid, mid - 1, mid + 1]) if (b >= 0) add(b);
      }
      for (let h = 0; h < 0x7f80; h++) for (const d of [0, -1, 1, 0x7fff, 0x8000, 0x8001, 0xffff]) add(((h << 16) + d) >>> 0);
      // Every exponent with several mantissas (the fp16 and bf16 rounding bits among them).
      const mantissas = [0, 1, 2, 0xfff, 0x1000, 0x1001, 0x1fff, 0x2000, 0x3000, 0x7fff, 0x8000, 0x8001, 0x18000, 0x3ff000, 0x400000, 0x7fe000, 0x7fefff, 0x7ff000, 0x7fffff];
      for (let e = 0; e < 256; e++) for (const m of mantissas) add((e << 23) | m);
      // NaN payload shapes: every single payload bit, all but one, all, quiet and signalling.
      for (let bit = 0; bit < 23; bit++) {
        add(0x7f800000 | (1 << bit));
        add(0x7fffffff ^ (1 << bit));
        add(0x7fc00000 | (1 << bit));
      }
      add(0x7fffffff);
      add(0x7f800000); // ±Inf
      add(0); // ±0
      // fp16 overflow boundary: 65504 (max), 65519.99, 65520 (tie → Inf), 2^16, and up.
      for (const x of [65504, 65519.99609375, 65520, 65536, 65537, 131072, 3.4e38]) add(bitsOf(x));
      // Random patterns.
      const rng = new SeededRng(29);
      for (let i = 0; i < 100_000; i++) out.push(rng.nextU32());
      return Uint32Array.from(out);
    }

    function fp16Value(h: number): number {
      const e = h >>> 10;
      const m = h & 0x3ff;
      return e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15);
    }

    const REFERENCE = { fp16: fp16BitsFromFp32Bits, bf16: bf16BitsFromFp32Bits };
    const ENCODE = { fp16: fp32ToFp16, bf16: fp32ToBf16 };

    for (const kind of ['fp16', 'bf16'] as const) {
      it(`${kind}: fast and full kernel and the JS loop equal the scalar reference on every edge class`, () => {
        const bits = edgePatterns();
        const src = new Float32Array(bits.buffer);
        const expected = Uint16Array.from(bits, (b) => REFERENCE[kind](b));
        const conversion = kind === 'fp16' ? 'fp16Encode' : 'bf16Encode';
        const { wasm, js } = bothWays(conversion, () => {
          const out = new Uint16Array(src.length);
          ENCODE[kind](src, out);
          return out;
        });
        const full = new Uint16Array(src.length);
        const done = fp32ToHalves(kind, src, full, true);
        for (let i = done; i < src.length; i++) full[i] = REFERENCE[kind](bits[i]!);
        assert.equal(firstDifference(wasm, expected), 'none', 'wasm');
        assert.equal(firstDifference(full, expected), 'none', 'wasm, full kernel only');
        assert.equal(firstDifference(js, expected), 'none', 'js');
      });

      it(`${kind}: lengths and offsets around the 8-value groups and the 64 Ki-value chunks; one NaN sends its chunk to the full kernel`, () => {
        const rng = new SeededRng(kind === 'fp16' ? 5 : 6);
        const pool = new Float32Array(270_000);
        for (let i = 0; i < pool.length; i++) pool[i] = rng.normal() * 4;
        pool[70_000] = NaN; // the second chunk of a view starting at 0 holds a NaN
        new Uint32Array(pool.buffer)[70_001] = 0xffa00001; // and a NaN with a payload
        pool[70_002] = 1e6; // and an fp16 overflow
        const lengths = [0, 1, 7, 8, 9, 15, 16, 17, 1000, 65_535, 65_536, 65_537, 131_079, 262_151];
        for (const offset of [0, 1, 3]) {
          for (const dstOffset of [0, 1]) {
            for (const n of lengths) {
              const src = pool.subarray(offset, offset + n);
              const { wasm, js } = bothWays(kind === 'fp16' ? 'fp16Encode' : 'bf16Encode', () => {
                const out = new Uint16Array(n + 2).subarray(dstOffset, dstOffset + n);
                ENCODE[kind](src, out);
                return out;
              });
              const expected = Uint16Array.from(new Uint32Array(src.buffer, src.byteOffset, n), (b) => REFERENCE[kind](b));
              assert.equal(firstDifference(wasm, expected), 'none', `wasm, offset ${offset}, dst offset ${dstOffset}, length ${n}`);
              assert.equal(firstDifference(js, expected), 'none', `js, offset ${offset}, dst offset ${dstOffset}, length ${n}`);
            }
          }
        }
      });
    }

    it('with the kernels switched off, conversions fall back to another path, bit-identical on NaN-free data', () => {
      const rng = new SeededRng(8);
      const src = new Float32Array(5000);
      for (let i = 0; i < src.length; i++) src[i] = rng.normal();
      const run = (): Uint16Array[] => {
        const a = new Uint16Array(src.length);
        const b = new Uint16Array(src.length);
        fp32ToFp16(src, a);
        fp32ToBf16(src, b);
        return [a, b];
      };
      const [onF16, onBf16] = run();
      try {
        assert.equal(useWasmKernels(false), false);
        const [offF16, offBf16] = run();
        assert.equal(firstDifference(offF16!, onF16!), 'none');
        assert.equal(firstDifference(offBf16!, onBf16!), 'none');
        assert.equal(fp32ToHalves('fp16', src, new Uint16Array(src.length)), 0, 'the kernels report that they did nothing');
        const back = new Float32Array(src.length);
        const expected = new Float32Array(src.length);
        fp16ToFp32(offF16!, back);
        bf16ToFp32(offBf16!, expected); // decoded with the kernels off too; checked against the kernels below
        useWasmKernels(true);
        const backOn = new Float32Array(src.length);
        const expectedOn = new Float32Array(src.length);
        fp16ToFp32(offF16!, backOn);
        bf16ToFp32(offBf16!, expectedOn);
        assert.equal(firstDifference(u32(back), u32(backOn)), 'none', 'fp16 decode');
        assert.equal(firstDifference(u32(expected), u32(expectedOn)), 'none', 'bf16 decode');
      } finally {
        useWasmKernels(true);
      }
    });
  });

  describe('a staged payload (copied in once, checksummed and converted there)', () => {
    /** Every value `halvesToFp32` hands out, gathered in order, with a check that chunks come in order. */
    const gather = (staged: NonNullable<ReturnType<typeof stagePayload>>, kind: 'fp16' | 'bf16', byteOffset: number, count: number): Float32Array => {
      const out = new Float32Array(count);
      let next = 0;
      staged.halvesToFp32(kind, byteOffset, count, (values, first) => {
        assert.equal(first, next, 'chunks in order, none skipped');
        out.set(values, first);
        next = first + values.length;
      });
      assert.equal(next, count);
      return out;
    };

    it('XXH64 and fp16/bf16 conversion equal the unstaged kernels at every tail length and across chunks, NaN payloads kept', () => {
      const rng = new SeededRng(21);
      const bytes = new Uint8Array(2 * 262_151 + 64);
      for (let i = 0; i < bytes.length; i++) bytes[i] = rng.int(256);
      for (const [offset, count] of [[0, 0], [0, 1], [2, 7], [0, 8], [6, 9], [0, 1000], [2, 131_071], [0, 131_072], [0, 131_073], [2, 262_151]] as const) {
        const payload = bytes.subarray(0, offset + 2 * count + (count % 3));
        const staged = stagePayload(payload)!;
        assert.equal(staged.xxh64(77n), xxh64(payload, 77n), `xxh64 of ${payload.length} bytes`);
        const halves = new Uint16Array(bytes.buffer.slice(offset, offset + 2 * count));
        for (const kind of ['fp16', 'bf16'] as const) {
          const expected = new Float32Array(count);
          (kind === 'fp16' ? fp16ToFp32 : bf16ToFp32)(halves, expected);
          assert.equal(firstDifference(u32(gather(staged, kind, offset, count)), u32(expected)), 'none', `${kind} at ${offset}, ${count} values`);
        }
      }
    });

    it('refuses values outside the payload or unaligned; payloads above MAX_STAGED_BYTES or with the kernels off are not staged', () => {
      const staged = stagePayload(new Uint8Array(64))!;
      assert.throws(() => staged.halvesToFp32('fp16', 1, 4, () => undefined), RangeError);
      assert.throws(() => staged.halvesToFp32('fp16', 0, 33, () => undefined), RangeError);
      assert.equal(stagePayload(new Uint8Array(MAX_STAGED_BYTES + 1)), undefined);
      try {
        useWasmKernels(false);
        assert.equal(stagePayload(new Uint8Array(64)), undefined);
      } finally {
        useWasmKernels(true);
      }
    });

    it('growing the memory for a large payload leaves the other kernels working', () => {
      const big = new Uint8Array(MAX_STAGED_BYTES).fill(0x3c); // fp16 0x3c3c in every lane
      const staged = stagePayload(big)!;
      assert.equal(staged.xxh64(0n), xxh64(big, 0n));
      const halves = Uint16Array.from({ length: 1000 }, (_, i) => i * 61);
      const { wasm, js } = bothWays('fp16Decode', () => {
        const out = new Float32Array(halves.length);
        fp16ToFp32(halves, out);
        return out;
      });
      assert.equal(firstDifference(u32(wasm), u32(js)), 'none');
      const values = Float32Array.from({ length: 1000 }, (_, i) => i / 7);
      const enc = new Uint16Array(values.length);
      fp32ToFp16(values, enc);
      assert.equal(enc[700], fp16BitsFromFp32Bits(new Uint32Array(values.buffer)[700]!));
    });
  });

  describe('XXH64', () => {
    const text = (s: string): Uint8Array => new TextEncoder().encode(s);

    it('matches published values', () => {
      assert.equal(xxh64(new Uint8Array(0)), 0xef46db3751d8e999n);
      assert.equal(xxh64(text('a')), 0xd24ec4f1a98c6e5bn);
      assert.equal(xxh64(text('abc')), 0x44bc2cf5ad770999n);
      assert.equal(xxh64(text('Nobody inspects the spammish repetition')), 0xfbcea83c8a378bf1n); // python-xxhash's README
    });

    it('kernel, spec transcription and the xxhash-wasm package agree at every tail length and across chunks', async () => {
      const other = await (await import('xxhash-wasm')).default(); // an ES module: imported dynamically
      const rng = new SeededRng(3);
      const big = new Uint8Array(3 * 256 * 1024 + 100);
      for (let i = 0; i < big.length; i++) big[i] = rng.int(256);
      const cases: [number, number][] = [];
      for (let n = 0; n <= 100; n++) cases.push([rng.int(8), n]);
      for (const n of [256 * 1024 - 1, 256 * 1024, 256 * 1024 + 31, 256 * 1024 + 32, 3 * 256 * 1024 + 99]) cases.push([1, n]);
      for (const [offset, n] of cases) {
        const view = big.subarray(offset, offset + n);
        const seed = BigInt(n) * 0x9e3779b97f4a7c15n;
        const expected = other.h64Raw(view, BigInt.asUintN(64, seed));
        assert.equal(xxh64(view, seed), expected, `kernel, offset ${offset} length ${n}`);
        if (n <= 4096) assert.equal(xxh64Reference(view, seed), expected, `reference, length ${n}`);
      }
      assert.equal(xxh64(big, 0n, 5, 1005), xxh64(big.subarray(5, 1005)), 'start/end select the same bytes as a subarray');
    });

    it('falls back to the BigInt transcription when the kernels are off', () => {
      const data = text('fallback path');
      try {
        useWasmKernels(false);
        assert.equal(xxh64(data), xxh64Reference(data));
      } finally {
        useWasmKernels(true);
      }
      assert.equal(xxh64(data), xxh64Reference(data));
    });

    it('every single-bit flip in a 4 KiB block changes the hash', () => {
      const block = new Uint8Array(4096);
      for (let i = 0; i < block.length; i++) block[i] = (i * 31) & 255;
      const h = xxh64(block);
      for (let bit = 0; bit < block.length * 8; bit += 7) {
        block[bit >>> 3]! ^= 1 << (bit & 7);
        assert.notEqual(xxh64(block), h, `bit ${bit}`);
        block[bit >>> 3]! ^= 1 << (bit & 7);
      }
    });
  });
});
