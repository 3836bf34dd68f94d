/**
 * Notebook 01 ("Why the KV cache matters"): attention step by step, decoding with and without the
 * KV cache, time to first token, KV bytes for real model shapes, and what a shared-prefix cache
 * saves. Every number comes from running the model on this machine (or, for model shapes, from
 * the published configs); the notebook only displays what these functions return.
 */
import { kvBytesPerToken, type ModelConfig } from '../model/config';
import { argmax } from '../model/inputs';
import { KVCache } from '../model/kv-cache';
import { getPreset, isPresetName, type PresetName } from '../model/presets';
import { ropeTables } from '../model/rope';
import { Tokenizer } from '../model/tokenizer';
import { LlamaModel } from '../model/transformer';
import { tf } from '../runtime/backend';
import { InvalidInputError, describeValue } from '../runtime/errors';
import { inNotebook } from '../runtime/kernel';
import { progress, type ProgressReporter } from '../runtime/progress';
import { SeededRng } from '../runtime/rng';
import { median } from '../bench/stats';

// ────────────────────────────────────────────────────────────────────────────────────────────────
// Shared checks and small helpers
// ────────────────────────────────────────────────────────────────────────────────────────────────

/** Options every measuring helper here accepts. */
export interface MeasureOptions {
  /**
   * Show a progress bar while measuring.
   * @default true inside a notebook, false elsewhere
   */
  showProgress?: boolean;
}

function checkModel(model: unknown, what: string): LlamaModel {
  if (!(model instanceof LlamaModel)) throw new InvalidInputError(`${what} needs a LlamaModel (from LlamaModel.create), got ${describeValue(model)}`);
  if (model.isDisposed) throw new InvalidInputError(`${what}: the model has been disposed`);
  return model;
}

function checkInteger(what: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `in [${min}, ${max}]`;
    throw new InvalidInputError(`${what} must be an integer ${range}, got ${describeValue(v)}`);
  }
  return v;
}

function checkLengths(what: string, lengths: unknown, min: number, max: number): number[] {
  if (!Array.isArray(lengths) || lengths.length === 0) throw new InvalidInputError(`${what} must be a non-empty array of token counts, got ${describeValue(lengths)}`);
  return lengths.map((v, i) => checkInteger(`${what}[${i}]`, v, min, max));
}

function checkTokens(what: string, tokens: unknown, model: LlamaModel, minLength: number): number[] {
  const isList = Array.isArray(tokens) || (ArrayBuffer.isView(tokens) && !(tokens instanceof DataView));
  if (!isList) throw new InvalidInputError(`${what} must be an array of token ids, got ${describeValue(tokens)}`);
  const list = Array.from(tokens as ArrayLike<number>);
  if (list.length < minLength) throw new InvalidInputError(`${what} needs at least ${minLength} tokens, got ${list.length}`);
  list.forEach((t, i) => checkInteger(`${what}[${i}]`, t, 0, model.config.vocabSize - 1));
  return list;
}

function reporter(total: number, label: string, options: MeasureOptions): ProgressReporter {
  const show = options.showProgress ?? inNotebook();
  return progress(total, label, { target: show ? 'auto' : 'silent' });
}

/** Deterministic pseudo-random token ids (the content does not matter for timing). */
function syntheticTokens(count: number, vocabSize: number, seed: number): number[] {
  const rng = new SeededRng(seed);
  return Array.from({ length: count }, () => rng.int(vocabSize));
}


function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs((a[i] as number) - (b[i] as number));
    if (!(d <= m)) m = d;
  }
  return m;
}

/** Milliseconds taken by `fn` (wall clock, including reading results back). */
async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** "128 KiB", "1 GiB", "2.5 GiB": binary units, at most 3 significant digits. */
export function formatKvBytes(bytes: number): string {
  if (typeof bytes !== 'number' || !Number.isFinite(bytes) || bytes < 0) throw new InvalidInputError(`formatKvBytes needs a finite number ≥ 0, got ${describeValue(bytes)}`);
  let unit = 0;
  let v = bytes;
  while (v >= 1024 && unit < BYTE_UNITS.length - 1) {
    v /= 1024;
    unit += 1;
  }
  return `${v >= 100 ? Math.round(v) : Number(v.toPrecision(3))} ${BYTE_UNITS[unit]}`;
}

// ────────────────────────────────────────────────────────────────────────────────────────────────
// 1 · Attention step by step
// ────────────────────────────────────────────────────────────────────────────────────────────────

export interface AttentionWalkthroughOptions {
  /**
   * Query head of layer 0 to show. Query head `h` reads kv head `floor(h / (numHeads / numKvHeads))`.
   * @default 0
   */
  head?: number;
  /** Turns token ids into axis labels (`"3 ␣sat"`); without it labels are the ids. */
  tokenizer?: Tokenizer;
}

