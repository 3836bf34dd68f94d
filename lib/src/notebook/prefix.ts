/**
 * Helpers of notebook 02 (prefix hashing). The mechanism itself — the chained hash, the namespace,
 * longest-prefix lookup over `has`, trace replays — is written in the notebook's cells; what stays
 * here is a diagram of block chains and the one scenario whose loop is too heavy for a cell:
 * serving prompts from a *similar* prompt's KV and measuring the error against recomputing.
 */
import { MinHashIndex, createNamespace, hashBlocks, loadableBlocks, prefixLength, type BlockHash, type MinHashOptions } from '../hashing';
import { argmax, type KVCache, type LlamaModel } from '../model';
import { sized } from '../runtime/env';
import { InvalidInputError, describeValue } from '../runtime/errors';
import { progress, type ProgressOptions } from '../runtime/progress';
import { SeededRng } from '../runtime/rng';
import type { PlotlyFigure } from './figure';

/** A row of cells as `table()` shows it. */
export type PrefixTableRow = Record<string, string | number | boolean | null | undefined>;

/** Where long helpers draw their progress bar ('auto': the notebook inside tslab, else stderr). */
export type ProgressTarget = NonNullable<ProgressOptions['target']>;

/** Anything with the tokenizer's encode/decode (the lab's `Tokenizer` fits). */
export interface TextCodec {
  encode(text: string): number[];
  decode(ids: ArrayLike<number>): string;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function short(s: string, n: number): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length <= n ? flat : `${flat.slice(0, n - 1)}…`;
}

/** Break a chart label into lines of about `width` characters (plotly wraps nothing by itself). */
function wrap(s: string, width = 16): string {
  const lines = [''];
  for (const w of s.split(' ')) {
    const last = lines[lines.length - 1]!;
    if (last !== '' && last.length + 1 + w.length > width) lines.push(w);
    else lines[lines.length - 1] = last === '' ? w : `${last} ${w}`;
  }
  return lines.join('<br>');
}

// ───────────────────────────── a picture of block chains ─────────────────────────────

/** One chain to draw: its parent (the namespace hash), its block hashes, and optionally each block's text. */
export interface ChainSketch {
  label: string;
  parent: BlockHash;
  hashes: readonly BlockHash[];
  /** Tokens after the last full block (never hashed). @default 0 */
  tailTokens?: number;
  /** Text of each block, shown on hover. */
  texts?: readonly string[];
}

/**
 * One row per chain: the parent node, then one box per block (at most `maxBlocks`), an arrow from
 * each parent to its child. Green: an earlier chain has the same hash (its KV can be reused);
 * orange: a new hash.
 */
