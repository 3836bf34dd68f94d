/**
 * Helpers of notebook 03 (serialization). Everything they return is measured on this machine or
 * computed from real KV of the lab's model: float bit fields, sizes, errors, greedy-decoding
 * agreement when the model continues from a decoded cache, byte-plane entropies, codec speeds, and
 * the link speed below which compressing pays. Loops live here, not in notebook cells (tslab runs
 * cell-level loops ~300× slower).
 */
import * as zlib from 'node:zlib';
import { measure } from '../bench/serde';
import { makeWorkload } from '../bench/workloads';
import { KVCache, argmax, type LlamaModel } from '../model';
import { sized } from '../runtime/env';
import { InvalidInputError, KVLabError, describeValue } from '../runtime/errors';
import type { PlotlyFigure } from './figure';
import { progress } from '../runtime/progress';
import {
  CODECS,
  DTYPES,
  HEADER_BYTES,
  MAGIC,
  byteShuffle,
  bf16BitsToFp32,
  compareKV,
  decodeKV,
  encodeKV,
  fp16BitsToFp32,
  fp32ToBf16Bits,
  fp32ToFp16Bits,
  isCodec,
  isDtype,
  readKVHeader,
  tensorElements,
  validateBlock,
  type KVBlockData,
  type KVCodec,
  type KVDtype,
  type KVShape,
} from '../serde';
import type { PrefixTableRow, ProgressTarget, TextCodec } from './prefix';

// ───────────────────────────── shared bits ─────────────────────────────

/** A row of cells as `table()` shows it (the same type as notebook 02's). */
export type SerdeTableRow = PrefixTableRow;

/** Where long helpers draw their progress bar ('auto': the notebook inside tslab, else stderr). */
export type SerdeProgressTarget = ProgressTarget;

/** Anything with the tokenizer's encode/decode (the lab's {@link Tokenizer} fits). */
export type SerdeTextCodec = TextCodec;

const FIELD_COLORS = { sign: '#d62728', exponent: '#1f77b4', mantissa: '#ff7f0e' } as const;

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function assertModel(model: unknown, what: string): asserts model is LlamaModel {
  const m = model as LlamaModel | null;
  if (m === null || typeof m !== 'object' || typeof m.prefill !== 'function' || typeof m.decodeStep !== 'function') {
    throw new InvalidInputError(`${what} needs a LlamaModel, got ${describeValue(model)}`);
  }
  if (m.isDisposed) throw new InvalidInputError(`${what}: the model has been disposed`);
}

function assertInteger(value: unknown, what: string, min: number, max: number): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidInputError(`${what} must be an integer in [${min}, ${max}], got ${describeValue(value)}`);
  }
}

function assertBlock(kv: unknown, what: string): asserts kv is KVBlockData {
  if (kv === null || typeof kv !== 'object') throw new InvalidInputError(`${what} needs a KV block (e.g. from realKV), got ${describeValue(kv)}`);
  validateBlock(kv as KVBlockData);
}

function checkDtypes(dtypes: unknown, what: string): KVDtype[] {
  if (!Array.isArray(dtypes) || dtypes.length === 0) throw new InvalidInputError(`${what} must be a non-empty array of dtypes, got ${describeValue(dtypes)}`);
  for (const d of dtypes) {
    if (!isDtype(d)) throw new InvalidInputError(`${what}: unknown dtype ${describeValue(d)}; expected one of ${DTYPES.join(', ')}`);
  }
  return [...new Set(dtypes as KVDtype[])];
}

function checkCodecs(codecs: unknown, what: string): KVCodec[] {
  if (!Array.isArray(codecs) || codecs.length === 0) throw new InvalidInputError(`${what} must be a non-empty array of codecs, got ${describeValue(codecs)}`);
  for (const c of codecs) {
    if (!isCodec(c)) throw new InvalidInputError(`${what}: unknown codec ${describeValue(c)}; expected one of ${CODECS.join(', ')}`);
  }
  return [...new Set(codecs as KVCodec[])];
}

function asList<T>(x: T | readonly T[]): readonly T[] {
  return Array.isArray(x) ? (x as readonly T[]) : [x as T];
}

function fp32BytesOf(shape: KVShape): number {
  return 2 * shape.layers * tensorElements(shape) * 4;
}

function shapeOf(kv: KVShape): KVShape {
  return { layers: kv.layers, kvHeads: kv.kvHeads, headDim: kv.headDim, tokens: kv.tokens };
}

// ───────────────────────────── 1. float formats bit by bit ─────────────────────────────

export const FLOAT_FORMATS = ['fp32', 'fp16', 'bf16'] as const;
/** The three float formats KV is kept in: IEEE binary32, IEEE binary16, bfloat16. */
export type FloatFormat = (typeof FLOAT_FORMATS)[number];

/** Field widths of each format: 1 sign bit, then exponent, then mantissa (fraction) bits. */
export const FLOAT_LAYOUTS: Readonly<Record<FloatFormat, { totalBits: number; exponentBits: number; mantissaBits: number; bias: number }>> = {
  fp32: { totalBits: 32, exponentBits: 8, mantissaBits: 23, bias: 127 },
  fp16: { totalBits: 16, exponentBits: 5, mantissaBits: 10, bias: 15 },
  bf16: { totalBits: 16, exponentBits: 8, mantissaBits: 7, bias: 127 },
};

/** One value in one format, split into its bit fields. */
export interface FloatFields {
  format: FloatFormat;
  totalBits: number;
  exponentBits: number;
  mantissaBits: number;
  /** Exponent bias (127 for fp32 and bf16, 15 for fp16). */
  bias: number;
  /** The bit pattern as an unsigned integer. */
  bits: number;
  /** The bits, most significant first, fields separated by spaces: `0 01111 0000000000`. */
  bitString: string;
  sign: 0 | 1;
  /** The exponent field as stored (biased). */
  exponent: number;
  /** The mantissa (fraction) field as stored, without the implicit leading 1. */
  mantissa: number;
  kind: 'zero' | 'subnormal' | 'normal' | 'infinity' | 'nan';
  /** What this format stores for the input (round to nearest even, via fp32 for the half formats). */
  value: number;
  /**
   * The value rebuilt from the three fields alone: (−1)^s · 2^(e − bias) · (1 + m / 2^M) for normal
   * numbers, (−1)^s · 2^(1 − bias) · m / 2^M for subnormal ones. Equals `value`.
   */
  recombined: number;
  /** |input − value|. */
  absError: number;
  /** |input − value| / |input| (0 for an input of 0). */
  relError: number;
}

/** A number in fp32, fp16 and bf16. */
export interface FloatBits {
  input: number;
  formats: FloatFields[];
}

function storedBits(format: FloatFormat, x: number): number {
  if (format === 'fp16') return fp32ToFp16Bits(x);
  if (format === 'bf16') return fp32ToBf16Bits(x);
  const f = new Float32Array([x]);
  return new Uint32Array(f.buffer)[0]!;
}

function storedValue(format: FloatFormat, bits: number): number {
  if (format === 'fp16') return fp16BitsToFp32(bits);
  if (format === 'bf16') return bf16BitsToFp32(bits);
  return new Float32Array(new Uint32Array([bits]).buffer)[0]!;
}

function fieldsOf(format: FloatFormat, input: number): FloatFields {
  const { totalBits, exponentBits, mantissaBits, bias } = FLOAT_LAYOUTS[format];
  const bits = storedBits(format, input) >>> 0;
  const sign = ((bits >>> (totalBits - 1)) & 1) as 0 | 1;
  const exponent = (bits >>> mantissaBits) & ((1 << exponentBits) - 1);
  const mantissa = bits & ((1 << mantissaBits) - 1);
  const maxExp = (1 << exponentBits) - 1;
  const kind: FloatFields['kind'] =
    exponent === maxExp ? (mantissa === 0 ? 'infinity' : 'nan') : exponent === 0 ? (mantissa === 0 ? 'zero' : 'subnormal') : 'normal';
  const s = sign === 1 ? -1 : 1;
  let recombined: number;
  if (kind === 'nan') recombined = NaN;
  else if (kind === 'infinity') recombined = s * Infinity;
  else if (kind === 'normal') recombined = s * 2 ** (exponent - bias) * (1 + mantissa / 2 ** mantissaBits);
  else recombined = s * 2 ** (1 - bias) * (mantissa / 2 ** mantissaBits); // zero and subnormal
  const raw = bits.toString(2).padStart(totalBits, '0');
  const bitString = `${raw.slice(0, 1)} ${raw.slice(1, 1 + exponentBits)} ${raw.slice(1 + exponentBits)}`;
  const value = storedValue(format, bits);
  const absError = Math.abs(input - value);
  return {
    format,
    totalBits,
    exponentBits,
    mantissaBits,
    bias,
    bits,
    bitString,
    sign,
    exponent,
    mantissa,
    kind,
    value,
    recombined,
    absError,
    relError: input === 0 ? 0 : absError / Math.abs(input),
  };
}

