/**
 * Check every one of the 2^32 fp32 bit patterns through each fp32 → fp16 / bf16 path against the
 * scalar JavaScript reference (fp16BitsFromFp32Bits, bf16BitsFromFp32Bits), chunk by chunk, and
 * write what it found to results/half-exhaustive.json. Run with --help for the options.
 *
 * Paths: `wasm` (the fast kernel, which hands chunks holding NaN, ±Inf or fp16 overflow to the
 * full one), `wasm-full` (the full kernel alone, on every input), `js` (the bulk JavaScript
 * loop) and, where the runtime has a Float16Array, `native` (its NaN bits may differ: counted
 * apart, not a failure). Takes about a minute per format on a quiet 2-core machine.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { progress } from '../lib/src/runtime/progress';
import {
  bf16BitsFromFp32Bits,
  fp16BitsFromFp32Bits,
  fp32ToBf16,
  fp32ToFp16,
  hasNativeFloat16,
  hasWasmKernels,
  type HalfPath,
  pinHalfPrecisionPath,
} from '../lib/src/serde';
import { fp32ToHalves } from '../lib/src/serde/kernels';
import { KERNELS_WASM_BASE64 } from '../lib/src/serde/kernels/kernels-wasm';

type Kind = 'fp16' | 'bf16';
type Variant = HalfPath | 'wasm-full';

const HELP = `Usage: npx tsx scripts/check-half-exhaustive.ts [options]

Checks every fp32 bit pattern in [--from, --to) through each fp32 → fp16/bf16 path against the
scalar JavaScript reference; exits 1 if an exact path (wasm, wasm-full, js) differs anywhere.

Options:
  --kinds LIST       formats to check, comma-separated (default fp16,bf16)
  --from N           first pattern, decimal or 0x hex (default 0)
  --to N             one past the last pattern (default 0x100000000 = all 2^32)
  --chunk-log2 K     patterns per chunk = 2^K, 3 ≤ K ≤ 26 (default 24: 64 MiB of fp32 per chunk)
  --out FILE         results file (default results/half-exhaustive.json)
  -h, --help         this text`;

interface VariantResult {
  checked: number;
  mismatches: number;
  /** Mismatches whose input was a NaN (allowed for the native path only). */
  nanMismatches: number;
  /** The first few mismatches: input bits, expected and actual 16-bit results (hex). */
  examples: { input: string; expected: string; got: string }[];
}

function parseNumber(name: string, text: string): number {
  const n = /^0x[0-9a-f]+$/i.test(text) ? parseInt(text.slice(2), 16) : /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < 0 || n > 2 ** 32) throw new Error(`--${name} must be an integer in [0, 2^32], got ${text}`);
  return n;
}

function hex(n: number, digits: number): string {
  return `0x${n.toString(16).padStart(digits, '0')}`;
}

/** Fill `bits` with the patterns base, base + 1, … */
function fillPatterns(bits: Uint32Array, base: number): void {
  for (let i = 0; i < bits.length; i++) bits[i] = base + i;
}

function reference(kind: Kind, bits: Uint32Array, out: Uint16Array): void {
  if (kind === 'fp16') for (let i = 0; i < bits.length; i++) out[i] = fp16BitsFromFp32Bits(bits[i]!);
  else for (let i = 0; i < bits.length; i++) out[i] = bf16BitsFromFp32Bits(bits[i]!);
}

function convert(kind: Kind, variant: Variant, src: Float32Array, out: Uint16Array): void {
  if (variant === 'wasm-full') {
    if (fp32ToHalves(kind, src, out, true) !== src.length) throw new Error('the chunk length must be a multiple of 8');
    return;
  }
  pinHalfPrecisionPath(kind === 'fp16' ? 'fp16Encode' : 'bf16Encode', variant);
  (kind === 'fp16' ? fp32ToFp16 : fp32ToBf16)(src, out);
}

function compare(kind: Kind, bits: Uint32Array, expected: Uint16Array, got: Uint16Array, r: VariantResult): void {
  r.checked += bits.length;
  if (Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength).equals(Buffer.from(got.buffer, got.byteOffset, got.byteLength))) return;
  for (let i = 0; i < bits.length; i++) {
    if (expected[i] === got[i]) continue;
    r.mismatches++;
    if ((bits[i]! & 0x7fffffff) > 0x7f800000) r.nanMismatches++;
    if (r.examples.length < 8) r.examples.push({ input: hex(bits[i]!, 8), expected: hex(expected[i]!, 4), got: hex(got[i]!, 4) });
  }
}

