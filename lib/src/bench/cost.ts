/**
 * The cost model: projects measured reuse onto real GPU deployments using measured H100 prefill
 * speeds (lib/data/h100-prefill.tsv, with its provenance in the file). Every input is explicit and
 * returned with the result so that callers print it; nothing is assumed silently.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, InvalidInputError, describeValue } from '../runtime/errors';
import type { ModelConfig } from '../model/config';

/** One row of the measured prefill table: a model shape prefilling one prompt length on an H100. */
export interface PrefillMeasurement {
  /** Model shape (`llama2-7b`, `llama3-8b`, `llama3-70b`). */
  model: string;
  /** Prompt length prefilled, in tokens. */
  promptTokens: number;
  /** Measured prefill time of the whole prompt (median), in milliseconds. */
  prefillMs: number;
  /** promptTokens / prefill time. */
  prefillTokensPerS: number;
  /** Bytes of K and V per token over all layers, in bf16. */
  kvBytesPerToken: number;
  /** kvBytesPerToken × promptTokens. */
  kvBytesTotal: number;
  /** Store bandwidth (GB/s) at which loading the prompt's KV takes as long as prefilling it. */
  breakevenGBps: number;
  /** How the row was measured (e.g. some layers timed and scaled). */
  note: string;
}

/** Where the measured prefill table ships inside the package. */
export const PREFILL_TABLE_PATH = path.resolve(__dirname, '..', '..', 'data', 'h100-prefill.tsv');

