/**
 * XXH64 (xxhash.com, the 64-bit hash of xxHash 0.8): the checksum of KV entries since format 2.
 * Not a CRC, but a hash whose every output bit depends on every input bit; a damaged entry passes
 * with probability 2^-64. Chosen over CRC-32C because it is ~7× faster here (no CRC instruction is
 * reachable from JavaScript, while XXH64's four 64-bit lanes suit WebAssembly), and the checksum
 * was half the cost of decoding an entry. The LZ4 frame format uses xxHash for the same purpose.
 *
 * `xxh64` runs the WebAssembly kernel; `xxh64Reference` is a plain BigInt transcription of the
 * specification, used where WebAssembly SIMD is missing and by the tests as an independent check.
 */
import { xxh64Wasm } from './kernels';

const MASK = (1n << 64n) - 1n;
const P1 = 0x9e3779b185ebca87n;
const P2 = 0xc2b2ae3d27d4eb4fn;
const P3 = 0x165667b19e3779f9n;
const P4 = 0x85ebca77c2b2ae63n;
const P5 = 0x27d4eb2f165667c5n;

/**
 * XXH64 of `data[start, end)`.
 * @returns the hash as an unsigned 64-bit bigint.
 */
export function xxh64(data: Uint8Array, seed = 0n, start = 0, end = data.length): bigint {
  const bytes = start === 0 && end === data.length ? data : data.subarray(start, end);
  return xxh64Wasm(bytes, BigInt.asUintN(64, seed)) ?? xxh64Reference(bytes, seed);
}

const rotl = (x: bigint, r: bigint): bigint => ((x << r) | (x >> (64n - r))) & MASK;
const mul = (a: bigint, b: bigint): bigint => (a * b) & MASK;
const round = (acc: bigint, lane: bigint): bigint => mul(rotl((acc + mul(lane, P2)) & MASK, 31n), P1);
const merge = (h: bigint, v: bigint): bigint => (mul(h ^ round(0n, v), P1) + P4) & MASK;

/** The specification, step by step, in BigInt arithmetic (≈ 100× slower than the kernel). */
export function xxh64Reference(data: Uint8Array, seed = 0n): bigint {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const len = data.length;
  const s = BigInt.asUintN(64, seed);
  let p = 0;
  let h: bigint;
  if (len >= 32) {
    let v1 = (s + P1 + P2) & MASK;
    let v2 = (s + P2) & MASK;
    let v3 = s;
    let v4 = (s - P1) & MASK;
    for (; p + 32 <= len; p += 32) {
      v1 = round(v1, view.getBigUint64(p, true));
      v2 = round(v2, view.getBigUint64(p + 8, true));
      v3 = round(v3, view.getBigUint64(p + 16, true));
      v4 = round(v4, view.getBigUint64(p + 24, true));
    }
    h = (rotl(v1, 1n) + rotl(v2, 7n) + rotl(v3, 12n) + rotl(v4, 18n)) & MASK;
    for (const v of [v1, v2, v3, v4]) h = merge(h, v);
  } else {
    h = (s + P5) & MASK;
  }
  h = (h + BigInt(len)) & MASK;
  for (; p + 8 <= len; p += 8) h = (mul(rotl(h ^ round(0n, view.getBigUint64(p, true)), 27n), P1) + P4) & MASK;
  if (p + 4 <= len) {
    h = (mul(rotl(h ^ mul(BigInt(view.getUint32(p, true)), P1), 23n), P2) + P3) & MASK;
    p += 4;
  }
  for (; p < len; p++) h = mul(rotl(h ^ mul(BigInt(data[p]!), P5), 11n), P1);
  h = mul(h ^ (h >> 33n), P2);
  h = mul(h ^ (h >> 29n), P3);
  return h ^ (h >> 32n);
}