/** Most tokens the walkthrough accepts: it is for looking at small matrices. */
export const WALKTHROUGH_MAX_TOKENS = 64;

/**
 * One attention head of layer 0 on a short prompt, computed step by step. Matrices are row-major
 * nested arrays, one row per token (row i = the token at position i).
 */
export interface AttentionWalkthrough {
  layer: 0;
  head: number;
  /** The kv head this query head reads (grouped-query attention). */
  kvHead: number;
  headDim: number;
  tokens: number[];
  /** One label per token, unique (position + text), for chart axes. */
  labels: string[];
  /** [T][headDim] queries of this head (RMSNorm → q_proj → RoPE), computed here from the weights. */
  queries: number[][];
  /** [T][headDim] keys, read from the model's own KV cache after `prefill(tokens)`. */
  keys: number[][];
  /** [T][headDim] values, read from the model's own KV cache. */
  values: number[][];
  /** [T][T] Q·Kᵀ / √headDim; `null` where the causal mask hides a later token. */
  scores: (number | null)[][];
  /** [T][T] softmax of each row of scores (masked entries are exactly 0): how much token i attends to token j. */
  weights: number[][];
  /** [T][headDim] weights · V: what this head passes on for each token. */
  output: number[][];
  /** max |K, V recomputed here from the weights − K, V in the model's cache|: the cache holds exactly these. */
  kvRecomputeMaxDiff: number;
  /**
   * max |K, V of the first T−1 tokens prefilled alone − the first T−1 rows when all T are prefilled|,
   * over all layers: a later token does not change earlier tokens' keys and values, so they can be kept.
   */
  prefixKvMaxDiff: number;
  /**
   * max |last row of `weights` − the same row computed from a decode step on the cache of the first
   * T−1 tokens|: the newest token's attention needs only the cached K, V plus its own.
   */
  decodeRowMaxDiff: number;
}

/**
 * Attention step by step for one query head of layer 0: queries from the model's weights, keys and
 * values from the model's own KV cache, scaled dot-product scores, causal softmax, weighted sum of
 * values — plus three measured checks of why K and V can be cached (see {@link AttentionWalkthrough}).
 * Needs 2 … {@link WALKTHROUGH_MAX_TOKENS} tokens. Frees every tensor it creates.
 */
