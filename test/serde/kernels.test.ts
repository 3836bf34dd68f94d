/**
 * The WebAssembly kernels against the JavaScript loops and independent implementations: every fp16
 * pattern, bf16 at every length/offset around the 8-value groups and the chunk size, XXH64 against
 * published vectors, the spec transcription and the xxhash-wasm package.
 */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { SeededRng } from '../../lib/src/runtime';
import { bf16ToFp32, fp16ToFp32, xxh64, xxh64Reference } from '../../lib/src/serde';
import { hasWasmKernels, useWasmKernels } from '../../lib/src/serde/kernels';

/** Run `fn` with the kernels on and off; returns both outputs' bit patterns. */
function bothWays(fn: () => Float32Array): { wasm: Uint32Array; js: Uint32Array } {
  try {
    assert.equal(useWasmKernels(true), true);
    const wasm = new Uint32Array(fn().buffer.slice(0));
    useWasmKernels(false);
    const js = new Uint32Array(fn().buffer.slice(0));
    return { wasm, js };
  } finally {
    useWasmKernels(true);
  }
}

function firstDifference(a: Uint32Array, b: Uint32Array): string {
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
    const { wasm, js } = bothWays(() => {
      const out = new Float32Array(all.length);
      fp16ToFp32(all, out);
      return out;
    });
    assert.equal(firstDifference(wasm, js), 'none');
  });

  it('fp16 and bf16 at lengths and offsets around the 8-value groups and the 128 Ki-value chunks', () => {
    const rng = new SeededRng(11);
    const pool = new Uint16Array(300_000);
    for (let i = 0; i < pool.length; i++) pool[i] = rng.int(65536);
    const lengths = [0, 1, 7, 8, 9, 15, 16, 17, 1000, 131_071, 131_072, 131_073, 262_151];
    for (const kind of ['fp16', 'bf16'] as const) {
      const convert = kind === 'fp16' ? fp16ToFp32 : bf16ToFp32;
      for (const offset of [0, 1, 3]) {
        for (const n of lengths) {
          const src = pool.subarray(offset, offset + n);
          const { wasm, js } = bothWays(() => {
            const out = new Float32Array(n + 2).subarray(1, n + 1); // a view that does not start at 0
            convert(src, out);
            return out.slice();
          });
          assert.equal(firstDifference(wasm, js), 'none', `${kind} offset ${offset} length ${n}`);
        }
      }
    }
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