/**
 * Split `x` into the sign, exponent and mantissa fields of fp32, fp16 and bf16 as the serializer
 * stores it (fp32 first, then round to nearest even for the half formats).
 * @throws InvalidInputError when x is not a number.
 */
export function floatBits(x: number): FloatBits {
  if (typeof x !== 'number') throw new InvalidInputError(`floatBits needs a number, got ${describeValue(x)}`);
  return { input: x, formats: FLOAT_FORMATS.map((f) => fieldsOf(f, x)) };
}

function asBitsList(list: FloatBits | readonly FloatBits[], what: string): readonly FloatBits[] {
  const arr = asList(list);
  if (arr.length === 0 || arr.some((b) => b === null || typeof b !== 'object' || !Array.isArray((b as FloatBits).formats))) {
    throw new InvalidInputError(`${what} needs the result(s) of floatBits(), got ${describeValue(list)}`);
  }
  return arr;
}

function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const a = Math.abs(x);
  return a >= 1e-4 && a < 1e7 ? String(Number(x.toPrecision(12))) : Number(x.toPrecision(12)).toExponential();
}

/** One table row per (value, format): the three fields, the stored value and its rounding error. */
export function floatBitsTable(list: FloatBits | readonly FloatBits[]): SerdeTableRow[] {
  return asBitsList(list, 'floatBitsTable').flatMap((b) =>
    b.formats.map((f) => ({
      input: formatNumber(b.input),
      format: f.format,
      'bits (sign exponent mantissa)': f.bitString,
      sign: f.sign,
      'exponent field': f.exponent,
      '2^(exponent − bias)': f.kind === 'normal' ? f.exponent - f.bias : f.kind === 'subnormal' || f.kind === 'zero' ? 1 - f.bias : null,
      'mantissa field': f.mantissa,
      kind: f.kind,
      'stored value': formatNumber(f.value),
      'relative error': f.relError,
    })),
  );
}

/**
 * The bit layout as a grid: one row per (value, format), one cell per bit (most significant on the
 * left, so bf16 lines up with the top half of fp32), coloured by field, dark for a 1 bit.
 */
export function floatBitsFigure(list: FloatBits | readonly FloatBits[], title = 'Bit layout: sign · exponent · mantissa'): PlotlyFigure {
  const items = asBitsList(list, 'floatBitsFigure');
  const rowLabels: string[] = [];
  const z: (number | null)[][] = [];
  const text: string[][] = [];
  const hover: string[][] = [];
  // Plotly draws the first row of z at the bottom: build top-down, then reverse.
  for (const b of items) {
    for (const f of b.formats) {
      rowLabels.push(`${formatNumber(b.input)} · ${f.format}`);
      const raw = f.bits.toString(2).padStart(f.totalBits, '0');
      const zr: (number | null)[] = [];
      const tr: string[] = [];
      const hr: string[] = [];
      for (let i = 0; i < 32; i++) {
        if (i >= f.totalBits) {
          zr.push(null);
          tr.push('');
          hr.push('');
          continue;
        }
        const bit = raw[i] === '1' ? 1 : 0;
        const field = i === 0 ? 'sign' : i <= f.exponentBits ? 'exponent' : 'mantissa';
        const fieldIndex = field === 'sign' ? 0 : field === 'exponent' ? 1 : 2;
        zr.push(fieldIndex * 2 + bit);
        tr.push(String(bit));
        hr.push(`${f.format} bit ${f.totalBits - 1 - i} (${field})<br>stores ${formatNumber(f.value)}`);
      }
      z.push(zr);
      text.push(tr);
      hover.push(hr);
    }
  }
  const light = { sign: '#f4b6b6', exponent: '#b3d1ec', mantissa: '#ffd3a6' };
  const stops: [number, string][] = [];
  const colors = [light.sign, FIELD_COLORS.sign, light.exponent, FIELD_COLORS.exponent, light.mantissa, FIELD_COLORS.mantissa];
  colors.forEach((c, i) => {
    stops.push([i / 6, c], [(i + 1) / 6, c]);
  });
  const legend = (['sign', 'exponent', 'mantissa'] as const).map((name) => ({
    type: 'scatter',
    mode: 'markers',
    x: [null],
    y: [null],
    name,
    marker: { color: FIELD_COLORS[name], symbol: 'square', size: 14 },
    hoverinfo: 'skip',
  }));
  return {
    data: [
      {
        type: 'heatmap',
        z: [...z].reverse(),
        text: [...text].reverse(),
        customdata: [...hover].reverse(),
        texttemplate: '%{text}',
        hovertemplate: '%{customdata}<extra></extra>',
        x: Array.from({ length: 32 }, (_, i) => i),
        y: [...rowLabels].reverse(),
        zmin: -0.5,
        zmax: 5.5,
        colorscale: stops,
        showscale: false,
        xgap: 2,
        ygap: 4,
      },
      ...legend,
    ],
    layout: {
      title: { text: title },
      xaxis: { title: { text: 'bit, most significant first (light = 0, dark = 1)' }, showgrid: false, zeroline: false, dtick: 4 },
      yaxis: { type: 'category', automargin: true, showgrid: false },
      legend: { orientation: 'h', y: -0.25 },
      margin: { l: 140 },
    },
    config: {},
  };
}

/** What fp16 makes of a KV block's values: range, precision loss and overflow, per tensor kind. */
export function kvValueStats(kv: KVBlockData): SerdeTableRow[] {
  assertBlock(kv, 'kvValueStats');
  const FP16_MIN_NORMAL = 2 ** -14;
  return (['k', 'v'] as const).map((kind) => {
    let n = 0;
    let maxAbs = 0;
    let sumSq = 0;
    let subnormal = 0;
    let flushed = 0;
    let overflow = 0;
    let worstRel = 0;
    for (const a of kv[kind]) {
      for (let i = 0; i < a.length; i++) {
        const x = a[i]!;
        const ax = x < 0 ? -x : x;
        n++;
        if (ax > maxAbs) maxAbs = ax;
        sumSq += x * x;
        if (ax >= 65520) overflow++;
        else if (ax > 0 && ax < FP16_MIN_NORMAL) {
          subnormal++;
          if (fp16BitsToFp32(fp32ToFp16Bits(x)) === 0) flushed++;
        } else if (ax > 0) {
          const rel = Math.abs(fp16BitsToFp32(fp32ToFp16Bits(x)) - x) / ax;
          if (rel > worstRel) worstRel = rel;
        }
      }
    }
    return {
      tensor: kind === 'k' ? 'K (keys)' : 'V (values)',
      values: n,
      'max |x|': maxAbs,
      RMS: Math.sqrt(sumSq / Math.max(1, n)),
      'share fp16-subnormal (|x| < 2^-14)': subnormal / Math.max(1, n),
      'share that fp16 rounds to 0': flushed / Math.max(1, n),
      'share fp16 overflows (|x| ≥ 65520)': overflow / Math.max(1, n),
      'worst fp16 relative error (normal range)': worstRel,
    };
  });
}

// ───────────────────────────── real KV from the model ─────────────────────────────

/** A KV block from a real prefill, with the prompt it came from. */
export interface RealKV extends KVBlockData {
  /** The prompt's token ids (the block covers all of them). */
  promptTokens: number[];
  /** Fingerprint of the model that computed it. */
  fingerprint: string;
}

/**
 * `count` token ids of seeded English-like prose (the system prompt of the `chat` workload, cut to
 * length): the same tokens on every machine.
 */
export function serdePromptTokens(tokenizer: Pick<SerdeTextCodec, 'encode'>, count: number): number[] {
  if (tokenizer === null || typeof tokenizer !== 'object' || typeof tokenizer.encode !== 'function') {
    throw new InvalidInputError(`serdePromptTokens needs a tokenizer, got ${describeValue(tokenizer)}`);
  }
  assertInteger(count, 'prompt token count', 1, 1_000_000);
  const encode = (t: string): number[] => tokenizer.encode(t);
  for (let want = Math.ceil(count * 1.25) + 32; ; want *= 2) {
    const tokens = makeWorkload('chat', encode, { requests: 1, sharedTokens: want, seed: 3 })[0]!.tokens;
    if (tokens.length >= count) return tokens.slice(0, count);
  }
}