export async function attentionWalkthrough(model: LlamaModel, tokens: ArrayLike<number>, options: AttentionWalkthroughOptions = {}): Promise<AttentionWalkthrough> {
  checkModel(model, 'attentionWalkthrough');
  const ids = checkTokens('attentionWalkthrough tokens', tokens, model, 2);
  if (ids.length > WALKTHROUGH_MAX_TOKENS) {
    throw new InvalidInputError(`attentionWalkthrough shows small matrices: at most ${WALKTHROUGH_MAX_TOKENS} tokens, got ${ids.length}`);
  }
  const cfg = model.config;
  const head = checkInteger('attentionWalkthrough head', options.head ?? 0, 0, cfg.numHeads - 1);
  if (options.tokenizer !== undefined && !(options.tokenizer instanceof Tokenizer)) {
    throw new InvalidInputError(`attentionWalkthrough tokenizer must be a Tokenizer, got ${describeValue(options.tokenizer)}`);
  }
  const T = ids.length;
  const d = cfg.headDim;
  const h = cfg.hiddenSize;
  const kvHead = Math.floor(head / (cfg.numHeads / cfg.numKvHeads));

  const weights = model.getWeights();
  const get = (name: string): Float32Array => weights.get(name) as Float32Array;
  const embedding = get('model.embed_tokens.weight');
  const rows = new Float32Array(T * h);
  ids.forEach((id, i) => rows.set(embedding.subarray(id * h, (id + 1) * h), i * h));
  const rope = ropeTables(d, cfg.ropeTheta, T);

  const full = await model.prefill(ids);
  let part: KVCache | undefined;
  let step: KVCache | undefined;
  try {
    const partial = await model.prefill(ids.slice(0, T - 1));
    part = partial.kv;
    step = (await model.decodeStep(ids[T - 1] as number, part)).kv;
    const fullKv = full.kv;
    const stepKv = step;
    const prefixKv = part;

    const out = tf.tidy(() => {
      // Layer 0's input is the embedding; RMSNorm as in the model.
      const x = tf.tensor2d(rows, [T, h]);
      const gain = tf.tensor1d(get('model.layers.0.input_layernorm.weight'));
      const xn = tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), cfg.rmsNormEps))), gain);
      // HF layout [out, in]: rows start·d … (start+1)·d of a projection belong to one head.
      const headRows = (name: string, index: number): tf.Tensor2D => tf.tensor2d(get(name).subarray(index * d * h, (index + 1) * d * h), [d, h]);
      const cos = tf.tensor2d(rope.cos, [T, d]);
      const signedSin = tf.tensor2d(rope.signedSin, [T, d]);
      const applyRope = (v: tf.Tensor2D): tf.Tensor2D => {
        const swapped = tf.concat([tf.slice(v, [0, d / 2], [T, d / 2]), tf.slice(v, [0, 0], [T, d / 2])], 1);
        return tf.add(tf.mul(v, cos), tf.mul(swapped, signedSin));
      };
      const q = applyRope(tf.matMul(xn, headRows('model.layers.0.self_attn.q_proj.weight', head), false, true));
      const kRecomputed = applyRope(tf.matMul(xn, headRows('model.layers.0.self_attn.k_proj.weight', kvHead), false, true));
      const vRecomputed = tf.matMul(xn, headRows('model.layers.0.self_attn.v_proj.weight', kvHead), false, true);

      const cacheHead = (t: tf.Tensor3D, n: number): tf.Tensor2D => tf.reshape(tf.slice(t, [kvHead, 0, 0], [1, n, d]), [n, d]);
      const k = cacheHead(fullKv.layerKeys(0), T);
      const v = cacheHead(fullKv.layerValues(0), T);

      const scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(d));
      const maskData = new Float32Array(T * T);
      for (let i = 0; i < T; i++) maskData.fill(-1e9, i * T + i + 1, (i + 1) * T);
      const attn = tf.softmax(tf.add(scores, tf.tensor2d(maskData, [T, T])));
      const output = tf.matMul(attn, v);

      // The newest token in a decode step: its query against the cache (first T−1 rows) + its own K, V.
      const kStep = cacheHead(stepKv.layerKeys(0), T);
      const lastRow = tf.softmax(tf.mul(tf.matMul(tf.slice(q, [T - 1, 0], [1, d]), kStep, false, true), 1 / Math.sqrt(d)));

      const maxDiff = (a: tf.Tensor, b: tf.Tensor): tf.Tensor => tf.max(tf.abs(tf.sub(a, b)));
      const prefixDiffs: tf.Tensor[] = [];
      for (let l = 0; l < cfg.numLayers; l++) {
        for (const pick of [(c: KVCache) => c.layerKeys(l), (c: KVCache) => c.layerValues(l)]) {
          const whole = tf.slice(pick(fullKv), [0, 0, 0], [cfg.numKvHeads, T - 1, d]);
          prefixDiffs.push(maxDiff(whole, pick(prefixKv)));
        }
      }
      return {
        q,
        k,
        v,
        scores,
        attn,
        output,
        kvDiff: tf.maximum(maxDiff(k, kRecomputed), maxDiff(v, vRecomputed)),
        prefixDiff: tf.max(tf.stack(prefixDiffs)),
        rowDiff: maxDiff(lastRow, tf.slice(attn, [T - 1, 0], [1, T])),
      };
    });
    try {
      const scores = (out.scores.arraySync() as number[][]).map((row, i) => row.map((s, j) => (j > i ? null : s)));
      const labels = ids.map((id, i) => `${i} ${options.tokenizer ? options.tokenizer.decode([id]).replace(/ /g, '␣').replace(/\n/g, '⏎') : String(id)}`);
      return {
        layer: 0,
        head,
        kvHead,
        headDim: d,
        tokens: ids,
        labels,
        queries: out.q.arraySync() as number[][],
        keys: out.k.arraySync() as number[][],
        values: out.v.arraySync() as number[][],
        scores,
        weights: out.attn.arraySync() as number[][],
        output: out.output.arraySync() as number[][],
        kvRecomputeMaxDiff: out.kvDiff.dataSync()[0] as number,
        prefixKvMaxDiff: out.prefixDiff.dataSync()[0] as number,
        decodeRowMaxDiff: out.rowDiff.dataSync()[0] as number,
      };
    } finally {
      tf.dispose(Object.values(out));
    }
  } finally {
    full.kv.dispose();
    part?.dispose();
    step?.dispose();
  }
}

// ────────────────────────────────────────────────────────────────────────────────────────────────
// 2 · Decoding with and without the cache
// ────────────────────────────────────────────────────────────────────────────────────────────────

export interface DecodeTimingOptions extends MeasureOptions {
  /** Context lengths L to measure at: tokens already in the sequence when the next one is computed (each ≥ 2). */
  lengths: number[];
  /**
   * Timed runs per length and path; the median is reported.
   * @default 3
   */
  repeats?: number;
  /** Token ids to use as the sequence (at least max(lengths) of them). Default: seeded pseudo-random ids. */
  prompt?: ArrayLike<number>;
}