/** Parse the measured prefill table (TSV with `#` comment lines; the comments are its provenance). */
export function loadPrefillTable(file = PREFILL_TABLE_PATH): { rows: PrefillMeasurement[]; provenance: string[] } {
  const text = fs.readFileSync(file, 'utf8');
  const provenance: string[] = [];
  const lines: string[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) provenance.push(line.replace(/^#\s?/, ''));
    else if (line.trim() !== '') lines.push(line);
  }
  const [header, ...body] = lines;
  const cols = (header ?? '').split('\t');
  const expected = ['model', 'prompt_tokens', 'prefill_ms', 'prefill_tokens_per_s', 'kv_bytes_per_token', 'kv_bytes_total', 'breakeven_GBps', 'note'];
  if (expected.some((c, i) => cols[i] !== c)) throw new ConfigError({ path: `${file} columns`, expected: expected.join(', '), received: cols.join(', ') });
  const rows = body.map((line, i) => {
    const f = line.split('\t');
    const num = (j: number): number => {
      const v = Number(f[j]);
      if (!Number.isFinite(v)) throw new ConfigError({ path: `${file} row ${i + 1}, column ${expected[j]}`, expected: 'a number', received: describeValue(f[j]) });
      return v;
    };
    return {
      model: f[0] ?? '', promptTokens: num(1), prefillMs: num(2), prefillTokensPerS: num(3),
      kvBytesPerToken: num(4), kvBytesTotal: num(5), breakevenGBps: num(6), note: f[7] ?? '',
    };
  });
  return { rows, provenance };
}

/** What {@link projectCost} projects from: the model, the workload's reuse, the price and the store's speed. */
export interface CostInputs {
  /** Model shape, one of the table's models (`llama2-7b`, `llama3-8b`, `llama3-70b`). */
  model: string;
  /** Prompt length of a typical request, in tokens. */
  promptTokens: number;
  /** Fraction of prompt tokens served from the cache (measured by a benchmark), 0–1. */
  reuseFraction: number;
  /** Price of one GPU-hour in dollars — an input you choose, printed with every result. */
  dollarsPerGpuHour: number;
  /** Bandwidth at which the store delivers KV to the GPU, GB/s (measured, or a stated assumption). */
  storeGBps: number;
  /**
   * Whether the GPU computes while KV loads (layer by layer, as vLLM's connector API allows): the
   * time with the cache is then max(compute, load) instead of compute + load. Off is the cautious
   * case, where every byte loaded is GPU time spent waiting.
   * @default false
   */
  overlapLoad?: boolean;
}

/** The defaults of {@link CostInputs}: loads are not overlapped with compute (the cautious case). */
export const DEFAULT_COST_INPUTS = { overlapLoad: false } as const;

/** What {@link projectCost} returns: its inputs, the measured basis, and the cost with and without the cache. */
export interface CostProjection {
  inputs: Required<CostInputs>;
  /** The measured row(s) used, and how the speed was derived (nearest or interpolated prompt length). */
  basis: string;
  prefillTokensPerS: number;
  kvBytesPerToken: number;
  /** Store bandwidth at which loading a token's KV takes as long as recomputing it. */
  breakevenGBps: number;
  /**
   * What the projected engine does with the cached tokens: `load` their KV, or `recompute` them
   * because loading would keep the GPU busy longer (an engine would not wait for a slow store).
   */
  reusedKV: 'load' | 'recompute';
  gpuSecondsPerMillionNoCache: number;
  /** GPU time if the cached tokens' KV is loaded (compute of the rest + load, or the max of both with overlap), chosen or not. */
  gpuSecondsPerMillionLoading: number;
  /** The cheaper of loading and recomputing: min(gpuSecondsPerMillionLoading, gpuSecondsPerMillionNoCache). */
  gpuSecondsPerMillionWithCache: number;
  dollarsPerMillionNoCache: number;
  dollarsPerMillionWithCache: number;
  /** 1 − with/without: the fraction of prefill cost saved; 0 when recomputing is the cheaper choice. */
  saving: number;
}

/**
 * Store bandwidth (GB/s, 10^9 bytes) at which loading a token's KV takes exactly as long as
 * prefilling it: bytes per token × tokens per second. A faster store makes loading cheaper.
 */
export function breakEvenGBps(kvBytesPerToken: number, prefillTokensPerS: number): number {
  return (kvBytesPerToken * prefillTokensPerS) / 1e9;
}

/** Prefill speed for a prompt length, interpolated in log(prompt length) between measured rows. */
export function prefillSpeed(rows: PrefillMeasurement[], model: string, promptTokens: number): { tokensPerS: number; kvBytesPerToken: number; basis: string } {
  if (typeof promptTokens !== 'number' || !(promptTokens > 0)) throw InvalidInputError.at('promptTokens', 'a positive number', promptTokens);
  const mine = rows.filter((r) => r.model === model).sort((a, b) => a.promptTokens - b.promptTokens);
  if (mine.length === 0) throw InvalidInputError.at('model', `a model with measured prefill speeds (${[...new Set(rows.map((r) => r.model))].join(', ')})`, model);
  const first = mine[0] as PrefillMeasurement;
  const last = mine[mine.length - 1] as PrefillMeasurement;
  if (promptTokens <= first.promptTokens) return { tokensPerS: first.prefillTokensPerS, kvBytesPerToken: first.kvBytesPerToken, basis: `${model} measured at ${first.promptTokens} tokens (nearest)` };
  if (promptTokens >= last.promptTokens) return { tokensPerS: last.prefillTokensPerS, kvBytesPerToken: last.kvBytesPerToken, basis: `${model} measured at ${last.promptTokens} tokens (nearest)` };
  // first < promptTokens < last here, so the first row at or above promptTokens has index ≥ 1.
  const at = mine.findIndex((r) => promptTokens <= r.promptTokens);
  const lo = mine[at - 1] as PrefillMeasurement;
  const hi = mine[at] as PrefillMeasurement;
  const t = (Math.log(promptTokens) - Math.log(lo.promptTokens)) / (Math.log(hi.promptTokens) - Math.log(lo.promptTokens));
  return {
    tokensPerS: lo.prefillTokensPerS + t * (hi.prefillTokensPerS - lo.prefillTokensPerS),
    kvBytesPerToken: lo.kvBytesPerToken,
    basis: `${model} interpolated between ${lo.promptTokens} and ${hi.promptTokens} tokens`,
  };
}

function checkInputs(i: CostInputs): Required<CostInputs> {
  const positive = (name: string, v: number): void => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw InvalidInputError.at(`inputs.${name}`, 'a positive number', v);
  };
  positive('promptTokens', i.promptTokens);
  positive('dollarsPerGpuHour', i.dollarsPerGpuHour);
  positive('storeGBps', i.storeGBps);
  if (!(i.reuseFraction >= 0 && i.reuseFraction <= 1)) throw InvalidInputError.at('inputs.reuseFraction', 'a fraction in [0, 1]', i.reuseFraction);
  return { ...DEFAULT_COST_INPUTS, ...i };
}