function promptIds(model: LlamaModel, tokenizer: Pick<SerdeTextCodec, 'encode'>, prompt: unknown, what: string): number[] {
  let ids: number[];
  if (typeof prompt === 'number') ids = serdePromptTokens(tokenizer, prompt);
  else if (typeof prompt === 'string') {
    if (tokenizer === null || typeof tokenizer !== 'object' || typeof tokenizer.encode !== 'function') {
      throw new InvalidInputError(`${what} needs a tokenizer to encode a text prompt`);
    }
    ids = tokenizer.encode(prompt);
  } else if (Array.isArray(prompt) || (ArrayBuffer.isView(prompt) && !(prompt instanceof DataView))) {
    ids = Array.from(prompt as ArrayLike<number>);
  } else {
    throw new InvalidInputError(`${what}: the prompt must be a token count, a string or token ids, got ${describeValue(prompt)}`);
  }
  if (ids.length < 2) throw new InvalidInputError(`${what}: the prompt needs at least 2 tokens, got ${ids.length}`);
  if (ids.length > model.config.maxContext) throw new InvalidInputError(`${what}: ${ids.length} prompt tokens exceed the model's maxContext of ${model.config.maxContext}`);
  return ids;
}

function blockFromCache(cache: KVCache): KVBlockData {
  const arrays = cache.toArrays();
  return {
    layers: arrays.layers.length,
    kvHeads: arrays.numKvHeads,
    headDim: arrays.headDim,
    tokens: arrays.tokens,
    k: arrays.layers.map((l) => l.keys),
    v: arrays.layers.map((l) => l.values),
  };
}

function cacheFromBlock(block: KVBlockData, fingerprint: string): KVCache {
  return KVCache.fromArrays({
    fingerprint,
    startPosition: 0,
    tokens: block.tokens,
    numKvHeads: block.kvHeads,
    headDim: block.headDim,
    layers: block.k.map((keys, l) => ({ keys, values: block.v[l]! })),
  });
}

/**
 * The KV block of a real prefill: every layer's K and V for the whole prompt, as the serializer
 * takes it. `prompt` is a token count (seeded prose, {@link serdePromptTokens}), a text, or token ids.
 */
export async function realKV(model: LlamaModel, tokenizer: Pick<SerdeTextCodec, 'encode'>, prompt: number | string | ArrayLike<number>): Promise<RealKV> {
  assertModel(model, 'realKV');
  const ids = promptIds(model, tokenizer, prompt, 'realKV');
  const { kv } = await model.prefill(ids);
  try {
    return { ...blockFromCache(kv), promptTokens: ids, fingerprint: model.fingerprint };
  } finally {
    kv.dispose();
  }
}

/** Shape and sizes of a block, for a one-row table. */
export function describeKV(kv: KVBlockData): SerdeTableRow[] {
  assertBlock(kv, 'describeKV');
  const fp32 = fp32BytesOf(kv);
  return [
    {
      layers: kv.layers,
      'kv heads': kv.kvHeads,
      tokens: kv.tokens,
      'head dim': kv.headDim,
      values: 2 * kv.layers * tensorElements(kv),
      'fp32 KiB': fp32 / 1024,
      'fp16 KiB': fp32 / 2 / 1024,
      'fp32 bytes per token': fp32 / kv.tokens,
    },
  ];
}

// ───────────────────────────── 4. quantization: size vs quality ─────────────────────────────

export interface EncodingQualityOptions {
  /** Prompt: a token count (seeded prose), a text, or token ids. @default KVLAB_FAST 256 tokens, else 1024 */
  prompt?: number | string | ArrayLike<number>;
  /** Encodings to compare. @default all: fp32, fp16, bf16, int8, kivi4, kivi2 */
  dtypes?: KVDtype[];
  /** Greedy tokens generated from each decoded cache. @default KVLAB_FAST 24, else 64 */
  generateTokens?: number;
  /** Generated tokens turned into text in the `continuation` column. @default 12 */
  continuationTokens?: number;
  /** @default 'auto' */
  progress?: SerdeProgressTarget;
}

export interface EncodingQualityRow extends SerdeTableRow {
  dtype: KVDtype;
  /** Size of the entry (header + payload, codec none). */
  bytes: number;
  'bits per value': number;
  '× smaller than fp32': number;
  'max abs error': number;
  'mean abs error': number;
  /** RMS error ÷ RMS of the values. */
  'relative RMSE': number;
  /**
   * The largest error the format allows for this block's values (fp32 0; fp16 max(max|x|·2^-11, 2^-25);
   * bf16 max|x|·2^-8; int8 max|x|/254, plus fp32 rounding); null for kivi (per-group ranges).
   */
  'error bound': number | null;
  'within bound': boolean | null;
  /** Leading generated tokens identical to the fp32 run's (= generated tokens when it never diverged). */
  'identical leading tokens': number;
  /** Share of the generated positions whose token equals the fp32 run's (free-running greedy decoding). */
  'greedy agreement': number;
  /** Share of positions where the model, fed the fp32 run's tokens, predicts the same next token. */
  'teacher-forced top-1': number;
  /** Largest |logit difference| against the fp32 run, teacher-forced, over all positions. */
  'max logit error': number;
  /** The first generated tokens as text. */
  continuation: string;
}

export interface EncodingQualityResult {
  shape: KVShape;
  /** Prompt length (the cached block holds all but the last prompt token). */
  promptTokens: number;
  generateTokens: number;
  /** The fp32 run: what every other encoding is compared with. */
  reference: { tokens: number[]; text: string };
  rows: EncodingQualityRow[];
  /** Per encoding, its generated tokens. */
  generated: Record<string, number[]>;
}

function errorBound(dtype: KVDtype, maxAbs: number): number | null {
  switch (dtype) {
    case 'fp32':
      return 0;
    case 'fp16':
      return maxAbs >= 65520 ? Infinity : Math.max(maxAbs * 2 ** -11, 2 ** -25);
    case 'bf16':
      return Math.max(maxAbs * 2 ** -8, 2 ** -134);
    case 'int8':
      // scale = group absmax / 127 rounded up to the next fp32; |error| ≤ scale / 2, plus the fp32
      // rounding of code · scale on decode.
      return (maxAbs / 254) * (1 + 2 ** -22) + maxAbs * 2 ** -23;
    default:
      return null;
  }
}

function blockAbsMax(kv: KVBlockData): number {
  let m = 0;
  for (const list of [kv.k, kv.v]) {
    for (const a of list) {
      for (let i = 0; i < a.length; i++) {
        const x = a[i]! < 0 ? -a[i]! : a[i]!;
        if (x > m) m = x;
      }
    }
  }
  return m;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= m)) m = d; // NaN propagates
  }
  return m;
}

interface GreedyRun {
  tokens: number[];
  logits: Float32Array[];
}

/** Greedy generation of `count` tokens: feed `last` after `past` (not consumed), then each argmax. */
async function greedyFrom(model: LlamaModel, past: KVCache, last: number, count: number, onStep: () => void): Promise<GreedyRun> {
  let { logits, kv } = await model.decodeStep(last, past);
  const tokens: number[] = [];
  const all: Float32Array[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const t = argmax(logits);
      tokens.push(t);
      all.push(logits);
      onStep();
      if (i === count - 1) break;
      const next = await model.decodeStep(t, kv);
      kv.dispose();
      ({ logits, kv } = next);
    }
  } finally {
    kv.dispose();
  }
  return { tokens, logits: all };
}

interface ComparedRun {
  tokens: number[];
  identicalLeading: number;
  agreement: number;
  teacherTop1: number;
  maxLogitError: number;
}

/**
 * Free-running greedy decoding from `past`, compared with the reference run. While the tokens agree
 * the inputs are the reference's, so those logits are also the teacher-forced ones; at the first
 * divergence the cache is forked and the reference tokens are fed to it for the remaining positions.
 */