export interface DecodeTimingRow {
  /** Tokens in the sequence when the next token is computed. */
  contextLength: number;
  /** Median ms for one decode step: the new token against the cached K, V of the L−1 before it. */
  cachedMs: number;
  /** Median ms to get the same next token without a cache: a forward pass over all L tokens. */
  uncachedMs: number;
  /** uncachedMs / cachedMs. */
  speedup: number;
  /** The next token each path chose (greedy): always the same. */
  cachedNextToken: number;
  uncachedNextToken: number;
}

/**
 * Time to compute ONE next token at each context length, with the KV cache (one decode step on
 * the cache of the earlier tokens) and without it (re-run the whole sequence). The two paths are
 * timed alternately, `repeats` times each after one untimed run of each; medians are reported.
 * The cache for the earlier tokens is built untimed.
 */
export async function timeDecoding(model: LlamaModel, options: DecodeTimingOptions): Promise<DecodeTimingRow[]> {
  checkModel(model, 'timeDecoding');
  if (options === null || typeof options !== 'object') throw new InvalidInputError(`timeDecoding needs options { lengths, repeats? }, got ${describeValue(options)}`);
  const lengths = checkLengths('timeDecoding lengths', options.lengths, 2, model.config.maxContext);
  const repeats = checkInteger('timeDecoding repeats', options.repeats ?? 3, 1, 1000);
  const longest = Math.max(...lengths);
  const sequence =
    options.prompt === undefined ? syntheticTokens(longest, model.config.vocabSize, 1) : checkTokens('timeDecoding prompt', options.prompt, model, longest);

  const bar = reporter(lengths.length * repeats, 'timing decode steps', options);
  const rows: DecodeTimingRow[] = [];
  try {
    for (const L of lengths) {
      const seq = sequence.slice(0, L);
      const last = seq[L - 1] as number;
      const past = (await model.prefill(seq.slice(0, L - 1))).kv;
      try {
        // One untimed run of each path at this size first: the backend grows its memory on first use.
        (await model.decodeStep(last, past)).kv.dispose();
        (await model.prefill(seq)).kv.dispose();
        const cached: number[] = [];
        const uncached: number[] = [];
        let cachedNextToken = -1;
        let uncachedNextToken = -1;
        for (let r = 0; r < repeats; r++) {
          const c = await timed(() => model.decodeStep(last, past));
          c.value.kv.dispose();
          cached.push(c.ms);
          cachedNextToken = argmax(c.value.logits);
          const u = await timed(() => model.prefill(seq));
          u.value.kv.dispose();
          uncached.push(u.ms);
          uncachedNextToken = argmax(u.value.logits);
          bar.tick(1, `timing decode steps at ${L} tokens`);
        }
        const cachedMs = median(cached);
        const uncachedMs = median(uncached);
        rows.push({ contextLength: L, cachedMs, uncachedMs, speedup: uncachedMs / cachedMs, cachedNextToken, uncachedNextToken });
      } finally {
        past.dispose();
      }
    }
  } finally {
    bar.done('timing decode steps');
  }
  return rows;
}

export interface GenerationTimingOptions extends MeasureOptions {
  /** Tokens to generate (greedy). */
  newTokens: number;
  /** The prompt. Default: `promptTokens` seeded pseudo-random ids. */
  prompt?: ArrayLike<number>;
  /**
   * Length of the default prompt.
   * @default 32
   */
  promptTokens?: number;
}

export interface GenerationStep {
  /** 1 = the first generated token. */
  step: number;
  /** Tokens the model looked at to produce this one (prompt + earlier generated tokens). */
  contextLength: number;
  /** ms for this token with the cache (step 1: the prefill of the prompt; later: one decode step). */
  cachedMs: number;
  /** ms for this token without the cache (a forward pass over the whole sequence so far). */
  uncachedMs: number;
  /** Total ms to generate tokens 1 … step with the cache. */
  cachedTotalMs: number;
  /** Total ms to generate tokens 1 … step without the cache. */
  uncachedTotalMs: number;
}

export interface GenerationTiming {
  promptTokens: number;
  newTokens: number;
  steps: GenerationStep[];
  /** The generated tokens of each path. */
  cachedTokens: number[];
  uncachedTokens: number[];
  /** Both paths generated exactly the same tokens. */
  identical: boolean;
}

/**
 * Generate `newTokens` tokens twice — with the KV cache (prefill once, then one decode step per
 * token) and without (re-run the whole sequence for every token) — timing every token. The two
 * paths advance in lock-step (token i with, then token i without) so that machine noise hits both
 * alike. Totals grow linearly with the cache and quadratically without it.
 */
