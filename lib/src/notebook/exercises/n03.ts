/** Exercises of notebook 03 (serialization). */
import { kvBytesPerToken } from '../../model/config';
import { getPreset } from '../../model/presets';
import { fp16BitsToFp32, fp32ToFp16Bits } from '../../serde/fp16';
import type { SeededRng } from '../../runtime/rng';
import type { Exercise } from './types';

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

function fp32OfBits(bits: number): number {
  U32[0] = bits;
  return F32[0]!;
}

function bitsOfFp32(x: number): number {
  F32[0] = x;
  return U32[0]!;
}

/**
 * Float32 inputs where fp16 rounding goes wrong most easily, each with a random sign: fp16 values,
 * exact ties between two neighbours and the float32 numbers next to them, subnormals, overflow
 * (65504 … 65520 and beyond), zeros, infinities, NaN, and random bit patterns of fp16's range.
 */
function fp16Inputs(rng: SeededRng): unknown[][] {
  const out: number[] = [0, -0, 1, 65504, 65519.99609375, 65520, 1e6, 2 ** -24, 2 ** -25, 3 * 2 ** -26, Infinity, -Infinity, NaN];
  const half = (h: number): number => (h < 0x7c00 ? fp16BitsToFp32(h) : 65536);
  for (let i = 0; i < 600; i++) {
    const h = i < 100 ? rng.int(0x400) : i < 120 ? 0x7b00 + rng.int(0xff) : rng.int(0x7c00); // subnormals, the top, anywhere
    const tie = (half(h) + half(h + 1)) / 2;
    const bits = bitsOfFp32(tie);
    out.push(half(h), tie, fp32OfBits(bits - 1), fp32OfBits(bits + 1));
  }
  for (let i = 0; i < 600; i++) out.push(fp32OfBits(((rng.nextU32() & 0x807fffff) | ((100 + rng.int(45)) << 23)) >>> 0));
  // NaN keeps its canonical bits: its sign is invisible to arithmetic, so a learner's code could not see it.
  return out.map((x) => [rng.nextU32() & 1 && !Number.isNaN(x) ? -x : x]);
}

function hex(bits: number, digits: number): string {
  return `0x${bits.toString(16).padStart(digits, '0')}`;
}

export const EXERCISES_03: readonly Exercise[] = [
  { id: '03.1', question: 'How many bytes of values (no header) does one 16-token block of the default model take in fp16?', expected: () => 16 * kvBytesPerToken(getPreset('default'), 2), hint: 'Tokens × 2 (K and V) × layers × kv_heads × head_dim × 2 bytes.' },
  { id: '03.2', question: 'What are the 16 bits of 1.0 in IEEE half precision (a number, e.g. 0x3c00)?', expected: () => fp32ToFp16Bits(1.0), hint: 'Sign 0, exponent 15 (bias 15) in bits 14–10, mantissa 0.' },
  {
    kind: 'code',
    id: '03.3',
    question: 'Write fp32ToFp16Bits(x): the 16 bits of the float32 value x in IEEE half precision, rounded to nearest, ties to even.',
    cases: fp16Inputs,
    reference: (x) => fp32ToFp16Bits(x as number),
    describe: ([x]) => `x = ${Object.is(x, -0) ? '-0' : String(x)}, float32 bits ${hex(bitsOfFp32(x as number), 8)}`,
    hint: 'Sign to bit 15; exponent − 127 + 15; keep 10 mantissa bits (more dropped below 2^-14, where the exponent field is 0); round the dropped bits to nearest, ties to even (a carry may reach the exponent); 0x7c00 = Infinity from 65520 up; NaN → 0x7e00 with the top mantissa bits.',
  },
  {
    kind: 'code',
    id: '03.4',
    question: 'Write fp16BitsToFp32(h): the value of the 16-bit half-precision pattern h (0 … 65535), exactly.',
    cases: () => Array.from({ length: 65536 }, (_, h) => [h]),
    reference: (h) => fp16BitsToFp32(h as number),
    describe: ([h]) => `h = ${hex(h as number, 4)}`,
    hint: 'sign = h >> 15, e = (h >> 10) & 31, m = h & 1023: e = 0 → (−1)^sign · m · 2^-24 (keep the sign of zero); e = 31 → ±Infinity, or NaN when m ≠ 0; else (−1)^sign · 2^(e−15) · (1 + m / 1024).',
  },
];
