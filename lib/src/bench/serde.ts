/**
 * The serialization benchmark, as library code so that a notebook can run it on real KV
 * (`runSerdeBench({ data: cache.toBlock() })`) and the CLI on synthetic KV.
 *
 * What it measures, all in one process and one run (the machine is noisy: compare ratios measured
 * side by side, not lone absolute numbers):
 * - a baseline: `Float32Array.prototype.set` copying the same fp32 data (a memcpy);
 * - per encoding: the value kernel alone (fp32 ⇄ payload bytes in reused buffers) and the whole
 *   container (encodeKV / decodeKV: allocation, header, XXH64 checksums, validation);
 * - per codec and encoding: compression ratio, compress / decompress speed, and the link speed
 *   below which compressing pays off (bytes saved / link speed > codec time);
 * - error statistics of each lossy encoding;
 * - per half-precision conversion, the path the library chose by timing at first use (WebAssembly
 *   kernel, native Float16Array or JavaScript) and every available path timed here on the block,
 *   so that a wrong choice shows.
 * Speeds are MB/s (10^6 bytes per second) of fp32 data unless a field says otherwise.
 */
import { describeHost, type HostDescription } from './machine';
import * as os from 'node:os';
import { isFastMode } from '../runtime';
import {
  CODECS,
  DEFAULT_CODEC,
  DTYPES,
  type KVBlockData,
  type KVCodec,
  type KVDtype,
  type KVShape,
  compareKV,
  crc32c,
  xxh64,
  hasWasmKernels,
  decodeKV,
  encodeKV,
  bf16ToFp32,
  fp16ToFp32,
  fp32ToBf16,
  fp32ToFp16,
  type HalfConversion,
  type HalfPath,
  type HalfPrecisionPaths,
  type PathReport,
  type PathTiming,
  halfPrecisionPaths,
  halfPrecisionReport,
  hasNativeFloat16,
  pinHalfPrecisionPath,
  isQuantized,
  readKVHeader,
  syntheticKV,
  tensorElements,
  validateBlock,
} from '../serde';
import { compressPayload, decompressPayload } from '../serde/codecs';
import { HEADER_BYTES } from '../serde/container';
import { type ScaleDtype, payloadBytes } from '../serde/layout';
import { readPayload, writePayload } from '../serde/payload';
import { valueWidth } from '../serde/types';
import { round } from '../runtime/units';

export interface SerdeBenchOptions {
  /**
   * Shape of the synthetic block (ignored when `data` is given).
   * @default full: 16 layers × [8 heads, 128 tokens, 64] (8 MiB fp32, 4 MiB fp16 — the 1–8 MiB
   *   range that stores handle best); KVLAB_FAST: 4 layers × [4, 32, 64] (256 KiB fp32)
   */
  shape?: KVShape;
  /** Run on this KV instead of synthetic data (e.g. real KV from the model). @default synthetic */
  data?: KVBlockData;
  /** Encodings to measure. @default all: fp32, fp16, bf16, int8, kivi4, kivi2 */
  dtypes?: KVDtype[];
  /** Compressing codecs to measure. @default pako, shuffle-pako, zlib, shuffle-zlib */
  codecs?: KVCodec[];
  /** Encodings whose payloads the codecs are measured on. @default fp32, fp16, bf16, int8 */
  codecDtypes?: KVDtype[];
  /** Deflate level. @default 6 */
  level?: number;
  /** Time per measurement, split over `rounds` samples. @default full 600 ms, fast 60 ms */
  minTimeMs?: number;
  /** Samples per measurement; the median is reported. @default full 5, fast 3 */
  rounds?: number;
  /** Seed of the synthetic data. @default 1 */
  seed?: number;
  /** Link speed (MB/s) at which to say whether a codec pays. @default 1500 (loopback Redis GET, 1–4 MiB values) */
  referenceLinkMBps?: number;
  /** Called after each step. */
  onProgress?: (done: number, total: number, label: string) => void;
}

export const DEFAULT_SERDE_BENCH_OPTIONS = {
  fullShape: { layers: 16, kvHeads: 8, headDim: 64, tokens: 128 } as KVShape,
  fastShape: { layers: 4, kvHeads: 4, headDim: 64, tokens: 32 } as KVShape,
  dtypes: [...DTYPES] as KVDtype[],
  codecs: CODECS.filter((c) => c !== 'none') as KVCodec[],
  codecDtypes: ['fp32', 'fp16', 'bf16', 'int8'] as KVDtype[],
  level: 6,
  fullMinTimeMs: 600,
  fastMinTimeMs: 60,
  fullRounds: 5,
  fastRounds: 3,
  seed: 1,
  referenceLinkMBps: 1500,
} as const;