export function chainFigure(chains: readonly ChainSketch[], options: { maxBlocks?: number; title?: string } = {}): PlotlyFigure {
  if (!Array.isArray(chains as unknown) || chains.length === 0) throw new InvalidInputError(`chainFigure needs a non-empty array of { label, parent, hashes }, got ${describeValue(chains)}`);
  const maxBlocks = options.maxBlocks ?? 8;
  const seen = new Set<BlockHash>();
  const boxes: { x: number; y: number; label: string; hover: string; color: string }[] = [];
  const notes: Record<string, unknown>[] = [];
  const n = chains.length;
  chains.forEach((c, ci) => {
    const y = n - 1 - ci;
    boxes.push({ x: 0, y, label: `parent<br>${c.parent.slice(0, 6)}`, color: '#9aa5b1', hover: `${esc(c.label)}: parent of block 0 = namespace hash ${c.parent.slice(0, 16)}…` });
    const shown = c.hashes.slice(0, maxBlocks);
    shown.forEach((h, i) => {
      const parent = i === 0 ? c.parent : c.hashes[i - 1]!;
      const hover = `${esc(c.label)} block ${i}<br>parent ${parent.slice(0, 8)}… → hash ${h.slice(0, 8)}…<br>${esc(short(c.texts?.[i] ?? '', 60))}`;
      boxes.push({ x: i + 1, y, label: `#${i}<br>${h.slice(0, 6)}`, color: seen.has(h) ? '#2ca02c' : '#ff7f0e', hover });
      notes.push({ x: i + 0.7, y, ax: i + 0.3, ay: y, xref: 'x', yref: 'y', axref: 'x', ayref: 'y', showarrow: true, arrowhead: 2, arrowcolor: '#555', text: '' });
    });
    for (const h of c.hashes) seen.add(h);
    const more = c.hashes.length - shown.length;
    const note = [more > 0 ? `+${more} more block(s)` : '', c.tailTokens ? `${c.tailTokens} tail token(s) not hashed` : ''].filter(Boolean).join(', ');
    // Under the row's last box: the figure's width then never depends on the note's length.
    if (note) notes.push({ x: shown.length + 0.4, y: y - 0.42, xref: 'x', yref: 'y', xanchor: 'right', showarrow: false, font: { size: 10, color: '#555' }, text: note });
  });
  const legend = (name: string, color: string): Record<string, unknown> => ({ type: 'scatter', mode: 'markers', x: [null], y: [null], name, marker: { symbol: 'square', size: 12, color } });
  return {
    data: [
      {
        type: 'scatter', mode: 'markers+text', x: boxes.map((b) => b.x), y: boxes.map((b) => b.y), text: boxes.map((b) => b.label), hovertext: boxes.map((b) => b.hover), hoverinfo: 'text',
        textfont: { size: 10, color: 'white' }, marker: { symbol: 'square', size: 46, color: boxes.map((b) => b.color), line: { width: 1, color: '#333' } }, showlegend: false,
      },
      legend('hash already in an earlier chain (reusable)', '#2ca02c'),
      legend('new hash (must be computed)', '#ff7f0e'),
    ],
    layout: {
      title: { text: options.title ?? 'Block-chained prefix hashes' },
      xaxis: { visible: false, range: [-0.6, Math.min(maxBlocks, Math.max(1, ...chains.map((c) => c.hashes.length))) + 0.6] },
      // Chain labels as y tick labels: automargin makes room for them however many boxes there are.
      yaxis: { range: [-0.7, n - 0.4], tickvals: chains.map((_c, ci) => n - 1 - ci), ticktext: chains.map((c) => `<b>${esc(c.label)}</b>`), showgrid: false, zeroline: false, automargin: true },
      annotations: notes,
      legend: { orientation: 'h', y: -0.05 },
      margin: { l: 10, r: 10, t: 50, b: 30 },
      height: 140 + 90 * n,
    },
  };
}

// ───────────────────────────── approximate matching, measured ─────────────────────────────

/** A prompt that differs from the cached one: given as text, or `changes` tokens replaced at fraction `at` of it. */
export type ReuseVariant = { label?: string; text: string } | { label?: string; changes: number; at: number };

export interface ApproximateReuseOptions {
  /** The prompt whose KV is cached. */
  basePrompt: string;
  /** Prompts served from the cached KV of the most similar indexed prompt instead of their own. */
  variants: readonly ReuseVariant[];
  /** Other prompts in the similarity index (their KV is computed only if one is picked). @default [] */
  otherPrompts?: readonly string[];
  /** Greedy tokens generated per variant. @default 6 in KVLAB_FAST mode, else 12 */
  generateTokens?: number;
  /** Options of the MinHash index. @default the library's DEFAULT_MINHASH_OPTIONS */
  minhash?: MinHashOptions;
  /** Seed of the replacement tokens. @default 7 */
  seed?: number;
  /** @default 'auto' */
  progress?: ProgressTarget;
}

export interface ReuseErrorRow extends PrefixTableRow {
  variant: string;
  'prompt tokens': number;
  /** The indexed prompt the MinHash index picked, or '' when none shares a band. */
  'matched prompt': string;
  'estimated Jaccard': number | null;
  'exact Jaccard': number | null;
  /** Tokens exact block-chain lookup (16-token blocks) would load safely: full blocks before the first difference. */
  'exact chain reuses': number;
  /** Tokens of the borrowed KV used (positions 0 … L−1, L = min(lengths) − 1). */
  'approx reuses': number;
  /** Largest |logit difference| against recomputing, over the generated steps (teacher-forced on the recomputed tokens). */
  'max logit error': number | null;
  /** max logit error ÷ largest |logit| of the recomputed run. */
  'relative error': number | null;
  /** Share of steps whose greedy token agrees when both runs see the same previous tokens. */
  'top-1 agreement': number | null;
  /** Share of positions where the free-running continuations agree. */
  'greedy agreement': number | null;
  'recomputed continuation': string;
  'reused-KV continuation': string;
}

