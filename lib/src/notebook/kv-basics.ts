/**
 * Notebook 01 ("Why the KV cache matters"): the two sweeps too long to read well as cells — the
 * cost of one next token against context length, with and without the cache, and time to first
 * token against prompt length — plus a byte formatter. The mechanism itself (attention by hand,
 * the greedy loops, prefix reuse) is written in the notebook's cells on the core API.
 */
import { argmax } from '../model/inputs';
import { LlamaModel } from '../model/transformer';
import { InvalidInputError, describeValue } from '../runtime/errors';
import { inNotebook } from '../runtime/kernel';
import { progress, type ProgressReporter } from '../runtime/progress';
import { SeededRng } from '../runtime/rng';
import { median } from '../bench/stats';

/** Options both sweeps accept. */
export interface SweepOptions {
  /**
   * Timed runs per length (and path); the median is reported.
   * @default 3
   */
  repeats?: number;
  /** Token ids to take the sequences from (at least the longest length). Default: seeded pseudo-random ids. */
  prompt?: ArrayLike<number>;
  /**
   * Show a progress bar while measuring.
   * @default true inside a notebook, false elsewhere
   */
  showProgress?: boolean;
}

export const DEFAULT_SWEEP_OPTIONS = Object.freeze({ repeats: 3 });

function checkInteger(what: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new InvalidInputError(`${what} must be an integer in [${min}, ${max}], got ${describeValue(v)}`);
  }
  return v;
}

/** Checks shared by both sweeps; returns the lengths, the repeat count and the token source. */
function prepare(what: string, model: unknown, lengths: unknown, min: number, options: SweepOptions, seed: number): { lengths: number[]; repeats: number; source: number[] } {
  if (!(model instanceof LlamaModel)) throw new InvalidInputError(`${what} needs a LlamaModel (from LlamaModel.create), got ${describeValue(model)}`);
  if (model.isDisposed) throw new InvalidInputError(`${what}: the model has been disposed`);
  if (options === null || typeof options !== 'object') throw new InvalidInputError(`${what} options must be an object, got ${describeValue(options)}`);
  const { maxContext, vocabSize } = model.config;
  if (!Array.isArray(lengths) || lengths.length === 0) throw new InvalidInputError(`${what} lengths must be a non-empty array of token counts, got ${describeValue(lengths)}`);
  const list = lengths.map((v, i) => checkInteger(`${what} lengths[${i}]`, v, min, maxContext));
  const repeats = checkInteger(`${what} repeats`, options.repeats ?? DEFAULT_SWEEP_OPTIONS.repeats, 1, 1000);
  const longest = Math.max(...list);
  if (options.prompt === undefined) {
    const rng = new SeededRng(seed);
    return { lengths: list, repeats, source: Array.from({ length: longest }, () => rng.int(vocabSize)) };
  }
  const source = Array.from(options.prompt);
  if (source.length < longest) throw new InvalidInputError(`${what} prompt needs at least ${longest} tokens, got ${source.length}`);
  source.forEach((t, i) => checkInteger(`${what} prompt[${i}]`, t, 0, vocabSize - 1));
  return { lengths: list, repeats, source };
}

function reporter(total: number, label: string, options: SweepOptions): ProgressReporter {
  return progress(total, label, { target: (options.showProgress ?? inNotebook()) ? 'auto' : 'silent' });
}

/** Milliseconds taken by `fn` (wall clock, including reading the logits back). */
async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

export interface DecodeTimingRow {
  /** Tokens in the sequence when the next token is computed. */
  contextLength: number;
  /** Median ms for one decode step: the newest token against the cached K, V of the L−1 before it. */
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
 * The cost of ONE next token at each context length L: a decode step on the cache of the first L−1
 * tokens (built untimed) against a full forward pass over all L. After one untimed run of each path
 * per length, the paths are timed alternately `repeats` times; medians are reported.
 */
export async function timeDecoding(model: LlamaModel, lengths: number[], options: SweepOptions = {}): Promise<DecodeTimingRow[]> {
  const run = prepare('timeDecoding', model, lengths, 2, options, 1);
  const bar = reporter(run.lengths.length * run.repeats, 'timing decode steps', options);
  const rows: DecodeTimingRow[] = [];
  try {
    for (const L of run.lengths) {
      const seq = run.source.slice(0, L);
      const last = seq[L - 1] as number;
      const past = (await model.prefill(seq.slice(0, L - 1))).kv;
      try {
        // Untimed first runs: the backend grows its memory on the first use of a size.
        (await model.decodeStep(last, past)).kv.dispose();
        (await model.prefill(seq)).kv.dispose();
        const cached: number[] = [];
        const uncached: number[] = [];
        let cachedNextToken = -1;
        let uncachedNextToken = -1;
        for (let r = 0; r < run.repeats; r++) {
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

export interface PrefillTimingRow {
  promptTokens: number;
  /** Median time to first token: prefill of the whole prompt until the first token's logits are read. */
  ttftMs: number;
  /** ttftMs / promptTokens. */
  msPerPromptToken: number;
  /** The first generated token (greedy). */
  firstToken: number;
}

/** Time to first token against prompt length: a full prefill per run; each round sweeps every length, after one untimed warm-up. */
export async function timePrefill(model: LlamaModel, lengths: number[], options: SweepOptions = {}): Promise<PrefillTimingRow[]> {
  const run = prepare('timePrefill', model, lengths, 1, options, 3);
  const bar = reporter(run.lengths.length * run.repeats, 'timing prefill', options);
  const times = run.lengths.map(() => [] as number[]);
  const first = run.lengths.map(() => -1);
  try {
    (await model.prefill(run.source.slice(0, Math.min(run.source.length, 16)))).kv.dispose();
    for (let r = 0; r < run.repeats; r++) {
      for (const [i, n] of run.lengths.entries()) {
        const res = await timed(() => model.prefill(run.source.slice(0, n)));
        res.value.kv.dispose();
        times[i]!.push(res.ms);
        first[i] = argmax(res.value.logits);
        bar.tick(1, `timing prefill of ${n} tokens`);
      }
    }
  } finally {
    bar.done('timing prefill');
  }
  return run.lengths.map((n, i) => {
    const ttftMs = median(times[i]!);
    return { promptTokens: n, ttftMs, msPerPromptToken: ttftMs / n, firstToken: first[i]! };
  });
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