/** One timing: median and best of the samples, per call. */
export interface Timing {
  medianMs: number;
  bestMs: number;
  samples: number;
  calls: number;
}

export interface EncodingResult {
  dtype: KVDtype;
  groupSize: number | null;
  scaleDtype: ScaleDtype;
  /** Entry size with codec none (header included). */
  bytes: number;
  bitsPerValue: number;
  /** fp32 payload bytes / this payload's bytes. */
  sizeRatioVsFp32: number;
  /** The value kernels alone, reused buffers. */
  kernel: {
    /** fp32 input MB/s. */
    encodeMBps: number;
    /** fp32 output MB/s. */
    decodeMBps: number;
    /** Encoded bytes read per second while decoding (MB/s): e.g. "fp16 input". */
    decodeEncodedMBps: number;
    /** The same three from the fastest sample (closest to the machine's speed when it is shared). */
    best: { encodeMBps: number; decodeMBps: number; decodeEncodedMBps: number };
    /** Speed relative to the same-run memcpy baseline. */
    encodeVsCopy: number;
    decodeVsCopy: number;
    encode: Timing;
    decode: Timing;
  };
  /** encodeKV / decodeKV (into preallocated arrays): allocation, header, XXH64 checksums, validation. */
  container: { encodeMBps: number; decodeMBps: number; encode: Timing; decode: Timing };
  quality: { maxAbsError: number; meanAbsError: number; relRmse: number; sqnrDb: number | null; cosine: number; kRelRmse: number; vRelRmse: number };
}

export interface CodecResult {
  dtype: KVDtype;
  codec: KVCodec;
  rawBytes: number;
  storedBytes: number;
  /** rawBytes / storedBytes. */
  ratio: number;
  /** Raw (uncompressed payload) MB/s. */
  compressMBps: number;
  decompressMBps: number;
  /**
   * Link speeds (MB/s) below which compressing pays: saved bytes / link > codec time, i.e.
   * link < (1 − 1/ratio) · codec speed. write: compress only; read: decompress only;
   * roundTrip: both (store then load once).
   */
  breakEvenMBps: { write: number; read: number; roundTrip: number };
  /** Whether it pays on the reference link, for a store + load. */
  paysAtReferenceLink: boolean;
  compress: Timing;
  decompress: Timing;
}

/** One half-precision conversion: the path chosen at first use, and every path timed here. */
export interface HalfPathResult {
  conversion: HalfConversion;
  chosen: HalfPath;
  /** measured: fastest in the first-use calibration; only: one path could run; pinned: forced. */
  how: PathReport['how'];
  /** The first-use calibration (MB/s of fp32 data on a 256 KiB sample, fastest of its rounds). */
  calibration: PathTiming[];
  /** Each path that can run here, timed on the benchmark's block (MB/s of fp32 data). */
  measured: { path: HalfPath; MBps: number; bestMBps: number }[];
  /** The chosen path's median is within 10 % of the fastest path's median here. */
  chosenIsFastest: boolean;
}

export interface TargetResult {
  name: string;
  unit: string;
  targetMBps: number;
  /** Median of the samples. */
  measuredMBps: number;
  /** Fastest sample. */
  bestMBps: number;
  /** Judged on the median. */
  met: boolean;
  metAtBest: boolean;
}

export interface SerdeBenchResult {
  benchmark: 'serde';
  createdAt: string;
  config: {
    fast: boolean;
    data: 'synthetic' | 'provided';
    shape: KVShape;
    fp32Bytes: number;
    dtypes: KVDtype[];
    codecs: KVCodec[];
    codecDtypes: KVDtype[];
    level: number;
    minTimeMs: number;
    rounds: number;
    seed: number | null;
    referenceLinkMBps: number;
    units: string;
  };
  machine: HostDescription & {
    v8: string;
    pako: string;
    nativeFloat16Array: boolean;
    /** The WebAssembly SIMD kernels (fp16/bf16 both ways, XXH64) loaded. */
    wasmKernels: boolean;
    /** The path each half-precision conversion used (see `halfPaths`). */
    halfPrecisionPaths: HalfPrecisionPaths;
  };
  /** xxh64MBps: the entry checksum (format 2); crc32cMBps: the checksum format 1 used, for comparison. */
  baseline: { copyMBps: number; copyStartMBps: number; copyEndMBps: number; xxh64MBps: number; crc32cMBps: number };
  encodings: EncodingResult[];
  halfPaths: HalfPathResult[];
  codecs: CodecResult[];
  targets: TargetResult[];
  defaultCodec: KVCodec;
  defaultCodecReason: string;
}