/**
 * GPU-seconds and dollars per million prompt tokens with and without the cache, every prompt token
 * priced at the measured average prefill speed of the prompt length (the uncached tail costs a little
 * more than average, since attention grows with position: see {@link prefillWork}).
 * Without the cache every token is prefilled. With it, (1 − reuse) of the tokens are prefilled and the
 * reused tokens' KV is loaded at `storeGBps` — added to the compute time, or overlapped with it
 * (`overlapLoad`: the slower of the two sets the time) — unless recomputing them is quicker, in which
 * case the projection recomputes (`reusedKV: 'recompute'`), as an engine would.
 */
export function projectCost(inputs: CostInputs, table = loadPrefillTable().rows): CostProjection {
  const i = checkInputs(inputs);
  const speed = prefillSpeed(table, i.model, i.promptTokens);
  const million = 1e6;
  const noCache = million / speed.tokensPerS;
  const computeRest = ((1 - i.reuseFraction) * million) / speed.tokensPerS;
  const loadSeconds = (i.reuseFraction * million * speed.kvBytesPerToken) / (i.storeGBps * 1e9);
  const loading = i.overlapLoad ? Math.max(computeRest, loadSeconds) : computeRest + loadSeconds;
  const reusedKV = loading < noCache ? 'load' : 'recompute';
  const withCache = Math.min(loading, noCache);
  const dollars = (s: number): number => (s / 3600) * i.dollarsPerGpuHour;
  return {
    inputs: i,
    basis: speed.basis,
    prefillTokensPerS: speed.tokensPerS,
    kvBytesPerToken: speed.kvBytesPerToken,
    breakevenGBps: breakEvenGBps(speed.kvBytesPerToken, speed.tokensPerS),
    reusedKV,
    gpuSecondsPerMillionNoCache: noCache,
    gpuSecondsPerMillionLoading: loading,
    gpuSecondsPerMillionWithCache: withCache,
    dollarsPerMillionNoCache: dollars(noCache),
    dollarsPerMillionWithCache: dollars(withCache),
    saving: 1 - withCache / noCache,
  };
}

/** FLOPs of a prefill, split into the part linear in tokens and attention's quadratic part. */
export interface PrefillWork {
  /** Weight matmuls of every layer: 2 FLOPs per weight per computed token. */
  linearFlops: number;
  /** Attention scores and the weighted sum of values: 4 × head_dim FLOPs per query–key pair, head and layer. */
  attentionFlops: number;
  totalFlops: number;
}

/**
 * FLOPs to prefill prompt tokens [cachedTokens, promptTokens) when the KV of the first `cachedTokens`
 * is loaded — a stated model, not a measurement. Linear part: each computed token goes through every
 * layer's q, k, v, o projections and MLP (2 FLOPs per weight). Quadratic part (causal attention):
 * the token at position p has p + 1 keys to score and values to sum. Embedding lookup, norms,
 * softmax and the output head are left out (small, or run for the last token only).
 */
export function prefillWork(config: ModelConfig, promptTokens: number, cachedTokens = 0): PrefillWork {
  for (const [name, v] of [['promptTokens', promptTokens], ['cachedTokens', cachedTokens]] as const) {
    if (!Number.isInteger(v) || v < 0) throw InvalidInputError.at(name, 'a non-negative integer', v);
  }
  if (cachedTokens > promptTokens) throw InvalidInputError.at('cachedTokens', `at most promptTokens (${promptTokens})`, cachedTokens);
  const c = config;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const weightsPerLayer = c.hiddenSize * q + 2 * c.hiddenSize * kv + q * c.hiddenSize + 3 * c.hiddenSize * c.intermediateSize;
  const computed = promptTokens - cachedTokens;
  // Σ_{p = cached}^{prompt − 1} (p + 1) query–key pairs.
  const pairs = (promptTokens * (promptTokens + 1) - cachedTokens * (cachedTokens + 1)) / 2;
  const linearFlops = 2 * weightsPerLayer * c.numLayers * computed;
  const attentionFlops = 4 * c.headDim * c.numHeads * c.numLayers * pairs;
  return { linearFlops, attentionFlops, totalFlops: linearFlops + attentionFlops };
}