/** Greedy decode `count` tokens from `logits` over `kv` (consumed: disposed here); teacher-forces `forced` when given. */
async function decodeFrom(model: LlamaModel, logits: Float32Array, kv: KVCache, count: number, forced?: readonly number[]): Promise<{ tokens: number[]; logits: Float32Array[] }> {
  const tokens: number[] = [];
  const all: Float32Array[] = [];
  let cur = kv;
  try {
    for (let i = 0; i < count; i++) {
      all.push(logits);
      tokens.push(argmax(logits));
      if (i === count - 1) break;
      const next = await model.decodeStep(forced ? forced[i]! : tokens[i]!, cur);
      cur.dispose();
      cur = next.kv;
      logits = next.logits;
    }
  } finally {
    cur.dispose();
  }
  return { tokens, logits: all };
}

function maxAbs(a: Float32Array, b?: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - (b ? b[i]! : 0)));
  return m;
}

/** The variant's tokens: its own text, or the base prompt with `changes` tokens replaced by other tokens of the prompt. */
function variantTokens(v: ReuseVariant, base: number[], tokenizer: TextCodec, rng: SeededRng): { label: string; tokens: number[] } {
  if ('text' in v) return { label: v.label ?? short(v.text, 40), tokens: tokenizer.encode(v.text) };
  if (!Number.isInteger(v.changes) || v.changes < 0 || v.changes > base.length || !(v.at >= 0 && v.at <= 1)) {
    throw new InvalidInputError(`a variant needs { text } or { changes: 0…${base.length}, at: 0…1 }, got ${describeValue(v)}`);
  }
  const tokens = base.slice();
  const vocab = [...new Set(base)];
  if (vocab.length < 2 && v.changes > 0) throw new InvalidInputError('the base prompt needs two distinct tokens to change one');
  const start = Math.min(Math.round(v.at * (base.length - 1)), base.length - v.changes);
  for (let p = start; p < start + v.changes; p++) while (tokens[p] === base[p]) tokens[p] = rng.pick(vocab);
  return { label: v.label ?? `${v.changes} token(s) changed at ${Math.round(v.at * 100)} %`, tokens };
}

/**
 * Approximate prompt matching, measured. The base prompt's KV is cached and the prompt filed in a
 * `MinHashIndex`. For each variant the index picks the most similar prompt, whose KV is used for the
 * variant's first L = min(lengths) − 1 positions as if it were the variant's own; the rest is
 * prefilled and tokens are decoded greedily. The same is done by recomputing exactly (split at L the
 * same way, so an identical prompt gives exactly zero error).
 */