export async function timeGeneration(model: LlamaModel, options: GenerationTimingOptions): Promise<GenerationTiming> {
  checkModel(model, 'timeGeneration');
  if (options === null || typeof options !== 'object') throw new InvalidInputError(`timeGeneration needs options { newTokens, prompt? }, got ${describeValue(options)}`);
  const newTokens = checkInteger('timeGeneration newTokens', options.newTokens, 1, model.config.maxContext - 1);
  const prompt =
    options.prompt === undefined
      ? syntheticTokens(checkInteger('timeGeneration promptTokens', options.promptTokens ?? 32, 1, model.config.maxContext - 1), model.config.vocabSize, 2)
      : checkTokens('timeGeneration prompt', options.prompt, model, 1);
  if (prompt.length + newTokens > model.config.maxContext) {
    throw new InvalidInputError(`timeGeneration: ${prompt.length} prompt + ${newTokens} new tokens exceed the model's maxContext of ${model.config.maxContext}`);
  }

  const bar = reporter(newTokens, 'generating with and without the cache', options);
  const steps: GenerationStep[] = [];
  const cachedTokens: number[] = [];
  const uncachedTokens: number[] = [];
  let kv: KVCache | undefined;
  let cachedTotalMs = 0;
  let uncachedTotalMs = 0;
  try {
    for (let i = 0; i < newTokens; i++) {
      const prev = kv;
      const c = await timed(() => (prev === undefined ? model.prefill(prompt) : model.decodeStep(cachedTokens[i - 1] as number, prev)));
      prev?.dispose();
      kv = c.value.kv;
      cachedTokens.push(argmax(c.value.logits));

      const u = await timed(() => model.prefill(prompt.concat(uncachedTokens)));
      u.value.kv.dispose();
      uncachedTokens.push(argmax(u.value.logits));

      cachedTotalMs += c.ms;
      uncachedTotalMs += u.ms;
      steps.push({ step: i + 1, contextLength: prompt.length + i, cachedMs: c.ms, uncachedMs: u.ms, cachedTotalMs, uncachedTotalMs });
      bar.tick(1);
    }
  } finally {
    kv?.dispose();
    bar.done();
  }
  const identical = cachedTokens.every((t, i) => t === uncachedTokens[i]);
  return { promptTokens: prompt.length, newTokens, steps, cachedTokens, uncachedTokens, identical };
}

// ────────────────────────────────────────────────────────────────────────────────────────────────
// 3 · Time to first token
// ────────────────────────────────────────────────────────────────────────────────────────────────

export interface PrefillTimingOptions extends MeasureOptions {
  /**
   * Timed runs per length; the median is reported. Runs sweep all lengths in turn, so noise is spread.
   * @default 3
   */
  repeats?: number;
  /** Token ids to take prompts from (at least max(lengths)). Default: seeded pseudo-random ids. */
  prompt?: ArrayLike<number>;
}

export interface PrefillTimingRow {
  promptTokens: number;
  /** Median time to first token: prefill of the whole prompt until the first token's logits are read. */
  ttftMs: number;
  /** ttftMs / promptTokens. */
  msPerPromptToken: number;
  /** The first generated token (greedy). */
  firstToken: number;
}

/** Time to first token against prompt length: a full prefill per run, after one untimed warm-up. */
export async function timePrefill(model: LlamaModel, lengths: number[], options: PrefillTimingOptions = {}): Promise<PrefillTimingRow[]> {
  checkModel(model, 'timePrefill');
  const list = checkLengths('timePrefill lengths', lengths, 1, model.config.maxContext);
  if (options === null || typeof options !== 'object') throw new InvalidInputError(`timePrefill options must be an object, got ${describeValue(options)}`);
  const repeats = checkInteger('timePrefill repeats', options.repeats ?? 3, 1, 1000);
  const longest = Math.max(...list);
  const source = options.prompt === undefined ? syntheticTokens(longest, model.config.vocabSize, 3) : checkTokens('timePrefill prompt', options.prompt, model, longest);

  const bar = reporter(list.length * repeats, 'timing prefill', options);
  const times = list.map(() => [] as number[]);
  const first = list.map(() => -1);
  try {
    (await model.prefill(source.slice(0, Math.min(longest, 16)))).kv.dispose(); // warm-up
    for (let r = 0; r < repeats; r++) {
      for (let i = 0; i < list.length; i++) {
        const n = list[i] as number;
        const run = await timed(() => model.prefill(source.slice(0, n)));
        run.value.kv.dispose();
        (times[i] as number[]).push(run.ms);
        first[i] = argmax(run.value.logits);
        bar.tick(1, `timing prefill of ${n} tokens`);
      }
    }
  } finally {
    bar.done('timing prefill');
  }
  return list.map((n, i) => {
    const ttftMs = median(times[i] as number[]);
    return { promptTokens: n, ttftMs, msPerPromptToken: ttftMs / n, firstToken: first[i] as number };
  });
}

// ────────────────────────────────────────────────────────────────────────────────────────────────
// 4 · KV bytes for real model shapes
// ────────────────────────────────────────────────────────────────────────────────────────────────

