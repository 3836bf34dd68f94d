/**
 * The WebAssembly kernels (kernels.wat): fp32 ⇄ fp16/bf16 with SIMD, and XXH64. They run several
 * times faster than the best JavaScript loops (conversions) and ~7× faster than CRC-32C (checksum);
 * see `npm run bench:serde`. Data is copied through the module's memory in chunks that stay in the
 * L2 cache. Where the runtime cannot compile the module (no WebAssembly SIMD), the functions here
 * report that they did nothing and callers use their JavaScript loops.
 */
import { KERNELS_WASM_BASE64 } from './kernels-wasm';

/** The parts of the WebAssembly API used here (the lib's build has no DOM typings). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}

interface KernelExports {
  memory: { buffer: ArrayBuffer };
  fp16_to_fp32(src: number, dst: number, groups: number): void;
  bf16_to_fp32(src: number, dst: number, groups: number): void;
  /** @returns 1 when some input needs fp32_to_fp16_full (|x| > 65536, ±Inf, NaN). */
  fp32_to_fp16(src: number, dst: number, groups: number): number;
  fp32_to_fp16_full(src: number, dst: number, groups: number): void;
  /** @returns 1 when some input needs fp32_to_bf16_full (±Inf, NaN). */
  fp32_to_bf16(src: number, dst: number, groups: number): number;
  fp32_to_bf16_full(src: number, dst: number, groups: number): void;
  xxh64_init(st: number, seed: bigint): void;
  xxh64_stripes(st: number, p: number, stripes: number): void;
  xxh64_digest(st: number, p: number, tail: number, total: bigint, seed: bigint): bigint;
}

/**
 * Layout of the module's 1 MiB memory: hash state, a 16-bit area and an fp32 area (input and
 * output of decoding; output and input of encoding).
 */
const STATE = 0;
const IN = 1024;
const IN_BYTES = 256 * 1024;
const OUT = IN + IN_BYTES;
/** Values decoded per chunk: 256 KiB of 16-bit input, 512 KiB of fp32 output. */
const CHUNK_VALUES = IN_BYTES / 2;
/**
 * Values encoded per chunk: 256 KiB of fp32 in, 128 KiB of 16-bit out, within the 512 KiB L2.
 * Measured on 16 MiB of fp32: chunks of 32–128 Ki values within a few percent of each other,
 * 8–16 Ki values 5–15 % slower (the per-chunk copies and calls start to show).
 */
const ENCODE_CHUNK_VALUES = 64 * 1024;

interface Loaded {
  exports: KernelExports;
  bytes: Uint8Array;
  /** Views of the conversion areas, made once (the memory never grows). */
  fp32Area: Float32Array;
  halfArea: Uint16Array;
}

function load(): Loaded | undefined {
  const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  if (wasm === undefined) return undefined;
  try {
    const module = new wasm.Module(Buffer.from(KERNELS_WASM_BASE64, 'base64'));
    const exports = new wasm.Instance(module, {}).exports as KernelExports;
    const buffer = exports.memory.buffer;
    return { exports, bytes: new Uint8Array(buffer), fp32Area: new Float32Array(buffer, OUT, CHUNK_VALUES), halfArea: new Uint16Array(buffer, IN, CHUNK_VALUES) };
  } catch {
    return undefined; // no WebAssembly SIMD here: the JavaScript loops take over
  }
}

const LOADED = load();
let enabled = LOADED !== undefined;

/** True when the runtime compiled the kernels (WebAssembly with SIMD). */
export function hasWasmKernels(): boolean {
  return LOADED !== undefined;
}

/**
 * Turn the WebAssembly kernels on or off (for tests and benchmarks that compare them with the
 * JavaScript loops). Ignored when they could not be loaded. @returns whether they are now used.
 */
export function useWasmKernels(on: boolean): boolean {
  enabled = on && LOADED !== undefined;
  return enabled;
}

/** True when the kernels are loaded and switched on. */
export function wasmKernelsInUse(): boolean {
  return enabled;
}

/** The loaded kernels if they are in use. */
function active(): Loaded | undefined {
  return enabled ? LOADED : undefined;
}

/**
 * Convert the first ⌊n/8⌋·8 of `src`'s 16-bit values (fp16 or bf16 bits) to fp32 in `dst`.
 * @returns how many values were converted (the caller finishes the < 8 left), or 0 when the
 *   kernels are not in use.
 */
export function halvesToFp32(kind: 'fp16' | 'bf16', src: Uint16Array, dst: Float32Array): number {
  const k = active();
  if (k === undefined) return 0;
  const convert = kind === 'fp16' ? k.exports.fp16_to_fp32 : k.exports.bf16_to_fp32;
  const total = src.length & ~7;
  const srcBytes = new Uint8Array(src.buffer, src.byteOffset, total * 2);
  const out = k.fp32Area;
  for (let done = 0; done < total; done += CHUNK_VALUES) {
    const n = Math.min(CHUNK_VALUES, total - done);
    k.bytes.set(srcBytes.subarray(2 * done, 2 * (done + n)), IN);
    convert(IN, OUT, n >>> 3);
    dst.set(n === CHUNK_VALUES ? out : out.subarray(0, n), done);
  }
  return total;
}

/**
 * Convert the first ⌊n/8⌋·8 of `src`'s fp32 values to 16-bit values (fp16 or bf16 bits) in `dst`,
 * bit-identical to the JavaScript encoders. Each chunk runs the fast kernel, and the full one
 * again where the fast one reports inputs it leaves out (NaN, ±Inf, fp16 overflow).
 * @param full run only the full kernel (lets tests check it on every input)
 * @returns how many values were converted (the caller finishes the < 8 left), or 0 when the
 *   kernels are not in use.
 */
export function fp32ToHalves(kind: 'fp16' | 'bf16', src: Float32Array, dst: Uint16Array, full = false): number {
  const k = active();
  if (k === undefined) return 0;
  const { exports } = k;
  const fast = kind === 'fp16' ? exports.fp32_to_fp16 : exports.fp32_to_bf16;
  const exact = kind === 'fp16' ? exports.fp32_to_fp16_full : exports.fp32_to_bf16_full;
  const total = src.length & ~7;
  const out = k.halfArea;
  for (let done = 0; done < total; done += ENCODE_CHUNK_VALUES) {
    const n = Math.min(ENCODE_CHUNK_VALUES, total - done);
    k.fp32Area.set(src.length === n ? src : src.subarray(done, done + n));
    if (full || fast(OUT, IN, n >>> 3) !== 0) exact(OUT, IN, n >>> 3);
    dst.set(out.subarray(0, n), done);
  }
  return total;
}

/** XXH64 of `data` with the kernels, or undefined when they are not in use. */
export function xxh64Wasm(data: Uint8Array, seed: bigint): bigint | undefined {
  const k = active();
  if (k === undefined) return undefined;
  const { xxh64_init, xxh64_stripes, xxh64_digest } = k.exports;
  xxh64_init(STATE, seed);
  const len = data.length;
  // Whole stripes in chunks; the last < 32 bytes go to the digest.
  const striped = len - (len % 32);
  for (let at = 0; at < striped; at += IN_BYTES) {
    const n = Math.min(IN_BYTES, striped - at);
    k.bytes.set(data.subarray(at, at + n), IN);
    xxh64_stripes(STATE, IN, n >>> 5);
  }
  k.bytes.set(data.subarray(striped), IN);
  return BigInt.asUintN(64, xxh64_digest(STATE, IN, len - striped, BigInt(len), seed));
}