export async function approximateReuseError(model: LlamaModel, tokenizer: TextCodec, options: ApproximateReuseOptions): Promise<ReuseErrorRow[]> {
  if (typeof options?.basePrompt !== 'string' || !Array.isArray(options.variants)) throw new InvalidInputError('approximateReuseError needs { basePrompt, variants }');
  const count = options.generateTokens ?? sized(6, 12);
  const rng = new SeededRng(options.seed ?? 7);
  const base = tokenizer.encode(options.basePrompt);
  const variants = options.variants.map((v) => variantTokens(v, base, tokenizer, rng));
  const index = new MinHashIndex(options.minhash ?? {});
  const prompts = new Map<string, number[]>([['base prompt', base]]);
  (options.otherPrompts ?? []).forEach((p, i) => prompts.set(`other prompt ${i + 1}`, tokenizer.encode(p)));
  for (const [id, tokens] of [...prompts, ...variants.map((v) => [v.label, v.tokens] as const)]) {
    if (tokens.length < 2 || tokens.length + count > model.config.maxContext) throw new InvalidInputError(`"${id}" must encode to 2 … ${model.config.maxContext - count} tokens, got ${tokens.length}`);
  }
  for (const [id, tokens] of prompts) index.add(id, tokens);
  const ns = createNamespace({ modelFingerprint: model.fingerprint, kvDtype: 'fp32', kvFormatVersion: 1 });
  const cached = new Map<string, KVCache>(); // KV of an indexed prompt's first n − 1 tokens, computed when first picked
  const bar = progress(variants.length, 'approximate reuse', { target: options.progress ?? 'auto' });
  const rows: ReuseErrorRow[] = [];
  try {
    for (const v of variants) {
      const best = index.query(v.tokens, { limit: 1, exact: true })[0];
      const mine = hashBlocks(v.tokens, ns).slice(0, loadableBlocks(v.tokens.length, ns.blockSize));
      const theirs = hashBlocks(prompts.get(best?.id ?? 'base prompt')!, ns);
      const row: ReuseErrorRow = {
        variant: v.label, 'prompt tokens': v.tokens.length, 'matched prompt': best?.id ?? '', 'estimated Jaccard': best?.estimatedJaccard ?? null, 'exact Jaccard': best?.exactJaccard ?? null,
        'exact chain reuses': prefixLength(mine.map((h, i) => h === theirs[i])) * ns.blockSize,
        'approx reuses': 0, 'max logit error': null, 'relative error': null, 'top-1 agreement': null, 'greedy agreement': null, 'recomputed continuation': '', 'reused-KV continuation': '',
      };
      rows.push(row);
      bar.tick();
      if (best === undefined) continue;
      const source = prompts.get(best.id)!;
      if (!cached.has(best.id)) cached.set(best.id, (await model.prefill(source.slice(0, -1))).kv);
      const L = Math.min(source.length, v.tokens.length) - 1;
      const head = await model.prefill(v.tokens.slice(0, L));
      const own = await model.prefill(v.tokens.slice(L), head.kv);
      head.kv.dispose();
      const exact = await decodeFrom(model, own.logits, own.kv, count);
      const borrowed = cached.get(best.id)!.slice(0, L);
      const lent = await model.prefill(v.tokens.slice(L), borrowed);
      borrowed.dispose();
      const second = lent.kv.clone(); // each run consumes its own cache
      const forced = await decodeFrom(model, lent.logits, lent.kv, count, exact.tokens);
      const free = await decodeFrom(model, lent.logits, second, count);
      const err = Math.max(...forced.logits.map((l, i) => maxAbs(l, exact.logits[i])));
      row['approx reuses'] = L;
      row['max logit error'] = err;
      row['relative error'] = err / Math.max(1e-30, ...exact.logits.map((l) => maxAbs(l)));
      row['top-1 agreement'] = forced.tokens.filter((t, i) => t === exact.tokens[i]).length / count;
      row['greedy agreement'] = free.tokens.filter((t, i) => t === exact.tokens[i]).length / count;
      row['recomputed continuation'] = tokenizer.decode(exact.tokens);
      row['reused-KV continuation'] = tokenizer.decode(free.tokens);
    }
  } finally {
    for (const kv of cached.values()) kv.dispose();
    bar.done();
  }
  return rows;
}

/** Per variant: largest logit error (bars), greedy agreement and MinHash similarity (markers, right axis). */
export function approximateReuseFigure(rows: readonly ReuseErrorRow[], title = "Reusing a similar prompt's KV: error against recomputing (measured)"): PlotlyFigure {
  if (!Array.isArray(rows) || rows.length === 0) throw new InvalidInputError('approximateReuseFigure needs the rows of approximateReuseError()');
  const x = rows.map((r) => wrap(esc(r.variant)));
  const pct = (v: number | null): number | null => (v === null ? null : 100 * v);
  return {
    data: [
      { type: 'bar', x, y: rows.map((r) => r['max logit error']), name: 'max |logit error|', marker: { color: '#d62728' } },
      { type: 'scatter', mode: 'markers', x, y: rows.map((r) => pct(r['greedy agreement'])), name: 'greedy tokens agreeing (%)', yaxis: 'y2', marker: { size: 12, color: '#1f77b4', symbol: 'diamond' } },
      { type: 'scatter', mode: 'markers', x, y: rows.map((r) => pct(r['estimated Jaccard'])), name: 'MinHash similarity (%)', yaxis: 'y2', marker: { size: 10, color: '#2ca02c', symbol: 'circle-open' } },
    ],
    layout: {
      title: { text: title },
      xaxis: { title: { text: 'prompt served from the cached KV' }, tickangle: 0, automargin: true },
      yaxis: { title: { text: 'max |logit error|' }, rangemode: 'tozero' },
      yaxis2: { title: { text: '%' }, overlaying: 'y', side: 'right', range: [0, 105] },
      legend: { orientation: 'h', x: 0, y: 1.0, yanchor: 'bottom' },
      margin: { t: 90 },
    },
  };
}
