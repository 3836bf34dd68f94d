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
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
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
 * Layout of the module's first 1 MiB of memory: hash state, a 16-bit area and an fp32 area (input
 * and output of decoding; output and input of encoding). Above it, grown on first use, the staging
 * area of {@link stagePayload}.
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
  /** Views of the conversion areas, made again whenever the memory grows (growing detaches them). */
  fp32Area: Float32Array;
  halfArea: Uint16Array;
}

function views(exports: KernelExports): Loaded {
  const buffer = exports.memory.buffer;
  return { exports, bytes: new Uint8Array(buffer), fp32Area: new Float32Array(buffer, OUT, CHUNK_VALUES), halfArea: new Uint16Array(buffer, IN, CHUNK_VALUES) };
}

function load(): Loaded | undefined {
  const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  if (wasm === undefined) return undefined;
  try {
    const module = new wasm.Module(Buffer.from(KERNELS_WASM_BASE64, 'base64'));
    return views(new wasm.Instance(module, {}).exports as KernelExports);
  } catch {
    return undefined; // no WebAssembly SIMD here: the JavaScript loops take over
  }
}

let LOADED = load();
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

/** Start of the staging area: right above the fixed 1 MiB layout. */
const STAGE = 1 << 20;
/**
 * Largest payload {@link stagePayload} takes (the module's memory grows to fit the largest one seen
 * and never shrinks, so this bounds what it keeps): 16 MiB, 8× a Llama-3-8B fp16 block of 16 tokens.
 */
export const MAX_STAGED_BYTES = 16 * 1024 * 1024;
const PAGE = 64 * 1024;

/**
 * A payload copied once into the module's memory, for decoders that check it and then convert it
 * without copying it in again: the copy that a separate checksum pass and a separate conversion pass
 * would each make. Valid until the next {@link stagePayload} call (there is one staging area).
 */
export interface StagedPayload {
  /** XXH64 of the staged bytes with `seed`. */
  xxh64(seed: bigint): bigint;
  /**
   * Convert `count` 16-bit values (fp16 or bf16 bits) starting `byteOffset` bytes into the payload
   * (2-byte aligned) to fp32; `sink(values, first)` receives them in order, a chunk at a time —
   * `values[j]` is value `first + j` — and must copy them out before returning.
   */
  halvesToFp32(kind: 'fp16' | 'bf16', byteOffset: number, count: number, sink: (values: Float32Array, first: number) => void): void;
}

/**
 * Copy `payload` into the kernels' staging area, or undefined when the kernels are not in use or the
 * payload is larger than {@link MAX_STAGED_BYTES} (callers then take their chunked paths).
 */
export function stagePayload(payload: Uint8Array): StagedPayload | undefined {
  let k = active();
  if (k === undefined || payload.length > MAX_STAGED_BYTES) return undefined;
  const need = STAGE + payload.length + 32;
  if (k.bytes.length < need) {
    k.exports.memory.grow(Math.ceil((need - k.bytes.length) / PAGE));
    k = LOADED = views(k.exports);
  }
  const loaded = k;
  loaded.bytes.set(payload, STAGE);
  const len = payload.length;
  return {
    xxh64(seed: bigint): bigint {
      const { xxh64_init, xxh64_stripes, xxh64_digest } = loaded.exports;
      xxh64_init(STATE, seed);
      const striped = len - (len % 32);
      xxh64_stripes(STATE, STAGE, striped >>> 5);
      return BigInt.asUintN(64, xxh64_digest(STATE, STAGE + striped, len - striped, BigInt(len), seed));
    },
    halvesToFp32(kind, byteOffset, count, sink): void {
      if ((byteOffset & 1) !== 0 || byteOffset < 0 || byteOffset + 2 * count > len) throw new RangeError(`staged payload: values [${byteOffset}, +${2 * count}) outside its ${len} bytes or unaligned`);
      const convert = kind === 'fp16' ? loaded.exports.fp16_to_fp32 : loaded.exports.bf16_to_fp32;
      const out = loaded.fp32Area;
      for (let done = 0; done < count; done += CHUNK_VALUES) {
        const n = Math.min(CHUNK_VALUES, count - done);
        // Whole groups of 8, the last one reaching into the slack after the payload (< 16 bytes of
        // it); only the n values asked for are handed out.
        convert(STAGE + byteOffset + 2 * done, OUT, (n + 7) >>> 3);
        sink(n === CHUNK_VALUES ? out : out.subarray(0, n), done);
      }
    },
  };
}