async function compareRun(model: LlamaModel, past: KVCache, last: number, ref: GreedyRun, onStep: () => void): Promise<ComparedRun> {
  const count = ref.tokens.length;
  let { logits, kv } = await model.decodeStep(last, past);
  const tokens: number[] = [];
  let divergence = -1;
  let fork: KVCache | undefined;
  let top1 = 0;
  let maxErr = 0;
  try {
    for (let i = 0; i < count; i++) {
      const t = argmax(logits);
      tokens.push(t);
      if (divergence < 0) {
        maxErr = Math.max(maxErr, maxAbsDiff(logits, ref.logits[i]!));
        if (t === ref.tokens[i]) top1++;
        else {
          divergence = i;
          if (i < count - 1) fork = kv.clone();
        }
      }
      onStep();
      if (i === count - 1) break;
      const next = await model.decodeStep(t, kv);
      kv.dispose();
      ({ logits, kv } = next);
    }
    kv.dispose();
    if (fork !== undefined) {
      // Teacher forcing from the divergence on: feed the reference's tokens.
      let cur: KVCache = fork;
      fork = undefined;
      try {
        for (let j = divergence + 1; j < count; j++) {
          const out = await model.decodeStep(ref.tokens[j - 1]!, cur);
          cur.dispose();
          cur = out.kv;
          maxErr = Math.max(maxErr, maxAbsDiff(out.logits, ref.logits[j]!));
          if (argmax(out.logits) === ref.tokens[j]) top1++;
        }
      } finally {
        cur.dispose();
      }
    }
  } finally {
    kv.dispose();
    fork?.dispose();
  }
  let agree = 0;
  for (let i = 0; i < count; i++) if (tokens[i] === ref.tokens[i]) agree++;
  return {
    tokens,
    identicalLeading: divergence < 0 ? count : divergence,
    agreement: agree / count,
    teacherTop1: top1 / count,
    maxLogitError: maxErr,
  };
}

/**
 * What each encoding costs in size and buys in quality, on real KV: the cache of a prompt (all but
 * its last token, as a server would load it) is encoded, decoded and compared with the original
 * (compareKV); then the model feeds the last prompt token on the DECODED cache and generates
 * greedily, and its tokens and logits are compared with the same run on the fp32 cache.
 */
export async function encodingQuality(model: LlamaModel, tokenizer: SerdeTextCodec, options: EncodingQualityOptions = {}): Promise<EncodingQualityResult> {
  assertModel(model, 'encodingQuality');
  if (options === null || typeof options !== 'object') throw new InvalidInputError(`encodingQuality options must be an object, got ${describeValue(options)}`);
  const dtypes = checkDtypes(options.dtypes ?? [...DTYPES], 'encodingQuality dtypes');
  const generate = options.generateTokens ?? sized(24, 64);
  assertInteger(generate, 'generateTokens', 1, 4096);
  const contTokens = options.continuationTokens ?? 12;
  assertInteger(contTokens, 'continuationTokens', 0, 4096);
  const ids = promptIds(model, tokenizer, options.prompt ?? sized(256, 1024), 'encodingQuality');
  if (ids.length + generate > model.config.maxContext) {
    throw new InvalidInputError(`encodingQuality: ${ids.length} prompt + ${generate} generated tokens exceed the model's maxContext of ${model.config.maxContext}`);
  }
  const last = ids[ids.length - 1]!;
  const bar = progress((1 + dtypes.length) * generate, 'encodings: greedy decoding from decoded KV', { target: options.progress ?? 'auto' });
  const tick = (): void => bar.tick();
  const { kv: prefix } = await model.prefill(ids.slice(0, -1));
  try {
    const block = blockFromCache(prefix);
    const fp32Bytes = fp32BytesOf(block);
    const values = 2 * block.layers * tensorElements(block);
    const maxAbs = blockAbsMax(block);
    const ref = await greedyFrom(model, prefix, last, generate, tick);
    const rows: EncodingQualityRow[] = [];
    const generated: Record<string, number[]> = {};
    for (const dtype of dtypes) {
      bar.tick(0, `encodings: greedy decoding from decoded ${dtype} KV`);
      const blob = encodeKV(block, { dtype });
      const decoded = decodeKV(blob);
      const cmp = compareKV(block, decoded);
      const cache = cacheFromBlock(decoded, model.fingerprint);
      let run: ComparedRun;
      try {
        run = await compareRun(model, cache, last, ref, tick);
      } finally {
        cache.dispose();
      }
      const bound = errorBound(dtype, maxAbs);
      const payload = blob.length - HEADER_BYTES;
      generated[dtype] = run.tokens;
      rows.push({
        dtype,
        bytes: blob.length,
        'bits per value': (8 * payload) / values,
        '× smaller than fp32': fp32Bytes / payload,
        'max abs error': cmp.maxAbsError,
        'mean abs error': cmp.meanAbsError,
        'relative RMSE': cmp.relRmse,
        'error bound': bound,
        'within bound': bound === null ? null : cmp.maxAbsError <= bound,
        'identical leading tokens': run.identicalLeading,
        'greedy agreement': run.agreement,
        'teacher-forced top-1': run.teacherTop1,
        'max logit error': run.maxLogitError,
        continuation: contTokens > 0 ? tokenizer.decode(run.tokens.slice(0, contTokens)) : '',
      });
    }
    return {
      shape: shapeOf(block),
      promptTokens: ids.length,
      generateTokens: generate,
      reference: { tokens: ref.tokens, text: contTokens > 0 ? tokenizer.decode(ref.tokens.slice(0, contTokens)) : '' },
      rows,
      generated,
    };
  } finally {
    prefix.dispose();
    bar.done();
  }
}

/** Entry size against greedy agreement with the fp32 run (free-running and teacher-forced), per encoding. */
export function encodingQualityFigure(result: EncodingQualityResult, title = 'What quantization buys and costs: entry size vs agreement with fp32 (measured)'): PlotlyFigure {
  if (result === null || typeof result !== 'object' || !Array.isArray(result.rows) || result.rows.length === 0) {
    throw new InvalidInputError('encodingQualityFigure needs the result of encodingQuality()');
  }
  const rows = result.rows;
  const x = rows.map((r) => r.bytes / 1024);
  // Encodings of equal size (fp16 and bf16) share one label instead of printing over each other.
  const labels = rows.map((r, i) => (rows.findIndex((o) => o.bytes === r.bytes) === i ? rows.filter((o) => o.bytes === r.bytes).map((o) => o.dtype).join(' / ') : ''));
  const ticks = [...new Set(x)].sort((a, b) => a - b);
  return {
    data: [
      {
        type: 'scatter',
        mode: 'lines+markers+text',
        x,
        y: rows.map((r) => 100 * r['greedy agreement']),
        text: labels,
        textposition: 'top center',
        name: `greedy agreement over ${result.generateTokens} generated tokens (%)`,
        marker: { color: '#1f77b4', size: 10 },
      },
      {
        type: 'scatter',
        mode: 'lines+markers',
        x,
        y: rows.map((r) => 100 * r['teacher-forced top-1']),
        name: 'teacher-forced top-1 agreement (%)',
        marker: { color: '#2ca02c', size: 8, symbol: 'diamond' },
        line: { dash: 'dot' },
      },
      {
        type: 'scatter',
        mode: 'lines+markers',
        x,
        y: rows.map((r) => (100 * r['identical leading tokens']) / result.generateTokens),
        name: 'identical before the first divergence (% of the run)',
        marker: { color: '#d62728', size: 8, symbol: 'x' },
        line: { dash: 'dash' },
      },
    ],
    layout: {
      title: { text: title },
      xaxis: { title: { text: 'entry size, KiB (log scale)' }, type: 'log', tickvals: ticks, ticktext: ticks.map((t) => (t >= 100 ? t.toFixed(0) : t.toPrecision(3))) },
      yaxis: { title: { text: '% of generated positions' }, range: [-5, 112] },
      legend: { orientation: 'h', y: -0.25 },
    },
    config: {},
  };
}

// ───────────────────────────── 3. why deflate barely helps: entropy ─────────────────────────────

export interface BitEntropy {
  /** Bit index from the most significant (0 = sign). */
  bit: number;
  field: 'sign' | 'exponent' | 'mantissa';
  /** Share of values with this bit set. */
  pOne: number;
  /** Binary entropy of the bit, 0 … 1 bit. */
  entropyBits: number;
}

export interface BytePlane {
  /** Byte position within a value, 0 = least significant (the first byte in memory, little-endian). */
  plane: number;
  label: string;
  /** Shannon entropy of the plane's byte histogram, 0 … 8 bits per byte. */
  entropyBits: number;
  /** zlib (level 6) on this plane alone: plane bytes ÷ compressed bytes. */
  zlibRatio: number;
}

export interface MantissaEntropy {
  dtype: 'fp32' | 'fp16' | 'bf16';
  /** Bytes per value. */
  width: number;
  values: number;
  /** Most significant bit first. */
  bits: BitEntropy[];
  /** Most significant byte first. */
  planes: BytePlane[];
  /** 8·width ÷ Σ plane entropies: the best ratio a coder of independent bytes per plane could reach. */
  order0Bound: number;
  /** zlib (level 6) on the payload as stored: raw ÷ compressed. */
  zlibRatio: number;
  /** zlib on the byte-shuffled payload (all low bytes, then all high bytes…). */
  shuffledZlibRatio: number;
}