export interface KvSizeOptions {
  /**
   * Bytes per stored value: 2 for fp16/bf16 (what servers use), 4 for fp32, 1 for int8/fp8.
   * @default 2
   */
  bytesPerValue?: number;
  /**
   * Tokens in one prompt (prompt + generated tokens held in the cache).
   * @default 8192
   */
  tokens?: number;
  /**
   * Concurrent sessions, each holding `tokens` tokens.
   * @default 100
   */
  sessions?: number;
}

export const DEFAULT_KV_SIZE_OPTIONS: Readonly<Required<KvSizeOptions>> = Object.freeze({ bytesPerValue: 2, tokens: 8192, sessions: 100 });

export interface KvSizeRow {
  model: string;
  layers: number;
  kvHeads: number;
  headDim: number;
  bytesPerValue: number;
  /** 2 × layers × kvHeads × headDim × bytesPerValue. */
  bytesPerToken: number;
  tokens: number;
  /** bytesPerToken × tokens. */
  bytesPerPrompt: number;
  sessions: number;
  /** bytesPerPrompt × sessions. */
  bytesForSessions: number;
  /** The three sizes in binary units ("128 KiB"). */
  perToken: string;
  perPrompt: string;
  forSessions: string;
}

/**
 * KV cache size per token, per prompt of `tokens` tokens and for `sessions` such prompts at once,
 * for model presets (e.g. `'llama3-8b'`) or configs. Pure arithmetic on the published shapes:
 * 2 (K and V) × layers × kv heads × head dim × bytes per value.
 */
export function kvSizeTable(models: (PresetName | ModelConfig)[], options: KvSizeOptions = {}): KvSizeRow[] {
  if (!Array.isArray(models) || models.length === 0) throw new InvalidInputError(`kvSizeTable needs a non-empty array of preset names or model configs, got ${describeValue(models)}`);
  if (options === null || typeof options !== 'object') throw new InvalidInputError(`kvSizeTable options must be an object, got ${describeValue(options)}`);
  const { bytesPerValue, tokens, sessions } = { ...DEFAULT_KV_SIZE_OPTIONS, ...options };
  if (typeof bytesPerValue !== 'number' || !Number.isFinite(bytesPerValue) || bytesPerValue <= 0) {
    throw new InvalidInputError(`kvSizeTable bytesPerValue must be a positive number (2 for fp16, 4 for fp32, 1 for int8), got ${describeValue(bytesPerValue)}`);
  }
  checkInteger('kvSizeTable tokens', tokens, 1);
  checkInteger('kvSizeTable sessions', sessions, 1);
  return models.map((m, i) => {
    let config: Readonly<ModelConfig>;
    if (typeof m === 'string') {
      if (!isPresetName(m)) throw new InvalidInputError(`kvSizeTable: models[${i}] ${JSON.stringify(m)} is not a preset name`);
      config = getPreset(m);
    } else if (m !== null && typeof m === 'object' && typeof (m as ModelConfig).numLayers === 'number') {
      config = m;
    } else {
      throw new InvalidInputError(`kvSizeTable: models[${i}] must be a preset name or a model config, got ${describeValue(m)}`);
    }
    const bytesPerToken = kvBytesPerToken(config, bytesPerValue);
    const bytesPerPrompt = bytesPerToken * tokens;
    const bytesForSessions = bytesPerPrompt * sessions;
    return {
      model: config.name,
      layers: config.numLayers,
      kvHeads: config.numKvHeads,
      headDim: config.headDim,
      bytesPerValue,
      bytesPerToken,
      tokens,
      bytesPerPrompt,
      sessions,
      bytesForSessions,
      perToken: formatKvBytes(bytesPerToken),
      perPrompt: formatKvBytes(bytesPerPrompt),
      forSessions: formatKvBytes(bytesForSessions),
    };
  });
}

export interface KvBytesMeasurement {
  tokens: number;
  /** Bytes of the Float32Arrays copied out of the model's real KV cache after prefill. */
  measuredBytes: number;
  /** kvBytesPerToken(config, 4) × tokens: the formula, for float32 as this model stores it. */
  formulaBytes: number;
  measuredBytesPerToken: number;
}

/** Prefill `tokens` pseudo-random tokens and count the bytes of the KV cache the model really built. */
export async function measureKvBytes(model: LlamaModel, tokens: number): Promise<KvBytesMeasurement> {
  checkModel(model, 'measureKvBytes');
  checkInteger('measureKvBytes tokens', tokens, 1, model.config.maxContext);
  const { kv } = await model.prefill(syntheticTokens(tokens, model.config.vocabSize, 4));
  try {
    const arrays = kv.toArrays();
    const measuredBytes = arrays.layers.reduce((sum, l) => sum + l.keys.byteLength + l.values.byteLength, 0);
    return { tokens, measuredBytes, formulaBytes: kvBytesPerToken(model.config, 4) * tokens, measuredBytesPerToken: measuredBytes / tokens };
  } finally {
    kv.dispose();
  }
}