function main(): void {
  const { values } = parseArgs({
    options: {
      kinds: { type: 'string', default: 'fp16,bf16' },
      from: { type: 'string', default: '0' },
      to: { type: 'string', default: '0x100000000' },
      'chunk-log2': { type: 'string', default: '24' },
      out: { type: 'string', default: path.join('results', 'half-exhaustive.json') },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const kinds = values.kinds.split(',').map((k) => k.trim());
  for (const k of kinds) if (k !== 'fp16' && k !== 'bf16') throw new Error(`--kinds: unknown format ${k} (fp16, bf16)`);
  const from = parseNumber('from', values.from);
  const to = parseNumber('to', values.to);
  const log2 = Number(values['chunk-log2']);
  if (!Number.isInteger(log2) || log2 < 3 || log2 > 26) throw new Error(`--chunk-log2 must be an integer in [3, 26], got ${values['chunk-log2']}`);
  if (from >= to || from % 8 !== 0 || to % 8 !== 0) throw new Error('--from and --to must be multiples of 8 with from < to');
  if (!hasWasmKernels()) throw new Error('the WebAssembly kernels do not load on this runtime: nothing to check them against');

  const chunk = 2 ** log2;
  const variants: Variant[] = ['wasm', 'wasm-full', 'js', ...(hasNativeFloat16() ? (['native'] as const) : [])];
  const bitsBuf = new Uint32Array(chunk);
  const expected = new Uint16Array(chunk);
  const got = new Uint16Array(chunk);
  const results: Record<string, Record<string, VariantResult>> = {};
  const chunks = Math.ceil((to - from) / chunk);
  const bar = progress(chunks * kinds.length, 'half exhaustive');
  const started = Date.now();

  for (const kind of kinds as Kind[]) {
    const perVariant: Record<string, VariantResult> = {};
    for (const v of variants) if (kind === 'fp16' || v !== 'native') perVariant[v] = { checked: 0, mismatches: 0, nanMismatches: 0, examples: [] };
    for (let base = from; base < to; base += chunk) {
      const bits = bitsBuf.subarray(0, Math.min(chunk, to - base));
      fillPatterns(bits, base);
      const src = new Float32Array(bits.buffer, 0, bits.length);
      const exp = expected.subarray(0, bits.length);
      const out = got.subarray(0, bits.length);
      reference(kind, bits, exp);
      for (const v of Object.keys(perVariant) as Variant[]) {
        out.fill(0xdead); // so that a value a path forgot to write shows
        convert(kind, v, src, out);
        compare(kind, bits, exp, out, perVariant[v]!);
      }
      bar.tick(1, `${kind} ${hex(base, 8)}`);
    }
    pinHalfPrecisionPath(kind === 'fp16' ? 'fp16Encode' : 'bf16Encode', undefined);
    results[kind] = perVariant;
  }
  const seconds = (Date.now() - started) / 1000;
  bar.done(`half exhaustive: ${seconds.toFixed(0)} s`);

  // Exact paths must agree everywhere; the native path only on non-NaN inputs.
  const failures: string[] = [];
  for (const [kind, perVariant] of Object.entries(results)) {
    for (const [v, r] of Object.entries(perVariant)) {
      const bad = v === 'native' ? r.mismatches - r.nanMismatches : r.mismatches;
      console.log(`${kind} ${v.padEnd(9)} ${r.checked.toLocaleString('en-US')} patterns, ${r.mismatches} differ (${r.nanMismatches} of them NaN inputs)`);
      if (bad > 0) failures.push(`${kind} ${v}: ${bad} mismatches, e.g. ${JSON.stringify(r.examples.slice(0, 3))}`);
    }
  }
  const file = path.resolve(values.out);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const record = {
    check: 'half-exhaustive',
    createdAt: new Date().toISOString(),
    machine: { cpu: os.cpus()[0]?.model.trim() ?? 'unknown', cores: os.cpus().length, node: process.version, v8: process.versions.v8 },
    config: { kinds, from: hex(from, 8), to: hex(to, 8), chunkValues: chunk },
    /** Which compiled kernels.wat was checked. */
    kernelsSha256: createHash('sha256').update(KERNELS_WASM_BASE64).digest('hex'),
    reference: { fp16: 'fp16BitsFromFp32Bits', bf16: 'bf16BitsFromFp32Bits' },
    seconds: Math.round(seconds),
    passed: failures.length === 0,
    results,
  };
  fs.writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
  console.log(`results written to ${path.relative(process.cwd(), file) || file}`);
  if (failures.length > 0) {
    console.error(`FAILED:\n${failures.join('\n')}`);
    process.exitCode = 1;
  }
}

try {
  main();
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
}