function planeLabel(dtype: 'fp32' | 'fp16' | 'bf16', plane: number): string {
  const { totalBits, mantissaBits } = FLOAT_LAYOUTS[dtype];
  // Bit k counts from the least significant (k = 0); this plane holds bits 8·plane … 8·plane + 7.
  const lo = plane * 8;
  const hi = lo + 7;
  const span = (a: number, b: number): string => (a === b ? `bit ${a}` : `bits ${a}–${b}`);
  const parts: string[] = [];
  if (hi === totalBits - 1) parts.push('sign');
  const expHi = Math.min(hi, totalBits - 2);
  const expLo = Math.max(lo, mantissaBits);
  if (expHi >= expLo) parts.push(`exponent ${span(expHi - mantissaBits, expLo - mantissaBits)}`);
  const manHi = Math.min(hi, mantissaBits - 1);
  if (manHi >= lo) parts.push(`mantissa ${span(manHi, lo)}`);
  const which = plane === totalBits / 8 - 1 ? 'high byte' : plane === 0 ? 'low byte' : `byte ${plane}`;
  return `${which} (${parts.join(', ')})`;
}

function byteEntropy(hist: Float64Array, n: number): number {
  let h = 0;
  for (let i = 0; i < hist.length; i++) {
    const c = hist[i]!;
    if (c > 0) {
      const p = c / n;
      h -= p * Math.log2(p);
    }
  }
  return h;
}

function binaryEntropy(p: number): number {
  if (p <= 0 || p >= 1) return 0;
  return -(p * Math.log2(p) + (1 - p) * Math.log2(1 - p));
}

function zlibRatio(bytes: Uint8Array): number {
  return bytes.length / zlib.deflateSync(bytes, { level: 6 }).length;
}

/**
 * How much information each bit and each byte of a float encoding of `kv` carries. Exponent bits
 * are nearly constant (KV values live within a few powers of two); low mantissa bits are as random
 * as coin flips, and they are most of the bytes — which is why deflate gains little on floats, and
 * why grouping the bytes by significance (byte shuffle) helps a little.
 * @throws InvalidInputError for a quantized dtype (its bytes are codes, not floats).
 */
export function mantissaEntropy(kv: KVBlockData, dtype: KVDtype): MantissaEntropy {
  assertBlock(kv, 'mantissaEntropy');
  if (dtype !== 'fp32' && dtype !== 'fp16' && dtype !== 'bf16') {
    throw new InvalidInputError(`mantissaEntropy looks at float encodings (fp32, fp16, bf16), got ${describeValue(dtype)}`);
  }
  const { totalBits, exponentBits } = FLOAT_LAYOUTS[dtype];
  const width = totalBits / 8;
  const blob = encodeKV(kv, { dtype, codec: 'none' });
  const payload = new Uint8Array(blob.buffer, blob.byteOffset + HEADER_BYTES, blob.length - HEADER_BYTES);
  const values = payload.length / width;
  // Bit counts (bit k = 0 … totalBits-1, least significant first) and per-plane byte histograms.
  const ones = new Float64Array(totalBits);
  const hists = Array.from({ length: width }, () => new Float64Array(256));
  const byteOnes = new Float64Array(256 * 8); // ones per bit of each byte value, to avoid a 32-step inner loop
  for (let b = 0; b < 256; b++) for (let k = 0; k < 8; k++) byteOnes[b * 8 + k] = (b >>> k) & 1;
  for (let p = 0; p < width; p++) {
    const h = hists[p]!;
    for (let i = p; i < payload.length; i += width) h[payload[i]!]!++;
  }
  for (let p = 0; p < width; p++) {
    const h = hists[p]!;
    for (let b = 0; b < 256; b++) {
      const c = h[b]!;
      if (c === 0) continue;
      for (let k = 0; k < 8; k++) ones[p * 8 + k]! += c * byteOnes[b * 8 + k]!;
    }
  }
  const bits: BitEntropy[] = [];
  for (let i = 0; i < totalBits; i++) {
    const k = totalBits - 1 - i;
    const pOne = ones[k]! / values;
    bits.push({ bit: i, field: i === 0 ? 'sign' : i <= exponentBits ? 'exponent' : 'mantissa', pOne, entropyBits: binaryEntropy(pOne) });
  }
  const planes: BytePlane[] = [];
  for (let p = width - 1; p >= 0; p--) {
    const plane = new Uint8Array(values);
    for (let i = 0, j = p; i < values; i++, j += width) plane[i] = payload[j]!;
    planes.push({ plane: p, label: planeLabel(dtype, p), entropyBits: byteEntropy(hists[p]!, values), zlibRatio: zlibRatio(plane) });
  }
  const shuffled = new Uint8Array(payload.length);
  byteShuffle(payload, shuffled, width);
  const totalEntropy = planes.reduce((s, p) => s + p.entropyBits, 0);
  return {
    dtype,
    width,
    values,
    bits,
    planes,
    order0Bound: totalEntropy > 0 ? (8 * width) / totalEntropy : Infinity,
    zlibRatio: zlibRatio(payload),
    shuffledZlibRatio: zlibRatio(shuffled),
  };
}

/**
 * zlib on each layer's K and V tensor separately, and how many of its rows (one head, one token:
 * headDim values) repeat an earlier row exactly. Layer 0's V is a function of the token id alone
 * (no attention and no RoPE before it), so every repeated prompt token repeats a row there, and
 * deflate's string matching finds it; elsewhere rows do not repeat.
 */
export function perTensorCompression(kv: KVBlockData, dtype: KVDtype = 'fp16'): SerdeTableRow[] {
  assertBlock(kv, 'perTensorCompression');
  if (dtype !== 'fp32' && dtype !== 'fp16' && dtype !== 'bf16') {
    throw new InvalidInputError(`perTensorCompression looks at float encodings (fp32, fp16, bf16), got ${describeValue(dtype)}`);
  }
  const width = FLOAT_LAYOUTS[dtype].totalBits / 8;
  const rowBytes = kv.headDim * width;
  const rows: SerdeTableRow[] = [];
  for (const kind of ['k', 'v'] as const) {
    for (let l = 0; l < kv.layers; l++) {
      const one: KVBlockData = { layers: 1, kvHeads: kv.kvHeads, headDim: kv.headDim, tokens: kv.tokens, k: [kv.k[l]!], v: [kv.v[l]!] };
      const blob = encodeKV(one, { dtype, codec: 'none' });
      const half = (blob.length - HEADER_BYTES) / 2;
      const start = HEADER_BYTES + (kind === 'k' ? 0 : half);
      const tensor = new Uint8Array(blob.buffer, blob.byteOffset + start, half);
      const seen = new Set<string>();
      let repeated = 0;
      for (let at = 0; at < tensor.length; at += rowBytes) {
        const key = Buffer.from(tensor.buffer, tensor.byteOffset + at, rowBytes).toString('base64');
        if (seen.has(key)) repeated++;
        else seen.add(key);
      }
      const shuffled = new Uint8Array(tensor.length);
      byteShuffle(tensor, shuffled, width);
      rows.push({
        tensor: `layer ${l} · ${kind === 'k' ? 'K' : 'V'}`,
        'repeated rows': repeated / (tensor.length / rowBytes),
        'zlib ratio': zlibRatio(tensor),
        'zlib ratio after byte shuffle': zlibRatio(shuffled),
      });
    }
  }
  return rows;
}

/** One row per byte plane of each result: entropy and zlib ratio of that plane alone. */
export function bytePlaneTable(results: MantissaEntropy | readonly MantissaEntropy[]): SerdeTableRow[] {
  const list = asList(results);
  if (list.length === 0 || list.some((r) => !r || !Array.isArray((r as MantissaEntropy).planes))) {
    throw new InvalidInputError('bytePlaneTable needs the result(s) of mantissaEntropy()');
  }
  return list.flatMap((r) =>
    r.planes.map((p) => ({ dtype: r.dtype, 'byte plane': p.label, 'entropy (bits per byte, max 8)': p.entropyBits, 'zlib ratio of this plane': p.zlibRatio })),
  );
}

/** One row per dtype: zlib with and without the byte shuffle, against the order-0 bound. */
export function shuffleTable(results: MantissaEntropy | readonly MantissaEntropy[]): SerdeTableRow[] {
  const list = asList(results);
  if (list.length === 0 || list.some((r) => !r || !Array.isArray((r as MantissaEntropy).planes))) {
    throw new InvalidInputError('shuffleTable needs the result(s) of mantissaEntropy()');
  }
  return list.map((r) => ({
    dtype: r.dtype,
    'bytes per value': r.width,
    'zlib ratio': r.zlibRatio,
    'zlib ratio after byte shuffle': r.shuffledZlibRatio,
    'bound for a per-plane byte coder': r.order0Bound,
  }));
}