// ────────────────────────────────────────────────────────────────────────────────────────────────
// 5 · A shared system prompt: what a prefix cache saves
// ────────────────────────────────────────────────────────────────────────────────────────────────

export interface SharedPrefixOptions extends MeasureOptions {
  /** Length of the system prompt every request starts with. */
  systemPromptTokens: number;
  /** Number of requests (each with its own question after the system prompt). */
  requests: number;
  /** Length of each request's question. */
  questionTokens: number;
  /**
   * Timed runs of each path per request; the median is reported.
   * @default 1
   */
  repeats?: number;
}

export interface SharedPrefixRequest {
  /** 0-based; request 0 finds the cache empty. */
  request: number;
  /** System prompt + question. */
  promptTokens: number;
  /** Tokens whose K, V came from the prefix cache (0 for request 0, the system prompt after that). */
  reusedTokens: number;
  /** Tokens the model ran a forward pass over with the prefix cache. */
  computedTokens: number;
  /** Time to first token with a full prefill of system prompt + question (median over repeats). */
  fullMs: number;
  /** Time to first token with the prefix cache (request 0: full prefill + keeping the prefix's KV); median over repeats. */
  reusedMs: number;
  fullFirstToken: number;
  reusedFirstToken: number;
  sameFirstToken: boolean;
  /** max |logits with reuse − logits with full prefill|: float rounding only. */
  maxLogitDiff: number;
}

export interface SharedPrefixSavings {
  systemPromptTokens: number;
  questionTokens: number;
  requests: number;
  /** Start of the system prompt's text, for showing. */
  systemPromptPreview: string;
  /** The token ids used: the shared system prompt and each request's question. */
  systemPromptIds: number[];
  questionIds: number[][];
  /** Bytes of the kept prefix KV cache (float32 as this model stores it). */
  prefixKvBytes: number;
  rows: SharedPrefixRequest[];
  /** Sum of all requests' time to first token, full prefill each time. */
  totalFullMs: number;
  /** Same with the prefix cache. */
  totalReusedMs: number;
  /** totalFullMs / totalReusedMs. */
  speedup: number;
  /** Prompt tokens run through the model without / with the prefix cache. */
  tokensComputedFull: number;
  tokensComputedReused: number;
}

const SYSTEM_PROMPT_LINES = [
  'You are the support assistant of Northwind Cloud, a hosting company.',
  'Answer politely and briefly, in plain language, and never invent prices or dates.',
  'If a question is about billing, explain the invoice lines and point to the billing page.',
  'If a question is about an outage, give the status page address and the incident number.',
  'Never ask for passwords. Escalate security questions to the security team.',
  'Customers on the free plan get community support; paid plans get a reply within one day.',
];

const QUESTIONS = [
  'Why was my card charged twice this month?',
  'How do I move my database to another region?',
  'Is there an outage in the Frankfurt data centre right now?',
  'Can I get an invoice with my company VAT number?',
  'How do I rotate the API keys of my project?',
  'What happens to my servers when the free trial ends?',
  'Why is my website slow since yesterday evening?',
  'How can I add a second administrator to my account?',
];

/** Exactly `count` tokens of text built from `parts` (repeated with numbered sections as needed). */
function textTokens(tokenizer: Tokenizer, head: string, parts: readonly string[], count: number): number[] {
  const ids = tokenizer.encode(head);
  for (let i = 0; ids.length < count; i++) {
    ids.push(...tokenizer.encode(` ${i >= parts.length ? `(${Math.floor(i / parts.length) + 1}) ` : ''}${parts[i % parts.length]}`));
  }
  return ids.slice(0, count);
}

/**
 * Many requests share one long system prompt. After an untimed warm-up of both paths, each
 * request's time to first token is measured twice:
 * with a full prefill of system prompt + question, and with a prefix cache — request 0 runs the full
 * prefill and keeps the system prompt's KV (a slice of its cache); every later request prefills only
 * its question on top of that kept KV. Both give the same first token. Frees every cache it makes.
 */