function now(): number {
  return performance.now();
}

/** Run `fn` for about `minTimeMs` in `rounds` samples after one warm-up call. */
export function measure(fn: () => void, minTimeMs: number, rounds: number): Timing {
  fn(); // warm-up: compile, fault in buffers
  const perSample = minTimeMs / rounds;
  const times: number[] = [];
  let calls = 0;
  for (let r = 0; r < rounds; r++) {
    let n = 0;
    const t0 = now();
    let t = t0;
    do {
      fn();
      n++;
      t = now();
    } while (t - t0 < perSample);
    times.push((t - t0) / n);
    calls += n;
  }
  times.sort((a, b) => a - b);
  return { medianMs: times[Math.floor(times.length / 2)]!, bestMs: times[0]!, samples: rounds, calls };
}

function mbps(bytes: number, ms: number): number {
  return bytes / ms / 1000;
}


function pakoVersion(): string {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('pako/package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function machineInfo(loadStart: number): SerdeBenchResult['machine'] {
  return {
    ...describeHost(loadStart),
    v8: process.versions.v8,
    pako: pakoVersion(),
    nativeFloat16Array: hasNativeFloat16(),
    wasmKernels: hasWasmKernels(),
    halfPrecisionPaths: halfPrecisionPaths(),
  };
}

function emptyLike(shape: KVShape): { k: Float32Array[]; v: Float32Array[] } {
  const n = tensorElements(shape);
  return { k: Array.from({ length: shape.layers }, () => new Float32Array(n)), v: Array.from({ length: shape.layers }, () => new Float32Array(n)) };
}

export const DEFAULT_CODEC_REASON =
  'Deflate gains little on float KV (low mantissa bits are noise) and runs far slower than a loopback ' +
  'Redis link; it pays only on links slower than the measured break-even speed. Quantize to shrink entries.';

/** Run the serialization benchmark. */
export function runSerdeBench(options: SerdeBenchOptions = {}): SerdeBenchResult {
  const loadStart = os.loadavg()[0]!;
  const fast = isFastMode();
  const D = DEFAULT_SERDE_BENCH_OPTIONS;
  const seed = options.seed ?? D.seed;
  const data = options.data ?? syntheticKV(options.shape ?? (fast ? D.fastShape : D.fullShape), { seed });
  validateBlock(data);
  const shape: KVShape = { layers: data.layers, kvHeads: data.kvHeads, headDim: data.headDim, tokens: data.tokens };
  const dtypes = options.dtypes ?? D.dtypes;
  const codecs = options.codecs ?? D.codecs;
  const codecDtypes = options.codecDtypes ?? D.codecDtypes;
  const level = options.level ?? D.level;
  const minTimeMs = options.minTimeMs ?? (fast ? D.fastMinTimeMs : D.fullMinTimeMs);
  const rounds = options.rounds ?? (fast ? D.fastRounds : D.fullRounds);
  const referenceLinkMBps = options.referenceLinkMBps ?? D.referenceLinkMBps;
  const fp32Bytes = 2 * shape.layers * tensorElements(shape) * 4;

  const total = 3 + dtypes.length + codecDtypes.length * codecs.length;
  let done = 0;
  const step = (label: string): void => {
    done++;
    options.onProgress?.(done, total, label);
  };
  options.onProgress?.(0, total, 'baseline');

  // Baseline: copy every layer's K and V into preallocated arrays (what a raw fp32 "encode" costs).
  const copyTarget = emptyLike(shape);
  const copy = (): void => {
    for (let l = 0; l < shape.layers; l++) {
      copyTarget.k[l]!.set(data.k[l]!);
      copyTarget.v[l]!.set(data.v[l]!);
    }
  };
  const copyStart = mbps(fp32Bytes, measure(copy, minTimeMs, rounds).medianMs);
  const fp16Blob = encodeKV(data, { dtype: 'fp16' });
  const crcMBps = mbps(fp16Blob.length, measure(() => crc32c(fp16Blob), minTimeMs, rounds).medianMs);
  const xxhMBps = mbps(fp16Blob.length, measure(() => xxh64(fp16Blob), minTimeMs, rounds).medianMs);
  step('baseline');

  const encodings: EncodingResult[] = [];
  const decodeInto = emptyLike(shape);
  for (const dtype of dtypes) {
    options.onProgress?.(done, total, `encoding ${dtype}`);
    const blob = encodeKV(data, { dtype });
    const header = readKVHeader(blob);
    const rawLength = header.rawLength;
    const raw = new Uint8Array(rawLength);
    const kEnc = measure(() => writePayload(data, dtype, header.groupSize, header.scaleDtype, raw), minTimeMs, rounds);
    const kDec = measure(() => readPayload(raw, shape, dtype, header.groupSize, header.scaleDtype, decodeInto), minTimeMs, rounds);
    const cEnc = measure(() => encodeKV(data, { dtype }), minTimeMs, rounds);
    const cDec = measure(() => decodeKV(blob, { into: decodeInto }), minTimeMs, rounds);
    const q = compareKV(data, decodeKV(blob));
    encodings.push({
      dtype,
      groupSize: isQuantized(dtype) ? header.groupSize : null,
      scaleDtype: header.scaleDtype,
      bytes: blob.length,
      bitsPerValue: round((8 * rawLength) / (fp32Bytes / 4), 4),
      sizeRatioVsFp32: round(fp32Bytes / rawLength, 4),
      kernel: {
        encodeMBps: round(mbps(fp32Bytes, kEnc.medianMs), 1),
        decodeMBps: round(mbps(fp32Bytes, kDec.medianMs), 1),
        decodeEncodedMBps: round(mbps(rawLength, kDec.medianMs), 1),
        best: {
          encodeMBps: round(mbps(fp32Bytes, kEnc.bestMs), 1),
          decodeMBps: round(mbps(fp32Bytes, kDec.bestMs), 1),
          decodeEncodedMBps: round(mbps(rawLength, kDec.bestMs), 1),
        },
        encodeVsCopy: 0,
        decodeVsCopy: 0,
        encode: kEnc,
        decode: kDec,
      },
      container: { encodeMBps: round(mbps(fp32Bytes, cEnc.medianMs), 1), decodeMBps: round(mbps(fp32Bytes, cDec.medianMs), 1), encode: cEnc, decode: cDec },
      quality: {
        maxAbsError: q.maxAbsError,
        meanAbsError: q.meanAbsError,
        relRmse: q.relRmse,
        sqnrDb: Number.isFinite(q.sqnrDb) ? round(q.sqnrDb, 2) : null,
        cosine: q.cosine,
        kRelRmse: q.k.relRmse,
        vRelRmse: q.v.relRmse,
      },
    });
    step(`encoding ${dtype}`);
  }

  options.onProgress?.(done, total, 'half-precision paths');
  const halfPaths = measureHalfPaths(data, shape, minTimeMs, rounds);
  step('half-precision paths');

  const codecResults: CodecResult[] = [];
  for (const dtype of codecDtypes) {
    const blob = encodeKV(data, { dtype });
    const header = readKVHeader(blob);
    const raw = blob.subarray(HEADER_BYTES);
    const rawLength = payloadBytes(shape, dtype, header.groupSize, header.scaleDtype);
    const width = valueWidth(dtype);
    for (const codec of codecs) {
      options.onProgress?.(done, total, `${codec} on ${dtype}`);
      // Slow codecs take ~0.3 s per call on full-size blocks: fewer samples keep the run short.
      const codecRounds = Math.min(rounds, 3);
      let stored: Uint8Array = compressPayload(codec, raw, width, level);
      stored = stored === raw ? raw : Uint8Array.from(stored);
      const comp = measure(() => compressPayload(codec, raw, width, level), minTimeMs, codecRounds);
      const decomp = measure(() => decompressPayload(codec, stored, rawLength, width), minTimeMs, codecRounds);
      const ratio = rawLength / stored.length;
      const saved = 1 - 1 / ratio;
      const c = mbps(rawLength, comp.medianMs);
      const d = mbps(rawLength, decomp.medianMs);
      const roundTrip = saved / (1 / c + 1 / d);
      codecResults.push({
        dtype,
        codec,
        rawBytes: rawLength,
        storedBytes: stored.length,
        ratio: round(ratio, 4),
        compressMBps: round(c, 1),
        decompressMBps: round(d, 1),
        breakEvenMBps: { write: round(saved * c, 2), read: round(saved * d, 2), roundTrip: round(roundTrip, 2) },
        paysAtReferenceLink: roundTrip > referenceLinkMBps,
        compress: comp,
        decompress: decomp,
      });
      step(`${codec} on ${dtype}`);
    }
  }

  const copyEnd = mbps(fp32Bytes, measure(copy, minTimeMs, rounds).medianMs);
  const copyMBps = (copyStart + copyEnd) / 2;
  for (const e of encodings) {
    e.kernel.encodeVsCopy = round(e.kernel.encodeMBps / copyMBps, 4);
    e.kernel.decodeVsCopy = round(e.kernel.decodeMBps / copyMBps, 4);
  }
  step('baseline (again)');

  return {
    benchmark: 'serde',
    createdAt: new Date().toISOString(),
    config: {
      fast,
      data: options.data ? 'provided' : 'synthetic',
      shape,
      fp32Bytes,
      dtypes,
      codecs,
      codecDtypes,
      level,
      minTimeMs,
      rounds,
      seed: options.data ? null : seed,
      referenceLinkMBps,
      units: 'MB/s = 10^6 bytes/s of fp32 data unless the field says otherwise; times in ms per call',
    },
    machine: machineInfo(loadStart),
    baseline: { copyMBps: round(copyMBps, 1), copyStartMBps: round(copyStart, 1), copyEndMBps: round(copyEnd, 1), xxh64MBps: round(xxhMBps, 1), crc32cMBps: round(crcMBps, 1) },
    encodings,
    halfPaths,
    codecs: codecResults,
    targets: targets(encodings),
    defaultCodec: DEFAULT_CODEC,
    defaultCodecReason: DEFAULT_CODEC_REASON,
  };
}

/**
 * Time every path of each half-precision conversion on the whole block (each layer's K and V, as
 * the value kernels are timed), next to the library's own choice.
 */
function measureHalfPaths(data: KVBlockData, shape: KVShape, minTimeMs: number, rounds: number): HalfPathResult[] {
  const n = tensorElements(shape);
  const tensors = [...data.k, ...data.v];
  const halves = tensors.map(() => new Uint16Array(n));
  const bf16s = tensors.map(() => new Uint16Array(n));
  tensors.forEach((t, i) => {
    fp32ToFp16(t, halves[i]!);
    fp32ToBf16(t, bf16s[i]!);
  });
  const out = new Float32Array(n);
  const runs: Record<HalfConversion, () => void> = {
    fp16Encode: () => tensors.forEach((t, i) => fp32ToFp16(t, halves[i]!)),
    fp16Decode: () => halves.forEach((h) => fp16ToFp32(h, out)),
    bf16Encode: () => tensors.forEach((t, i) => fp32ToBf16(t, bf16s[i]!)),
    bf16Decode: () => bf16s.forEach((h) => bf16ToFp32(h, out)),
  };
  const fp32Bytes = tensors.length * n * 4;
  return halfPrecisionReport().map((report) => {
    const paths = report.timings.length > 0 ? report.timings.map((t) => t.path) : [report.path];
    const measured = paths.map((path) => {
      try {
        pinHalfPrecisionPath(report.conversion, path);
        const t = measure(runs[report.conversion], minTimeMs, rounds);
        return { path, MBps: round(mbps(fp32Bytes, t.medianMs), 1), bestMBps: round(mbps(fp32Bytes, t.bestMs), 1) };
      } finally {
        pinHalfPrecisionPath(report.conversion, undefined);
      }
    });
    const fastest = Math.max(...measured.map((m) => m.MBps));
    const chosen = measured.find((m) => m.path === report.path)!;
    return { conversion: report.conversion, chosen: report.path, how: report.how, calibration: report.timings, measured, chosenIsFastest: chosen.MBps >= 0.9 * fastest };
  });
}

/** The speed goals of notes/performance.md and the issues, checked against the value kernels. */
function targets(encodings: EncodingResult[]): TargetResult[] {
  const out: TargetResult[] = [];
  const add = (name: string, unit: string, target: number, dtype: KVDtype, field: 'encodeMBps' | 'decodeMBps' | 'decodeEncodedMBps'): void => {
    const e = encodings.find((x) => x.dtype === dtype);
    if (e === undefined) return;
    const median = e.kernel[field];
    const best = e.kernel.best[field];
    out.push({ name, unit, targetMBps: target, measuredMBps: median, bestMBps: best, met: median >= target, metAtBest: best >= target });
  };
  add('fp32 → fp16', 'fp32 input', 6000, 'fp16', 'encodeMBps');
  add('fp16 → fp32', 'fp16 input', 2000, 'fp16', 'decodeEncodedMBps');
  add('fp32 → bf16', 'fp32 input', 6000, 'bf16', 'encodeMBps');
  add('bf16 → fp32', 'bf16 input', 4000, 'bf16', 'decodeEncodedMBps');
  add('fp32 → int8', 'fp32 input', 1000, 'int8', 'encodeMBps');
  add('int8 → fp32', 'fp32 output', 1000, 'int8', 'decodeMBps');
  return out;
}