/** Entropy of every bit position, most significant first, one panel per encoding, coloured by field. */
export function bitEntropyFigure(results: MantissaEntropy | readonly MantissaEntropy[], title = 'Information per bit of real KV (entropy, 1 = random coin flip)'): PlotlyFigure {
  const list = asList(results);
  if (list.length === 0 || list.some((r) => !r || !Array.isArray((r as MantissaEntropy).bits))) {
    throw new InvalidInputError('bitEntropyFigure needs the result(s) of mantissaEntropy()');
  }
  const data: Record<string, unknown>[] = [];
  const layout: Record<string, unknown> = {
    title: { text: title },
    grid: { rows: list.length, columns: 1, pattern: 'independent', roworder: 'top to bottom' },
    barmode: 'overlay',
    legend: { orientation: 'h', y: -0.12 },
    annotations: [] as Record<string, unknown>[],
    height: 170 * list.length + 120,
  };
  list.forEach((r, i) => {
    const suffix = i === 0 ? '' : String(i + 1);
    for (const field of ['sign', 'exponent', 'mantissa'] as const) {
      const sel = r.bits.filter((b) => b.field === field);
      data.push({
        type: 'bar',
        x: sel.map((b) => b.bit),
        y: sel.map((b) => b.entropyBits),
        name: field,
        legendgroup: field,
        showlegend: i === 0,
        marker: { color: FIELD_COLORS[field] },
        xaxis: `x${suffix}`,
        yaxis: `y${suffix}`,
        hovertemplate: `${r.dtype} bit %{x} (${field}): %{y:.3f} bits<extra></extra>`,
      });
    }
    layout[`xaxis${suffix}`] = { range: [-0.5, 31.5], dtick: 4, title: i === list.length - 1 ? { text: 'bit, most significant first' } : undefined };
    layout[`yaxis${suffix}`] = { range: [0, 1.05], title: { text: r.dtype } };
  });
  return { data, layout, config: {} };
}

// ───────────────────────────── 5. codec throughput ─────────────────────────────

export interface CodecThroughputOptions {
  /** Encodings to measure. @default fp32, fp16, bf16, int8 */
  dtypes?: KVDtype[];
  /** Codecs to measure (include `none`: it is the baseline of compressionPaysOff). @default all five */
  codecs?: KVCodec[];
  /** Deflate level. @default 6 */
  level?: number;
  /** Time per measurement, split over `rounds` samples. @default KVLAB_FAST 40 ms, else 300 ms */
  minTimeMs?: number;
  /** Samples per measurement; the median is reported. @default KVLAB_FAST 3, else 5 */
  rounds?: number;
  /** @default 'auto' */
  progress?: SerdeProgressTarget;
}

export interface CodecThroughputRow extends SerdeTableRow {
  dtype: KVDtype;
  codec: KVCodec;
  /** Bytes of the entry (header + stored payload). */
  'entry bytes': number;
  /** Entry bytes of the same dtype with codec none ÷ this entry's bytes. */
  ratio: number;
  '× smaller than fp32': number;
  /** encodeKV, median ms per call. */
  'encode (ms)': number;
  /** decodeKV into preallocated arrays, median ms per call. */
  'decode (ms)': number;
  /** Uncompressed entry bytes of this dtype ÷ encode time (MB = 10^6 bytes). */
  'encode MB/s': number;
  'decode MB/s': number;
}

export interface CodecThroughput {
  shape: KVShape;
  fp32Bytes: number;
  rows: CodecThroughputRow[];
  minTimeMs: number;
  rounds: number;
  level: number;
}

export const DEFAULT_THROUGHPUT_DTYPES: readonly KVDtype[] = ['fp32', 'fp16', 'bf16', 'int8'];

/**
 * Measure encodeKV and decodeKV of `kv` for each (dtype, codec): size, compression ratio, and
 * median time per call (one warm-up call, then `rounds` samples). The same run measures every
 * combination side by side, so compare ratios, not lone absolute numbers (the machine is shared).
 */
export async function codecThroughput(kv: KVBlockData, options: CodecThroughputOptions = {}): Promise<CodecThroughput> {
  assertBlock(kv, 'codecThroughput');
  if (options === null || typeof options !== 'object') throw new InvalidInputError(`codecThroughput options must be an object, got ${describeValue(options)}`);
  const dtypes = checkDtypes(options.dtypes ?? [...DEFAULT_THROUGHPUT_DTYPES], 'codecThroughput dtypes');
  const codecs = checkCodecs(options.codecs ?? [...CODECS], 'codecThroughput codecs');
  const level = options.level ?? 6;
  assertInteger(level, 'level', 0, 9);
  const minTimeMs = options.minTimeMs ?? sized(40, 300);
  if (typeof minTimeMs !== 'number' || !(minTimeMs > 0) || minTimeMs > 60_000) throw new InvalidInputError(`minTimeMs must be in (0, 60000], got ${describeValue(minTimeMs)}`);
  const rounds = options.rounds ?? sized(3, 5);
  assertInteger(rounds, 'rounds', 1, 100);
  const shape = shapeOf(kv);
  const fp32Bytes = fp32BytesOf(shape);
  const n = tensorElements(shape);
  const into = { k: Array.from({ length: shape.layers }, () => new Float32Array(n)), v: Array.from({ length: shape.layers }, () => new Float32Array(n)) };
  const bar = progress(dtypes.length * codecs.length, 'codec throughput', { target: options.progress ?? 'auto' });
  const rows: CodecThroughputRow[] = [];
  try {
    for (const dtype of dtypes) {
      const plain = encodeKV(kv, { dtype, codec: 'none' });
      const plainBytes = plain.length;
      // Warm the value kernels up first: otherwise the first measured codec (none, the baseline)
      // pays for V8's optimisation of this dtype's code and looks slower than it is.
      const warmUntil = performance.now() + Math.max(20, minTimeMs);
      for (let i = 0; i < 3 || performance.now() < warmUntil; i++) {
        encodeKV(kv, { dtype, codec: 'none' });
        decodeKV(plain, { into });
      }
      for (const codec of codecs) {
        bar.tick(0, `codec throughput: ${dtype} + ${codec}`);
        await yieldToEventLoop();
        const blob = encodeKV(kv, { dtype, codec, level });
        // A short warm-up of this combination too (pako's JavaScript needs more than one call to get optimised).
        const until = performance.now() + minTimeMs / 4;
        for (let i = 0; i < 2 || performance.now() < until; i++) {
          encodeKV(kv, { dtype, codec, level });
          decodeKV(blob, { into });
        }
        const enc = measure(() => encodeKV(kv, { dtype, codec, level }), minTimeMs, rounds);
        const dec = measure(() => decodeKV(blob, { into }), minTimeMs, rounds);
        rows.push({
          dtype,
          codec,
          'entry bytes': blob.length,
          ratio: plainBytes / blob.length,
          '× smaller than fp32': (fp32Bytes + HEADER_BYTES) / blob.length,
          'encode (ms)': enc.medianMs,
          'decode (ms)': dec.medianMs,
          'encode MB/s': plainBytes / enc.medianMs / 1000,
          'decode MB/s': plainBytes / dec.medianMs / 1000,
        });
        bar.tick();
      }
    }
  } finally {
    bar.done();
  }
  return { shape, fp32Bytes, rows, minTimeMs, rounds, level };
}

function assertThroughput(results: unknown, what: string): asserts results is Pick<CodecThroughput, 'rows'> {
  const rows = (results as CodecThroughput | null)?.rows;
  if (!Array.isArray(rows) || rows.length === 0) throw new InvalidInputError(`${what} needs the result of codecThroughput(), got ${describeValue(results)}`);
}