export async function sharedPrefixSavings(model: LlamaModel, tokenizer: Tokenizer, options: SharedPrefixOptions): Promise<SharedPrefixSavings> {
  checkModel(model, 'sharedPrefixSavings');
  if (!(tokenizer instanceof Tokenizer)) throw new InvalidInputError(`sharedPrefixSavings needs a Tokenizer, got ${describeValue(tokenizer)}`);
  if (options === null || typeof options !== 'object') {
    throw new InvalidInputError(`sharedPrefixSavings needs options { systemPromptTokens, requests, questionTokens }, got ${describeValue(options)}`);
  }
  const maxContext = model.config.maxContext;
  const S = checkInteger('sharedPrefixSavings systemPromptTokens', options.systemPromptTokens, 1, maxContext - 1);
  const Q = checkInteger('sharedPrefixSavings questionTokens', options.questionTokens, 1, maxContext - 1);
  const requests = checkInteger('sharedPrefixSavings requests', options.requests, 1, 10_000);
  const repeats = checkInteger('sharedPrefixSavings repeats', options.repeats ?? 1, 1, 1000);
  if (S + Q > maxContext) throw new InvalidInputError(`sharedPrefixSavings: ${S} system + ${Q} question tokens exceed the model's maxContext of ${maxContext}`);

  const system = textTokens(tokenizer, 'System:', SYSTEM_PROMPT_LINES, S);
  const questions = Array.from({ length: requests }, (_, r) =>
    textTokens(tokenizer, `\nUser: ${QUESTIONS[r % QUESTIONS.length]}`, [`(ticket ${1000 + r}, account ${40000 + r * 37})`, 'Please help, this is urgent.', 'Thank you!'], Q),
  );

  const bar = reporter(requests, 'requests with a shared system prompt', options);
  const rows: SharedPrefixRequest[] = [];
  let prefix: KVCache | undefined;
  let prefixKvBytes = 0;
  try {
    // Untimed warm-up of both paths (the backend grows its memory on first use of a size).
    const warm = await model.prefill(system.concat(questions[0] as number[]));
    const warmPrefix = warm.kv.slice(0, S);
    warm.kv.dispose();
    try {
      (await model.prefill(questions[0] as number[], warmPrefix)).kv.dispose();
    } finally {
      warmPrefix.dispose();
    }
    for (let r = 0; r < requests; r++) {
      const question = questions[r] as number[];
      const whole = system.concat(question);
      // Request 0 finds the cache empty: it computes everything and keeps the system prompt's part.
      const cold = prefix === undefined;
      const fullTimes: number[] = [];
      const reusedTimes: number[] = [];
      let fullLogits: Float32Array = new Float32Array(0);
      let reusedLogits: Float32Array = new Float32Array(0);
      for (let k = 0; k < repeats; k++) {
        // Alternate which path runs first, so that warm caches favour neither.
        for (const path of (r + k) % 2 === 0 ? ['full', 'reused'] : ['reused', 'full']) {
          if (path === 'full') {
            const res = await timed(() => model.prefill(whole));
            res.value.kv.dispose();
            fullTimes.push(res.ms);
            fullLogits = res.value.logits;
          } else if (cold) {
            const res = await timed(async () => {
              const out = await model.prefill(whole);
              const kept = out.kv.slice(0, S);
              out.kv.dispose();
              return { logits: out.logits, kept };
            });
            prefix?.dispose();
            prefix = res.value.kept;
            reusedTimes.push(res.ms);
            reusedLogits = res.value.logits;
          } else {
            const kept = prefix as KVCache;
            const res = await timed(() => model.prefill(question, kept));
            res.value.kv.dispose();
            reusedTimes.push(res.ms);
            reusedLogits = res.value.logits;
          }
        }
      }
      const reusedTokens = cold ? 0 : S;
      const fullFirstToken = argmax(fullLogits);
      const reusedFirstToken = argmax(reusedLogits);
      rows.push({
        request: r,
        promptTokens: whole.length,
        reusedTokens,
        computedTokens: whole.length - reusedTokens,
        fullMs: median(fullTimes),
        reusedMs: median(reusedTimes),
        fullFirstToken,
        reusedFirstToken,
        sameFirstToken: fullFirstToken === reusedFirstToken,
        maxLogitDiff: maxAbsDiff(fullLogits, reusedLogits),
      });
      bar.tick(1);
    }
    prefixKvBytes = prefix?.bytes ?? 0;
  } finally {
    prefix?.dispose();
    bar.done();
  }
  const totalFullMs = rows.reduce((s, r) => s + r.fullMs, 0);
  const totalReusedMs = rows.reduce((s, r) => s + r.reusedMs, 0);
  const preview = tokenizer.decode(system.slice(0, 40));
  return {
    systemPromptTokens: S,
    questionTokens: Q,
    requests,
    systemPromptPreview: preview.length < tokenizer.decode(system).length ? `${preview}…` : preview,
    systemPromptIds: system,
    questionIds: questions,
    prefixKvBytes,
    rows,
    totalFullMs,
    totalReusedMs,
    speedup: totalFullMs / totalReusedMs,
    tokensComputedFull: rows.reduce((s, r) => s + r.promptTokens, 0),
    tokensComputedReused: rows.reduce((s, r) => s + r.computedTokens, 0),
  };
}