/** Encode and decode speed per codec for one encoding (log scale), with each codec's compression ratio. */
export function codecThroughputFigure(results: CodecThroughput, dtype: KVDtype = 'fp16', title?: string): PlotlyFigure {
  assertThroughput(results, 'codecThroughputFigure');
  const rows = results.rows.filter((r) => r.dtype === dtype);
  if (rows.length === 0) throw new InvalidInputError(`codecThroughputFigure: the results hold no ${describeValue(dtype)} rows`);
  const x = rows.map((r) => r.codec);
  return {
    data: [
      {
        type: 'bar',
        x,
        y: rows.map((r) => r['encode MB/s']),
        name: 'encode (encodeKV)',
        marker: { color: '#1f77b4' },
        text: rows.map((r) => `${r.ratio.toFixed(3)}×`),
        textposition: 'outside',
        hovertemplate: '%{x}: encode %{y:.1f} MB/s, ratio %{text}<extra></extra>',
      },
      { type: 'bar', x, y: rows.map((r) => r['decode MB/s']), name: 'decode (decodeKV)', marker: { color: '#2ca02c' }, hovertemplate: '%{x}: decode %{y:.1f} MB/s<extra></extra>' },
    ],
    layout: {
      title: { text: title ?? `${dtype} entries: speed per codec (labels: compression ratio), measured` },
      barmode: 'group',
      xaxis: { title: { text: 'codec' } },
      yaxis: { title: { text: `MB/s of uncompressed ${dtype} entry (log scale)` }, type: 'log' },
      legend: { orientation: 'h', y: -0.2 },
    },
    config: {},
  };
}

/** Sizes, speed and error along fp32 → fp16 → deflate, with timings from a codecThroughput run. */
export interface PipelineStep {
  dtype: KVDtype;
  codec: KVCodec;
}

export const DEFAULT_PIPELINE_STEPS: readonly PipelineStep[] = [
  { dtype: 'fp32', codec: 'none' },
  { dtype: 'fp16', codec: 'none' },
  { dtype: 'fp16', codec: 'pako' },
  { dtype: 'fp16', codec: 'zlib' },
  { dtype: 'fp16', codec: 'shuffle-zlib' },
];

/**
 * fp32 → fp16 → deflate on real KV: per step, the entry size, its encode/decode time (from
 * `throughput`, measured on the same block) and the error of the decoded values against `kv`.
 */
export function halfPrecisionPipeline(kv: KVBlockData, throughput: CodecThroughput, steps: readonly PipelineStep[] = DEFAULT_PIPELINE_STEPS): SerdeTableRow[] {
  assertBlock(kv, 'halfPrecisionPipeline');
  assertThroughput(throughput, 'halfPrecisionPipeline');
  const fp32Bytes = fp32BytesOf(kv);
  return steps.map((s) => {
    const row = throughput.rows.find((r) => r.dtype === s.dtype && r.codec === s.codec);
    if (row === undefined) throw new InvalidInputError(`halfPrecisionPipeline: the throughput results have no ${s.dtype} + ${s.codec} row (measure it with codecThroughput)`);
    const blob = encodeKV(kv, { dtype: s.dtype, codec: s.codec, level: throughput.level });
    const cmp = compareKV(kv, decodeKV(blob));
    return {
      step: s.codec === 'none' ? s.dtype : `${s.dtype} + ${s.codec}`,
      'entry KiB': blob.length / 1024,
      '× smaller than fp32': (fp32Bytes + HEADER_BYTES) / blob.length,
      'encode (ms)': row['encode (ms)'],
      'decode (ms)': row['decode (ms)'],
      'max abs error': cmp.maxAbsError,
      'relative RMSE': cmp.relRmse,
    };
  });
}

// ───────────────────────────── 6. does compression pay at link speed X ─────────────────────────────

/** Reference link speeds, MB/s (10^6 bytes/s) of payload, for the summary columns. */
export const REFERENCE_LINKS: readonly { label: string; MBps: number }[] = [
  { label: '100 Mbit/s', MBps: 12.5 },
  { label: '1 Gbit/s', MBps: 125 },
  { label: '10 Gbit/s', MBps: 1250 },
  { label: '100 Gbit/s', MBps: 12500 },
];

/** Link speeds from 0.1 MB/s to 100 GB/s, five per decade. */
export function defaultLinkSpeeds(): number[] {
  const out: number[] = [];
  for (let e = -1; e <= 5; e += 0.2) out.push(Number((10 ** e).toPrecision(4)));
  return out;
}

export interface LinkCostPoint {
  dtype: KVDtype;
  codec: KVCodec;
  linkMBps: number;
  /** encode + bytes / link + decode, ms. */
  totalMs: number;
  /** The same for this dtype with codec none. */
  uncompressedMs: number;
  /** totalMs ÷ uncompressedMs: below 1, compressing pays. */
  relative: number;
  pays: boolean;
}

export interface PaysOffRow extends SerdeTableRow {
  dtype: KVDtype;
  codec: KVCodec;
  ratio: number;
  /** Extra codec time over codec none: (encode + decode) − (encode + decode of none), ms. */
  'extra codec time (ms)': number;
  'bytes saved': number;
  /**
   * Compressing pays on links slower than this (MB/s): bytes saved ÷ extra codec time. Infinity when
   * the codec is not slower than none yet saves bytes; 0 when it never pays.
   */
  'pays below (MB/s)': number;
}

export interface CompressionPaysOff {
  links: number[];
  points: LinkCostPoint[];
  summary: PaysOffRow[];
}

type ThroughputLike = { rows: readonly Pick<CodecThroughputRow, 'dtype' | 'codec' | 'entry bytes' | 'encode (ms)' | 'decode (ms)'>[] };

/**
 * For each measured (dtype, codec) and link speed: the time to move one block = encode + bytes ÷
 * link + decode, against the same dtype sent uncompressed. Compressing pays when the bytes it saves
 * take longer on the link than the codec takes: link < bytes saved ÷ extra codec time.
 * @throws InvalidInputError for link speeds that are not positive finite numbers, or results without a `none` row.
 */
export function compressionPaysOff(results: ThroughputLike, linkSpeedsMBps: readonly number[] = defaultLinkSpeeds()): CompressionPaysOff {
  assertThroughput(results, 'compressionPaysOff');
  if (!Array.isArray(linkSpeedsMBps) || linkSpeedsMBps.length === 0) {
    throw new InvalidInputError(`linkSpeedsMBps must be a non-empty array of MB/s, got ${describeValue(linkSpeedsMBps)}`);
  }
  for (const l of linkSpeedsMBps) {
    if (typeof l !== 'number' || !Number.isFinite(l) || l <= 0) throw new InvalidInputError(`link speeds must be positive finite MB/s, got ${describeValue(l)}`);
  }
  const links = [...new Set(linkSpeedsMBps)].sort((a, b) => a - b);
  const points: LinkCostPoint[] = [];
  const summary: PaysOffRow[] = [];
  const cost = (r: ThroughputLike['rows'][number], link: number): number => r['encode (ms)'] + r['entry bytes'] / (link * 1000) + r['decode (ms)'];
  for (const r of results.rows) {
    for (const key of ['entry bytes', 'encode (ms)', 'decode (ms)'] as const) {
      const v = r[key];
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new InvalidInputError(`compressionPaysOff: ${r.dtype} + ${r.codec} has ${key} = ${describeValue(v)}`);
    }
    const base = results.rows.find((b) => b.dtype === r.dtype && b.codec === 'none');
    if (base === undefined) throw new InvalidInputError(`compressionPaysOff: no ${r.dtype} + none row to compare ${r.codec} with (measure codec 'none' too)`);
    for (const link of links) {
      const totalMs = cost(r, link);
      const uncompressedMs = cost(base, link);
      points.push({ dtype: r.dtype, codec: r.codec, linkMBps: link, totalMs, uncompressedMs, relative: totalMs / uncompressedMs, pays: totalMs < uncompressedMs });
    }
    if (r.codec === 'none') continue;
    const saved = base['entry bytes'] - r['entry bytes'];
    const extra = r['encode (ms)'] + r['decode (ms)'] - (base['encode (ms)'] + base['decode (ms)']);
    const below = saved <= 0 ? 0 : extra <= 0 ? Infinity : saved / (extra * 1000);
    const row: PaysOffRow = {
      dtype: r.dtype,
      codec: r.codec,
      ratio: base['entry bytes'] / r['entry bytes'],
      'extra codec time (ms)': extra,
      'bytes saved': saved,
      'pays below (MB/s)': below,
    };
    for (const ref of REFERENCE_LINKS) row[`pays at ${ref.label}?`] = cost(r, ref.MBps) < cost(base, ref.MBps) ? 'yes' : 'no';
    summary.push(row);
  }
  return { links, points, summary };
}

/** Time to move a block with each codec relative to sending it uncompressed, against link speed (log–log). */
export function compressionPaysOffFigure(result: CompressionPaysOff, dtype: KVDtype = 'fp16', title?: string): PlotlyFigure {
  if (result === null || typeof result !== 'object' || !Array.isArray(result.points)) throw new InvalidInputError('compressionPaysOffFigure needs the result of compressionPaysOff()');
  const pts = result.points.filter((p) => p.dtype === dtype && p.codec !== 'none');
  if (pts.length === 0) throw new InvalidInputError(`compressionPaysOffFigure: no compressed ${describeValue(dtype)} rows in the result`);
  const codecs = [...new Set(pts.map((p) => p.codec))];
  const palette = ['#9467bd', '#8c564b', '#1f77b4', '#2ca02c', '#e377c2'];
  const data: Record<string, unknown>[] = codecs.map((c, i) => {
    const sel = pts.filter((p) => p.codec === c);
    return {
      type: 'scatter',
      mode: 'lines',
      x: sel.map((p) => p.linkMBps),
      y: sel.map((p) => p.relative),
      name: `${dtype} + ${c}`,
      line: { color: palette[i % palette.length], width: 2.5 },
      hovertemplate: `${dtype} + ${c}<br>link %{x} MB/s: %{y:.3f}× the uncompressed time<extra></extra>`,
    };
  });
  const xs = result.links;
  data.push({ type: 'scatter', mode: 'lines', x: [xs[0], xs[xs.length - 1]], y: [1, 1], name: `${dtype} uncompressed (= 1)`, line: { color: '#444', dash: 'dash', width: 1.5 } });
  const ys = pts.map((p) => p.relative);
  const yMin = Math.min(...ys, 1);
  const yMax = Math.max(...ys, 1);
  const shapes = REFERENCE_LINKS.filter((l) => l.MBps >= xs[0]! && l.MBps <= xs[xs.length - 1]!).map((l) => ({
    type: 'line',
    x0: l.MBps,
    x1: l.MBps,
    yref: 'paper',
    y0: 0,
    y1: 1,
    line: { color: '#999', dash: 'dot', width: 1 },
  }));
  const annotations = REFERENCE_LINKS.filter((l) => l.MBps >= xs[0]! && l.MBps <= xs[xs.length - 1]!).map((l) => ({
    x: Math.log10(l.MBps),
    y: 1,
    yref: 'paper',
    text: l.label,
    showarrow: false,
    xanchor: 'left',
    yanchor: 'top',
    font: { size: 10, color: '#666' },
  }));
  return {
    data,
    layout: {
      title: { text: title ?? `Does compression pay? Time to move one ${dtype} block vs sending it uncompressed (below 1 = pays)` },
      xaxis: { title: { text: 'link speed, MB/s (log scale)' }, type: 'log' },
      yaxis: { title: { text: 'time ÷ uncompressed time (log scale)' }, type: 'log', range: [Math.log10(yMin) - 0.05, Math.log10(yMax) + 0.1] },
      shapes,
      annotations,
      legend: { orientation: 'h', y: -0.2 },
    },
    config: {},
  };
}

// ───────────────────────────── 7. the container, and damage ─────────────────────────────

function hex(bytes: Uint8Array, from: number, to: number): string {
  const out: string[] = [];
  for (let i = from; i < to && i < bytes.length; i++) out.push(bytes[i]!.toString(16).padStart(2, '0'));
  return out.join(' ');
}

function assertBytes(blob: unknown, what: string): asserts blob is Uint8Array {
  if (!(blob instanceof Uint8Array)) throw new InvalidInputError(`${what} needs the bytes of an entry (a Buffer from encodeKV), got ${describeValue(blob)}`);
}

/** `length` bytes from `start` as hex lines of 16 bytes with offsets (like `xxd`). */
export function hexDump(blob: Uint8Array, start = 0, length = 80): string {
  assertBytes(blob, 'hexDump');
  assertInteger(start, 'hexDump start', 0, Math.max(0, blob.length - 1));
  assertInteger(length, 'hexDump length', 1, 1 << 20);
  const end = Math.min(blob.length, start + length);
  const lines: string[] = [];
  for (let at = start; at < end; at += 16) lines.push(`${String(at).padStart(6)}  ${hex(blob, at, Math.min(end, at + 16))}`);
  return lines.join('\n');
}

/** The 64-byte header of an entry, field by field: offset, raw bytes and what readKVHeader makes of them. */
export function headerTable(blob: Uint8Array): SerdeTableRow[] {
  assertBytes(blob, 'headerTable');
  const h = readKVHeader(blob);
  const f = (offset: number, size: number, field: string, value: string | number): SerdeTableRow => ({ offset, size, field, bytes: hex(blob, offset, offset + size), value });
  return [
    f(0, 4, 'magic', `0x89 'K' 'V' 'B' (${MAGIC.map((b) => b.toString(16)).join(' ')})`),
    f(4, 2, 'format version', h.version),
    f(6, 1, 'dtype', h.dtype),
    f(7, 1, 'codec', h.codec),
    f(8, 4, 'layers', h.layers),
    f(12, 4, 'kv heads', h.kvHeads),
    f(16, 4, 'head dim', h.headDim),
    f(20, 4, 'tokens', h.tokens),
    f(24, 4, 'group size', h.groupSize),
    f(28, 1, 'scale dtype', h.scaleDtype),
    f(29, 3, 'reserved', 'must be 0'),
    f(32, 8, 'raw payload length', h.rawLength),
    f(40, 8, 'stored payload length', h.payloadLength),
    f(48, 8, 'payload XXH64', `0x${h.payloadChecksum.toString(16).padStart(16, '0')}`),
    f(56, 8, 'header XXH64', `0x${h.headerChecksum.toString(16).padStart(16, '0')}`),
    { offset: HEADER_BYTES, size: h.payloadLength, field: 'payload', bytes: `${hex(blob, HEADER_BYTES, HEADER_BYTES + 8)} …`, value: `${h.payloadLength} bytes` },
  ];
}

/** A copy of `blob` with the byte at `offset` XOR-ed with `mask` (default 0x01: one flipped bit). */
export function flipByte(blob: Uint8Array, offset: number, mask = 0x01): Buffer {
  assertBytes(blob, 'flipByte');
  assertInteger(offset, 'flipByte offset', 0, Math.max(0, blob.length - 1));
  assertInteger(mask, 'flipByte mask', 1, 255);
  const out = Buffer.from(blob);
  out[offset] = out[offset]! ^ mask;
  return out;
}

/** Try to decode `blob`; report the typed error instead of throwing it. */
export function tryDecode(blob: Uint8Array): { ok: boolean; code: string; error: string; message: string } {
  try {
    decodeKV(blob);
    return { ok: true, code: '', error: '', message: 'decoded' };
  } catch (err) {
    if (err instanceof KVLabError) return { ok: false, code: err.code, error: err.name, message: err.message };
    throw err;
  }
}

export interface CorruptionCase {
  where: string;
  offset: number;
}

/** Damage at chosen places of an entry: magic, version, dtype, tokens, header checksum, payload start/middle/end. */
export function defaultCorruptionCases(blob: Uint8Array): CorruptionCase[] {
  assertBytes(blob, 'defaultCorruptionCases');
  if (blob.length <= HEADER_BYTES) throw new InvalidInputError(`an entry has more than ${HEADER_BYTES} bytes, got ${blob.length}`);
  const payload = blob.length - HEADER_BYTES;
  return [
    { where: 'magic (byte 0)', offset: 0 },
    { where: 'format version', offset: 4 },
    { where: 'dtype id', offset: 6 },
    { where: 'tokens field', offset: 20 },
    { where: 'header checksum', offset: 56 },
    { where: 'first payload byte', offset: HEADER_BYTES },
    { where: 'middle of the payload', offset: HEADER_BYTES + Math.floor(payload / 2) },
    { where: 'last payload byte', offset: blob.length - 1 },
  ];
}

/**
 * Flip one bit at each place (and, last, cut off the final byte) and try to decode: the error code
 * and message the reader gives. A row with code '' would mean damage went unnoticed.
 */
export function corruptionTable(blob: Uint8Array, cases?: readonly CorruptionCase[]): SerdeTableRow[] {
  assertBytes(blob, 'corruptionTable');
  readKVHeader(blob); // the undamaged entry must be valid
  const list = cases ?? defaultCorruptionCases(blob);
  const rows: SerdeTableRow[] = list.map((c) => {
    const damaged = flipByte(blob, c.offset);
    const r = tryDecode(damaged);
    return {
      damage: `bit 0 flipped: ${c.where}`,
      offset: c.offset,
      'byte before': `0x${blob[c.offset]!.toString(16).padStart(2, '0')}`,
      'byte after': `0x${damaged[c.offset]!.toString(16).padStart(2, '0')}`,
      detected: !r.ok,
      code: r.code,
      message: r.message,
    };
  });
  const cut = tryDecode(blob.subarray(0, blob.length - 1));
  rows.push({ damage: 'last byte cut off (truncated)', offset: blob.length - 1, 'byte before': '', 'byte after': '', detected: !cut.ok, code: cut.code, message: cut.message });
  return rows;
}
