/**
 * Helpers of notebook 02 (prefix hashing). Every number they return is measured on this machine or
 * counted on a real token trace: hit tokens, key counts, hashing and prefill times, time to first
 * token with and without a cached prefix, logit errors of approximate reuse. Loops live here, not in
 * notebook cells (tslab runs cell-level loops ~300× slower).
 */
import { createHash } from 'node:crypto';
import { makeWorkload, type WorkloadName, type WorkloadOptions } from '../bench/workloads';
import {
  DEFAULT_BLOCK_SIZE,
  HitCounter,
  MinHashIndex,
  assertBlockSize,
  assertNamespace,
  createNamespace,
  exactPromptKey,
  hashBlocks,
  type BlockHash,
  type HitStats,
  type MinHashOptions,
  type Namespace,
  type NamespaceSpec,
} from '../hashing';
import { KV_BYTES_PER_VALUE, KVCache, argmax, getPreset, kvBytesPerToken, type LlamaModel, type ModelConfig } from '../model';
import { sized } from '../runtime/env';
import { InvalidInputError, describeValue } from '../runtime/errors';
import { progress, type ProgressOptions } from '../runtime/progress';
import { SeededRng } from '../runtime/rng';
import type { PlotlyFigure } from './figure';
import { median } from '../bench/stats';

// ───────────────────────────── shared bits ─────────────────────────────

/** A row of cells as `table()` shows it. */
export type PrefixTableRow = Record<string, string | number | boolean | null | undefined>;

/** Where long helpers draw their progress bar ('auto': the notebook inside tslab, else stderr). */
export type ProgressTarget = NonNullable<ProgressOptions['target']>;

/** Anything with the tokenizer's encode/decode (the lab's {@link Tokenizer} fits). */
export interface TextCodec {
  encode(text: string): number[];
  decode(ids: ArrayLike<number>): string;
}

/** One request of a trace: its prompt's token ids (a `ServeRequest` from the workloads fits). */
export interface TraceRequest {
  id?: string;
  session?: string;
  tokens: ArrayLike<number>;
}

/** A request of a generated trace: an id, the session it belongs to and its prompt's token ids. */
export interface TracePrompt extends TraceRequest {
  id: string;
  session?: string;
  tokens: number[];
}

/** KV dtype the in-process caches of this notebook hold: the model's KV tensors are float32. */
export const PREFIX_KV_DTYPE = 'fp32';

/**
 * Fingerprint of the namespace hit-rate simulations hash under when no model is involved (any fixed
 * value works: a simulation only compares hashes made under the same namespace).
 */
export const SIMULATION_FINGERPRINT = '5e'.repeat(32);

const SIMULATION_SPEC: Omit<NamespaceSpec, 'blockSize' | 'salt'> = {
  modelFingerprint: SIMULATION_FINGERPRINT,
  kvDtype: PREFIX_KV_DTYPE,
  kvFormatVersion: 1,
};

export interface PrefixNamespaceOptions {
  /** Tokens per block. @default DEFAULT_BLOCK_SIZE (16) */
  blockSize?: number;
  /** Per-tenant secret mixed into the namespace. @default undefined (shared cache) */
  salt?: string;
}

/**
 * The namespace a model's KV blocks are hashed under in this notebook: the model's fingerprint,
 * float32 KV, format 1, the block size and the tenant salt if any.
 */
export function prefixNamespace(model: Pick<LlamaModel, 'fingerprint'> | string, options: PrefixNamespaceOptions = {}): Namespace {
  const fingerprint = typeof model === 'string' ? model : model?.fingerprint;
  return createNamespace({
    modelFingerprint: fingerprint as string,
    kvDtype: PREFIX_KV_DTYPE,
    kvFormatVersion: 1,
    blockSize: options.blockSize ?? DEFAULT_BLOCK_SIZE,
    ...(options.salt !== undefined ? { salt: options.salt } : {}),
  });
}

function short(hash: string): string {
  return `${hash.slice(0, 8)}…`;
}


function assertTokens(tokens: unknown, what: string, minLength = 1): asserts tokens is ArrayLike<number> {
  const ok = Array.isArray(tokens) || (ArrayBuffer.isView(tokens) && !(tokens instanceof DataView));
  if (!ok) throw new InvalidInputError(`${what} must be an array of token ids, got ${describeValue(tokens)}`);
  const list = tokens as ArrayLike<unknown>;
  if (list.length < minLength) throw new InvalidInputError(`${what} needs at least ${minLength} token(s), got ${list.length}`);
  for (let i = 0; i < list.length; i++) {
    const t = list[i];
    if (typeof t !== 'number' || (t >>> 0) !== t) {
      throw new InvalidInputError(`${what}[${i}] must be an integer token id in [0, 2^32), got ${describeValue(t)}`);
    }
  }
}

function assertPositiveInt(value: unknown, what: string, max = 1_000_000): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new InvalidInputError(`${what} must be an integer in [1, ${max}], got ${describeValue(value)}`);
  }
}

function assertString(value: unknown, what: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) throw new InvalidInputError(`${what} must be a non-empty string, got ${describeValue(value)}`);
}

function assertModel(model: unknown): asserts model is LlamaModel {
  const m = model as Partial<LlamaModel> | null;
  if (m === null || typeof m !== 'object' || typeof m.prefill !== 'function' || typeof m.fingerprint !== 'string') {
    throw new InvalidInputError(`model must be a LlamaModel (from LlamaModel.create), got ${describeValue(model)}`);
  }
  if (m.isDisposed) throw new InvalidInputError('model has been disposed');
}

function assertCodec(codec: unknown): asserts codec is TextCodec {
  const c = codec as Partial<TextCodec> | null;
  if (c === null || typeof c !== 'object' || typeof c.encode !== 'function' || typeof c.decode !== 'function') {
    throw new InvalidInputError(`tokenizer must have encode(text) and decode(ids), got ${describeValue(codec)}`);
  }
}

function checkTrace(requests: unknown): asserts requests is readonly TraceRequest[] {
  if (!Array.isArray(requests) || requests.length === 0) {
    throw new InvalidInputError(`requests must be a non-empty array of { tokens }, got ${describeValue(requests)}`);
  }
  requests.forEach((r: unknown, i) => {
    if (r === null || typeof r !== 'object') throw new InvalidInputError(`requests[${i}] must be an object { tokens }, got ${describeValue(r)}`);
    assertTokens((r as TraceRequest).tokens, `requests[${i}].tokens`);
  });
}

/** Leading tokens two sequences share. */
export function commonPrefixLength(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

// ───────────────────────────── traces ─────────────────────────────

/** Defaults of {@link prefixTrace}: small in KVLAB_FAST mode. */
export function defaultTraceOptions(): Required<Pick<WorkloadOptions, 'requests' | 'sharedTokens' | 'turnTokens' | 'sessions'>> {
  return { requests: sized(16, 40), sharedTokens: sized(320, 1024), turnTokens: sized(64, 96), sessions: 4 };
}

/**
 * A seeded, realistic request stream (the bench layer's workloads) tokenized with `tokenizer`:
 * `agent` (shared tool descriptions + growing scratchpads, sessions interleaved), `chat`, `rag`, or
 * `none` (every prompt unique). Options default to {@link defaultTraceOptions}.
 */
export function prefixTrace(name: WorkloadName, tokenizer: Pick<TextCodec, 'encode'>, options: Partial<WorkloadOptions> = {}): TracePrompt[] {
  if (tokenizer === null || typeof tokenizer !== 'object' || typeof tokenizer.encode !== 'function') {
    throw new InvalidInputError(`tokenizer must have an encode(text) method, got ${describeValue(tokenizer)}`);
  }
  return makeWorkload(name, (t) => tokenizer.encode(t), { ...defaultTraceOptions(), ...options });
}

// ───────────────────────────── 1. whole-prompt key vs block chain ─────────────────────────────

export interface KeySchemeComparison {
  originalTokens: number;
  editedTokens: number;
  /** First token index where the two tokenizations differ (= the shorter length if one is a prefix). */
  firstDifferentToken: number;
  exact: { originalKey: string; editedKey: string; hit: boolean; reusedTokens: number };
  blocks: { blockSize: number; originalBlocks: number; editedBlocks: number; matchedBlocks: number; reusedTokens: number };
  /** One row per scheme, for `table()`. */
  rows: PrefixTableRow[];
}

/**
 * Cache `original` under both schemes — one SHA-256 key for the whole prompt string (the seed
 * project) and one chained hash per full block of tokens — then look up `edited`: how many of its
 * prompt tokens each scheme can serve from the cache.
 */
export function compareKeySchemes(original: string, edited: string, options: { tokenizer: Pick<TextCodec, 'encode'>; namespace: Namespace }): KeySchemeComparison {
  assertString(original, 'original');
  assertString(edited, 'edited');
  if (options === null || typeof options !== 'object') throw new InvalidInputError('compareKeySchemes needs { tokenizer, namespace }');
  const { tokenizer, namespace } = options;
  if (tokenizer === null || typeof tokenizer !== 'object' || typeof tokenizer.encode !== 'function') {
    throw new InvalidInputError(`tokenizer must have an encode(text) method, got ${describeValue(tokenizer)}`);
  }
  assertNamespace(namespace);
  const a = tokenizer.encode(original);
  const b = tokenizer.encode(edited);
  const originalKey = exactPromptKey(original, namespace);
  const editedKey = exactPromptKey(edited, namespace);
  const hit = originalKey === editedKey;
  const cached = new Set(hashBlocks(a, namespace));
  const eh = hashBlocks(b, namespace);
  let matched = 0;
  while (matched < eh.length && cached.has(eh[matched]!)) matched++;
  const B = namespace.blockSize;
  const exact = { originalKey, editedKey, hit, reusedTokens: hit ? b.length : 0 };
  const blocks = { blockSize: B, originalBlocks: cached.size, editedBlocks: eh.length, matchedBlocks: matched, reusedTokens: matched * B };
  const rows: PrefixTableRow[] = [
    {
      scheme: 'whole prompt (SHA-256 of the string)',
      'keys (original)': 1,
      'keys (edited)': 1,
      'keys in common': hit ? 1 : 0,
      'edited prompt tokens': b.length,
      'tokens served from cache': exact.reusedTokens,
      'tokens recomputed': b.length - exact.reusedTokens,
    },
    {
      scheme: `chained blocks of ${B} tokens`,
      'keys (original)': cached.size,
      'keys (edited)': eh.length,
      'keys in common': matched,
      'edited prompt tokens': b.length,
      'tokens served from cache': blocks.reusedTokens,
      'tokens recomputed': b.length - blocks.reusedTokens,
    },
  ];
  return { originalTokens: a.length, editedTokens: b.length, firstDifferentToken: commonPrefixLength(a, b), exact, blocks, rows };
}

// ───────────────────────────── 2. picture of the chain ─────────────────────────────

export interface ChainInput {
  label: string;
  tokens: ArrayLike<number>;
  /** Namespace of this chain (e.g. another tenant's salted one). @default the `namespace` argument */
  namespace?: Namespace;
}

export interface ChainBlockRow extends PrefixTableRow {
  chain: string;
  block: number;
  /** Token positions, e.g. "16–31". */
  positions: string;
  /** The block's text (when a tokenizer was given). */
  text: string;
  /** Parent hash (the namespace hash for block 0), shortened. */
  parent: string;
  /** This block's hash, shortened. */
  hash: string;
  /** True when an earlier chain of the picture has the same block hash (same prefix, same namespace). */
  shared: boolean;
}

export interface ChainPicture {
  blockSize: number;
  chains: { label: string; namespace: string; blocks: number; tailTokens: number; shownBlocks: number; rows: ChainBlockRow[] }[];
  /** All chains' rows in order, for `table()`. */
  rows: ChainBlockRow[];
}

export interface ChainPictureOptions {
  /** Decodes each block's tokens to text for the picture. @default undefined (no text) */
  tokenizer?: Pick<TextCodec, 'decode'>;
  /** Blocks shown per chain (the rest are counted). @default 8 */
  maxBlocks?: number;
}

/**
 * The block chains of one or more token sequences: block i's hash covers block i−1's hash and
 * block i's tokens. A block is `shared` when an earlier chain has the same hash: equal hashes mean
 * the same namespace and the same tokens from position 0 up to the block's end.
 */
export function chainPicture(chains: ArrayLike<number> | readonly ChainInput[], namespace: Namespace, options: ChainPictureOptions = {}): ChainPicture {
  assertNamespace(namespace);
  const maxBlocks = options.maxBlocks ?? 8;
  assertPositiveInt(maxBlocks, 'maxBlocks', 1000);
  const list: ChainInput[] =
    Array.isArray(chains) && chains.length > 0 && typeof chains[0] === 'object' && chains[0] !== null
      ? (chains as ChainInput[])
      : [{ label: 'prompt', tokens: chains as ArrayLike<number> }];
  if (list.length === 0) throw new InvalidInputError('chainPicture needs at least one chain');
  const B = namespace.blockSize;
  const seen = new Set<BlockHash>();
  const out: ChainPicture['chains'] = [];
  list.forEach((c, ci) => {
    if (c === null || typeof c !== 'object') throw new InvalidInputError(`chains[${ci}] must be { label, tokens, namespace? }, got ${describeValue(c)}`);
    assertString(c.label, `chains[${ci}].label`);
    assertTokens(c.tokens, `chains[${ci}].tokens`);
    const ns = c.namespace ?? namespace;
    assertNamespace(ns, `chains[${ci}].namespace`);
    if (ns.blockSize !== B) throw new InvalidInputError(`chains[${ci}].namespace has block size ${ns.blockSize}; the picture uses ${B}`);
    const hashes = hashBlocks(c.tokens, ns);
    const all = Array.from(c.tokens);
    const rows: ChainBlockRow[] = [];
    hashes.slice(0, maxBlocks).forEach((h, i) => {
      const ids = all.slice(i * B, (i + 1) * B);
      rows.push({
        chain: c.label,
        block: i,
        positions: `${i * B}–${(i + 1) * B - 1}`,
        text: options.tokenizer ? options.tokenizer.decode(ids) : '',
        parent: short(i === 0 ? ns.hash : hashes[i - 1]!),
        hash: short(h),
        shared: seen.has(h),
      });
    });
    for (const h of hashes) seen.add(h);
    out.push({ label: c.label, namespace: ns.id, blocks: hashes.length, tailTokens: c.tokens.length - hashes.length * B, shownBlocks: rows.length, rows });
  });
  return { blockSize: B, chains: out, rows: out.flatMap((c) => c.rows) };
}

function ellipsize(s: string, n: number): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length <= n ? flat : `${flat.slice(0, n - 1)}…`;
}

/** Break a chart label into lines of about `width` characters (plotly wraps nothing by itself). */
function wrapLabel(s: string, width = 16): string {
  const lines: string[] = [];
  let line = '';
  for (const word of s.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  lines.push(line);
  return lines.join('<br>');
}

function htmlText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * A plotly diagram of a {@link chainPicture}: one row per chain, the namespace node then one box
 * per block, an arrow from each parent to its child. Green: the block's hash already exists in an
 * earlier chain (reusable); orange: new.
 */
export function chainFigure(picture: ChainPicture, title = 'Block-chained prefix hashes'): PlotlyFigure {
  if (picture === null || typeof picture !== 'object' || !Array.isArray(picture.chains)) {
    throw new InvalidInputError('chainFigure needs the result of chainPicture()');
  }
  const xs: number[] = [];
  const ys: number[] = [];
  const labels: string[] = [];
  const hovers: string[] = [];
  const colors: string[] = [];
  const annotations: Record<string, unknown>[] = [];
  const n = picture.chains.length;
  picture.chains.forEach((c, ci) => {
    const y = n - 1 - ci;
    xs.push(0);
    ys.push(y);
    labels.push(`ns<br>${c.namespace.slice(0, 6)}`);
    hovers.push(`${htmlText(c.label)}: namespace ${c.namespace}… (model, dtype, block size, salt)`);
    colors.push('#9aa5b1');
    c.rows.forEach((r, i) => {
      xs.push(i + 1);
      ys.push(y);
      labels.push(`#${r.block}<br>${r.hash.slice(0, 6)}`);
      hovers.push(`${htmlText(c.label)} block ${r.block} (tokens ${r.positions})<br>parent ${r.parent} → hash ${r.hash}<br>${htmlText(ellipsize(r.text, 60))}`);
      colors.push(r.shared ? '#2ca02c' : '#ff7f0e');
      annotations.push({ x: i + 1 - 0.3, y, ax: i + 0.3, ay: y, xref: 'x', yref: 'y', axref: 'x', ayref: 'y', showarrow: true, arrowhead: 2, arrowsize: 1.2, arrowwidth: 1.5, arrowcolor: '#555', text: '' });
    });
    const more = c.blocks - c.shownBlocks;
    annotations.push({
      x: c.rows.length + 0.6,
      y,
      xref: 'x',
      yref: 'y',
      xanchor: 'left',
      showarrow: false,
      text: `${more > 0 ? `+${more} blocks, ` : ''}${c.tailTokens} tail token(s) not hashed`,
      font: { size: 11, color: '#555' },
    });
    annotations.push({ x: -0.5, y, xref: 'x', yref: 'y', xanchor: 'right', showarrow: false, text: `<b>${htmlText(c.label)}</b>`, font: { size: 12 } });
  });
  const widest = Math.max(1, ...picture.chains.map((c) => c.rows.length));
  return {
    data: [
      {
        type: 'scatter',
        mode: 'markers+text',
        x: xs,
        y: ys,
        text: labels,
        hovertext: hovers,
        hoverinfo: 'text',
        textposition: 'middle center',
        textfont: { size: 10, color: 'white' },
        marker: { symbol: 'square', size: 46, color: colors, line: { width: 1, color: '#333' } },
        showlegend: false,
      },
      { type: 'scatter', mode: 'markers', x: [null], y: [null], name: 'hash already in an earlier chain (reusable)', marker: { symbol: 'square', size: 12, color: '#2ca02c' } },
      { type: 'scatter', mode: 'markers', x: [null], y: [null], name: 'new hash (must be computed)', marker: { symbol: 'square', size: 12, color: '#ff7f0e' } },
    ],
    layout: {
      title: { text: `${title} (block size ${picture.blockSize})` },
      xaxis: { visible: false, range: [-3.2, widest + 4.5] },
      yaxis: { visible: false, range: [-0.7, n - 0.3] },
      annotations,
      legend: { orientation: 'h', y: -0.05 },
      margin: { l: 10, r: 10, t: 50, b: 30 },
      height: 140 + 90 * n,
    },
  };
}

// ───────────────────────────── 3. hit rates on a trace ─────────────────────────────

export type HitStrategy = 'exact' | 'block';

export interface HitSimulationOptions {
  /** Block sizes of the block-prefix strategy. @default [16] */
  blockSizes?: readonly number[];
  /** 'exact': one key per whole prompt (hit only for an identical prompt); 'block': chained blocks. @default ['exact', 'block'] */
  strategies?: readonly HitStrategy[];
  /** Namespace fields other than block size. @default a fixed simulation namespace (no model needed) */
  namespace?: Omit<NamespaceSpec, 'blockSize'>;
}

export interface StrategyTotals extends HitStats {
  /** Display name, e.g. "exact prompt" or "blocks of 16". */
  strategy: string;
  kind: HitStrategy;
  /** Block size (null for the exact strategy). */
  blockSize: number | null;
  /** Distinct keys the cache holds at the end. */
  keys: number;
}

export interface RequestHits {
  index: number;
  id: string;
  session: string;
  promptTokens: number;
  /** Prompt tokens served from the cache, per strategy name. */
  hitTokens: Record<string, number>;
}

export interface HitSimulation {
  strategies: string[];
  requests: RequestHits[];
  totals: StrategyTotals[];
  /** One row per strategy, for `table()`. */
  rows: PrefixTableRow[];
}

/** Key of a whole token sequence (the exact-prompt baseline on token ids): SHA-256 over namespace hash ‖ ids as u32le. */
function wholePromptKey(tokens: ArrayLike<number>, ns: Namespace): string {
  const buf = Buffer.alloc(4 * tokens.length);
  for (let i = 0; i < tokens.length; i++) buf.writeUInt32LE(tokens[i]!, 4 * i);
  return createHash('sha256').update('kvcache-lab/exact-tokens/v1\0').update(Buffer.from(ns.hash, 'hex')).update(buf).digest('hex');
}

/**
 * Replay `requests` in order against an unbounded in-process cache (nothing is ever evicted):
 * each request is looked up, then everything it computed is inserted. Hits are counted in TOKENS
 * with {@link HitCounter}: the exact strategy serves the whole prompt only when the identical prompt
 * was seen before; the block strategy serves the leading run of full blocks whose chained hashes
 * are cached (the longest common full-block prefix with any earlier request).
 */
export function simulateHitRates(requests: readonly TraceRequest[], options: HitSimulationOptions = {}): HitSimulation {
  checkTrace(requests);
  const kinds = [...new Set(options.strategies ?? ['exact', 'block'])];
  if (kinds.length === 0) throw new InvalidInputError('strategies must name at least one of exact, block');
  for (const k of kinds) if (k !== 'exact' && k !== 'block') throw new InvalidInputError(`unknown strategy ${describeValue(k)}; known: exact, block`);
  const sizes = [...new Set(options.blockSizes ?? [DEFAULT_BLOCK_SIZE])];
  if (!Array.isArray(options.blockSizes ?? []) || sizes.length === 0) throw new InvalidInputError('blockSizes must be a non-empty array of block sizes');
  sizes.forEach((b, i) => assertBlockSize(b, `blockSizes[${i}]`));
  const spec = { ...SIMULATION_SPEC, ...(options.namespace ?? {}) };

  interface Sim {
    name: string;
    kind: HitStrategy;
    blockSize: number | null;
    ns: Namespace;
    keys: Set<string>;
    counter: HitCounter;
  }
  const sims: Sim[] = [];
  if (kinds.includes('exact')) {
    sims.push({ name: 'exact prompt', kind: 'exact', blockSize: null, ns: createNamespace({ ...spec, blockSize: DEFAULT_BLOCK_SIZE }), keys: new Set(), counter: new HitCounter() });
  }
  if (kinds.includes('block')) {
    for (const b of sizes) sims.push({ name: `blocks of ${b}`, kind: 'block', blockSize: b, ns: createNamespace({ ...spec, blockSize: b }), keys: new Set(), counter: new HitCounter() });
  }

  const perRequest: RequestHits[] = requests.map((r, index) => {
    const n = r.tokens.length;
    const hitTokens: Record<string, number> = {};
    for (const s of sims) {
      if (s.kind === 'exact') {
        const key = wholePromptKey(r.tokens, s.ns);
        const hit = s.keys.has(key);
        s.keys.add(key);
        hitTokens[s.name] = hit ? n : 0;
        s.counter.record({ promptTokens: n, blockSize: 1, hitTokens: hitTokens[s.name]! });
      } else {
        const B = s.blockSize!;
        const hashes = hashBlocks(r.tokens, s.ns);
        let k = 0;
        while (k < hashes.length && s.keys.has(hashes[k]!)) k++;
        for (const h of hashes) s.keys.add(h);
        hitTokens[s.name] = k * B;
        s.counter.record({ promptTokens: n, blockSize: B, hitTokens: k * B });
      }
    }
    return { index, id: r.id ?? `request-${index}`, session: r.session ?? '', promptTokens: n, hitTokens };
  });

  const totals: StrategyTotals[] = sims.map((s) => ({ ...s.counter.snapshot(), strategy: s.name, kind: s.kind, blockSize: s.blockSize, keys: s.keys.size }));
  const rows: PrefixTableRow[] = totals.map((t) => ({
    strategy: t.strategy,
    requests: t.lookups,
    'prompt tokens': t.promptTokens,
    'hit tokens': t.hitTokens,
    'token hit ratio': t.hitRatio,
    'requests with any hit': t.requestHitRatio,
    'keys stored': t.keys,
  }));
  return { strategies: sims.map((s) => s.name), requests: perRequest, totals, rows };
}

/** Grouped bars per request: prompt tokens and the tokens each strategy served from the cache. */
export function hitRateFigure(sim: HitSimulation, title = 'Prompt tokens served from the cache, request by request'): PlotlyFigure {
  if (sim === null || typeof sim !== 'object' || !Array.isArray(sim.requests)) throw new InvalidInputError('hitRateFigure needs the result of simulateHitRates()');
  const x = sim.requests.map((r) => r.index + 1);
  const hover = sim.requests.map((r) => `${r.id}${r.session ? ` (${r.session})` : ''}`);
  const palette = ['#d62728', '#2ca02c', '#1f77b4', '#9467bd', '#8c564b'];
  return {
    data: [
      { type: 'bar', x, y: sim.requests.map((r) => r.promptTokens), name: 'prompt tokens', marker: { color: '#c7c7c7' }, hovertext: hover },
      ...sim.strategies.map((s, i) => ({
        type: 'bar',
        x,
        y: sim.requests.map((r) => r.hitTokens[s] ?? 0),
        name: `hit tokens: ${s}`,
        marker: { color: palette[i % palette.length] },
        hovertext: hover,
      })),
    ],
    layout: {
      title: { text: title },
      barmode: 'group',
      xaxis: { title: { text: 'request (arrival order)' } },
      yaxis: { title: { text: 'tokens' }, rangemode: 'tozero' },
      legend: { orientation: 'h', y: -0.2 },
    },
  };
}

/** Token hit ratio of each strategy on several traces: rows for `table()`. */
export function compareTraces(traces: Readonly<Record<string, readonly TraceRequest[]>>, options: HitSimulationOptions = {}): PrefixTableRow[] {
  if (traces === null || typeof traces !== 'object') throw new InvalidInputError('compareTraces needs { name: requests }');
  return Object.entries(traces).map(([name, reqs]) => {
    const sim = simulateHitRates(reqs, options);
    const row: PrefixTableRow = { trace: name, requests: reqs.length, 'prompt tokens': sim.totals[0]!.promptTokens };
    for (const t of sim.totals) row[`hit ratio: ${t.strategy}`] = t.hitRatio;
    return row;
  });
}

// ───────────────────────────── 4. hashing cost vs prefill ─────────────────────────────

export interface HashCostOptions {
  /** Prompt lengths to measure (each ≤ tokens.length). @default [n/4, n/2, n] for n = tokens.length */
  lengths?: readonly number[];
  /** Timed prefills per length (median reported) after one untimed warm-up. @default 2 in KVLAB_FAST mode, else 3 */
  repeats?: number;
  /** Block size to hash with. @default 16 */
  blockSize?: number;
  /** @default 'auto' */
  progress?: ProgressTarget;
}

export interface HashCostRow extends PrefixTableRow {
  tokens: number;
  /** Chained hashing of the whole prompt, microseconds (median of 7 samples of ≥ 5 ms). */
  'hashing (µs)': number;
  'hashing (ns/token)': number;
  /** Prefill of the whole prompt, milliseconds (median of `repeats`). */
  'prefill (ms)': number;
  'prefill (ns/token)': number;
  /** How many times more one token of prefill costs than hashing it. */
  'prefill ÷ hashing': number;
  /** Hit ratio at which hashing pays for itself: hashing ns/token ÷ prefill ns/token. */
  'break-even hit ratio': number;
}

function timeHashing(ids: readonly number[], ns: Namespace): number {
  // Warm-up (the JIT), then 7 samples of ≥ 5 ms each; median ns per token (robust to a busy neighbour).
  const warm = process.hrtime.bigint();
  for (let i = 0; i < 2 || process.hrtime.bigint() - warm < 30_000_000n; i++) hashBlocks(ids, ns);
  const samples: number[] = [];
  for (let r = 0; r < 7; r++) {
    let hashed = 0;
    const t0 = process.hrtime.bigint();
    let elapsed = 0n;
    do {
      hashBlocks(ids, ns);
      hashed += ids.length;
      elapsed = process.hrtime.bigint() - t0;
    } while (elapsed < 5_000_000n);
    samples.push(Number(elapsed) / hashed);
  }
  return median(samples);
}

/**
 * Measured cost of chained hashing of a prompt vs its prefill on `model`, per prompt length: what a
 * server pays on every request to find cache hits, against what each hit token saves.
 */
export async function hashCostVsPrefill(model: LlamaModel, tokens: ArrayLike<number>, options: HashCostOptions = {}): Promise<HashCostRow[]> {
  assertModel(model);
  assertTokens(tokens, 'tokens', 4);
  const n = tokens.length;
  const lengths = [...new Set(options.lengths ?? [Math.floor(n / 4), Math.floor(n / 2), n])].sort((a, b) => a - b);
  if (!Array.isArray(options.lengths ?? []) || lengths.length === 0) throw new InvalidInputError('lengths must be a non-empty array');
  lengths.forEach((l, i) => assertPositiveInt(l, `lengths[${i}]`, n));
  const maxContext = model.config.maxContext;
  if (lengths[lengths.length - 1]! > maxContext) throw new InvalidInputError(`lengths must be ≤ the model's maxContext ${maxContext}`);
  const repeats = options.repeats ?? sized(2, 3);
  assertPositiveInt(repeats, 'repeats', 100);
  const ns = prefixNamespace(model, { blockSize: options.blockSize ?? DEFAULT_BLOCK_SIZE });
  const ids = Array.from(tokens);
  const bar = progress(lengths.length * (repeats + 1) + 1, 'hashing vs prefill', { target: options.progress ?? 'auto' });
  try {
    // Untimed warm-up at the largest length: the first prefills grow the wasm heap and compile kernels.
    (await model.prefill(ids.slice(0, lengths[lengths.length - 1]!))).kv.dispose();
    bar.tick();
    const rows: HashCostRow[] = [];
    for (const len of lengths) {
      const prompt = ids.slice(0, len);
      const hashNs = timeHashing(prompt, ns);
      bar.tick();
      const times: number[] = [];
      for (let r = 0; r < repeats; r++) {
        const t0 = performance.now();
        const out = await model.prefill(prompt);
        times.push(performance.now() - t0);
        out.kv.dispose();
        bar.tick();
      }
      const prefillMs = median(times);
      const prefillNs = (prefillMs * 1e6) / len;
      rows.push({
        tokens: len,
        'hashing (µs)': (hashNs * len) / 1000,
        'hashing (ns/token)': hashNs,
        'prefill (ms)': prefillMs,
        'prefill (ns/token)': prefillNs,
        'prefill ÷ hashing': prefillNs / hashNs,
        'break-even hit ratio': hashNs / prefillNs,
      });
    }
    return rows;
  } finally {
    bar.done();
  }
}

/** Log-scale bars: nanoseconds per token of hashing vs prefill, per prompt length. */
export function hashCostFigure(rows: readonly HashCostRow[], title = 'Cost per prompt token: hashing vs prefill (measured)'): PlotlyFigure {
  if (!Array.isArray(rows) || rows.length === 0) throw new InvalidInputError('hashCostFigure needs the rows of hashCostVsPrefill()');
  const x = rows.map((r) => `${r.tokens} tokens`);
  // Log axis range set by hand: autorange would start just below the smallest bar and hide it.
  const values = rows.flatMap((r) => [r['hashing (ns/token)'], r['prefill (ns/token)']]).filter((v) => v > 0);
  const range = [Math.floor(Math.log10(Math.min(...values))) - 1, Math.log10(Math.max(...values)) + 0.3];
  return {
    data: [
      { type: 'bar', x, y: rows.map((r) => r['hashing (ns/token)']), name: 'chained SHA-256 hashing', marker: { color: '#2ca02c' } },
      { type: 'bar', x, y: rows.map((r) => r['prefill (ns/token)']), name: 'prefill on this model', marker: { color: '#d62728' } },
    ],
    layout: {
      title: { text: title },
      barmode: 'group',
      xaxis: { title: { text: 'prompt length' } },
      yaxis: { title: { text: 'nanoseconds per token (log scale)' }, type: 'log', range },
      legend: { orientation: 'h', y: -0.2 },
    },
  };
}

// ───────────────────────────── 5. block size trade-off ─────────────────────────────

export interface BlockSizeOptions {
  /** Shapes whose value size per block is reported. @default { 'this model (fp32)': undefined, 'Llama-3-8B (fp16)': llama3-8b } */
  model?: Pick<ModelConfig, 'numLayers' | 'numKvHeads' | 'headDim'>;
  /** Also measure the hashing cost per token of each block size. @default true */
  measureHashing?: boolean;
}

export interface BlockSizeRow extends PrefixTableRow {
  'block size': number;
  'hit tokens': number;
  'token hit ratio': number;
  /** Prompt tokens lost to rounding down to a full block (compared to block size 1 = exact LCP). */
  'keys stored': number;
  /** KiB of one block's value for the given model (fp32 KV as this lab stores it), or null without a model. */
  'value KiB (this model, fp32)': number | null;
  'value KiB (Llama-3-8B, fp16)': number;
  'hashing (ns/token)': number | null;
}

/**
 * Replay one trace with several block sizes: hit tokens (coarser blocks round every match down to
 * a block boundary) against keys stored (finer blocks make more keys), with the value size of one
 * block and the measured hashing cost per token. With sizes that divide each other, a larger size
 * never hits more tokens and never stores more keys.
 */
export function blockSizeTradeoff(requests: readonly TraceRequest[], sizes: readonly number[], options: BlockSizeOptions = {}): BlockSizeRow[] {
  if (!Array.isArray(sizes) || sizes.length === 0) throw new InvalidInputError(`sizes must be a non-empty array of block sizes, got ${describeValue(sizes)}`);
  const sorted = [...new Set(sizes)].sort((a, b) => a - b);
  const sim = simulateHitRates(requests, { strategies: ['block'], blockSizes: sorted });
  const llama = kvBytesPerToken(getPreset('llama3-8b'), 2);
  const own = options.model ? kvBytesPerToken(options.model, KV_BYTES_PER_VALUE) : null;
  const measure = options.measureHashing ?? true;
  return sim.totals.map((t) => {
    const B = t.blockSize!;
    return {
      'block size': B,
      'hit tokens': t.hitTokens,
      'token hit ratio': t.hitRatio,
      'keys stored': t.keys,
      'value KiB (this model, fp32)': own === null ? null : (B * own) / 1024,
      'value KiB (Llama-3-8B, fp16)': (B * llama) / 1024,
      'hashing (ns/token)': measure ? timeHashing(Array.from(requests[requests.length - 1]!.tokens), createNamespace({ ...SIMULATION_SPEC, blockSize: B })) : null,
    };
  });
}

/** Token hit ratio and keys stored against block size (two y axes). */
export function blockSizeFigure(rows: readonly BlockSizeRow[], title = 'Block size: hit granularity vs number of keys'): PlotlyFigure {
  if (!Array.isArray(rows) || rows.length === 0) throw new InvalidInputError('blockSizeFigure needs the rows of blockSizeTradeoff()');
  const x = rows.map((r) => r['block size']);
  return {
    data: [
      { type: 'scatter', mode: 'lines+markers', x, y: rows.map((r) => 100 * r['token hit ratio']), name: 'token hit ratio (%)', marker: { color: '#2ca02c' } },
      { type: 'scatter', mode: 'lines+markers', x, y: rows.map((r) => r['keys stored']), name: 'keys stored', yaxis: 'y2', marker: { color: '#1f77b4' }, line: { dash: 'dot' } },
    ],
    layout: {
      title: { text: title },
      xaxis: { title: { text: 'block size (tokens, log scale)' }, type: 'log', tickvals: x },
      yaxis: { title: { text: 'token hit ratio (%)' }, rangemode: 'tozero' },
      yaxis2: { title: { text: 'keys stored (log scale)' }, overlaying: 'y', side: 'right', type: 'log' },
      legend: { orientation: 'h', y: -0.2 },
    },
  };
}

// ───────────────────────────── 6. timing side channel ─────────────────────────────

/**
 * The smallest prefix cache that serves real requests: block hash → that block's KV (its own
 * tensors). Serving looks up the leading run of cached blocks, joins their KV, prefills the rest and
 * stores the prompt's new full blocks. Time to first token is measured around lookup + prefill.
 */
class InProcessPrefixCache {
  private readonly blocks = new Map<BlockHash, KVCache>();

  get size(): number {
    return this.blocks.size;
  }

  async serve(model: LlamaModel, tokens: readonly number[], ns: Namespace): Promise<{ ttftMs: number; matchedTokens: number; firstToken: number; added: BlockHash[] }> {
    const B = ns.blockSize;
    const t0 = performance.now();
    const hashes = hashBlocks(tokens, ns);
    // At least one prompt token must be computed to get the next token's logits.
    const usable = Math.min(hashes.length, Math.floor((tokens.length - 1) / B));
    let k = 0;
    while (k < usable && this.blocks.has(hashes[k]!)) k++;
    const past = k > 0 ? KVCache.concatAll(hashes.slice(0, k).map((h) => this.blocks.get(h)!)) : undefined;
    let out;
    try {
      out = await model.prefill(tokens.slice(k * B), past);
    } finally {
      past?.dispose();
    }
    const firstToken = argmax(out.logits);
    const ttftMs = performance.now() - t0;
    const added: BlockHash[] = [];
    try {
      for (let i = k; i < hashes.length; i++) {
        if (this.blocks.has(hashes[i]!)) continue;
        this.blocks.set(hashes[i]!, out.kv.slice(i * B, (i + 1) * B));
        added.push(hashes[i]!);
      }
    } finally {
      out.kv.dispose();
    }
    return { ttftMs, matchedTokens: k * B, firstToken, added };
  }

  forget(hashes: readonly BlockHash[]): void {
    for (const h of hashes) {
      this.blocks.get(h)?.dispose();
      this.blocks.delete(h);
    }
  }

  dispose(): void {
    this.forget([...this.blocks.keys()]);
  }
}

export type SideChannelMode = 'shared' | 'salted';

export const SIDE_CHANNEL_MODE_LABELS: Readonly<Record<SideChannelMode, string>> = Object.freeze({
  shared: 'one shared cache (no salt)',
  salted: 'per-tenant salt',
});

export interface SideChannelOptions {
  /** The attacker's guesses; one of them is the victim's secret. @default six company names */
  candidates?: readonly string[];
  /** The victim's secret (must be one of `candidates`). @default candidates[2] */
  secret?: string;
  /** The prompt around a secret; the attacker knows it. @default a board memo with `fillerTokens` of text after the secret */
  template?: (secret: string) => string;
  /** Approximate tokens of text after the secret in the default template. @default 480 */
  fillerTokens?: number;
  /** Probes per candidate and mode (medians reported). @default 5 */
  trials?: number;
  /** @default 16 */
  blockSize?: number;
  /** Salts of the two tenants in the salted mode. @default 'tenant-A-secret' and 'tenant-B-secret' */
  salts?: { victim: string; attacker: string };
  /** @default 'auto' */
  progress?: ProgressTarget;
}

export const DEFAULT_SIDE_CHANNEL_CANDIDATES: readonly string[] = Object.freeze(['Northwind Traders', 'Globex Corporation', 'Initech', 'Umbrella Pharma', 'Stark Industries', 'Wayne Enterprises']);

const FILLER =
  'The board asks every reader to keep this memo confidential until the public announcement. ' +
  'Finance will prepare the valuation model, legal will review the contracts, and the integration team ' +
  'will plan the first hundred days with the product, sales and support leads. ';

export interface SideChannelSample {
  mode: SideChannelMode;
  candidate: string;
  isSecret: boolean;
  trial: number;
  /** Time to first token the attacker measured, ms. */
  ttftMs: number;
  /** Prompt tokens the cache served for the probe (the server knows it; the attacker only sees the time). */
  matchedTokens: number;
  promptTokens: number;
}

export interface SideChannelResult {
  secret: string;
  samples: SideChannelSample[];
  /** One row per mode and candidate: matched tokens, median / min / max TTFT. */
  rows: PrefixTableRow[];
  /** Per mode, the candidate with the lowest median TTFT (with salts: whichever noise favoured). */
  fastest: Record<SideChannelMode, string>;
  /**
   * Per mode, what the attacker concludes: the candidate whose median TTFT is below
   * {@link SIDE_CHANNEL_HIT_THRESHOLD} × the median of the other candidates' medians, or null when none stands out.
   */
  guesses: Record<SideChannelMode, string | null>;
  /** Median TTFT of the secret ÷ median of the other candidates' medians, per mode (≪ 1: the secret leaks). */
  ratios: Record<SideChannelMode, number>;
  /** One row per mode: fastest candidate, ratio, conclusion, whether it names the secret. */
  verdict: PrefixTableRow[];
}

/** A candidate "stands out" when its median TTFT is below this fraction of the others' (median of medians). */
export const SIDE_CHANNEL_HIT_THRESHOLD = 0.5;

function memoPrompt(fillerTokens: number, codec: Pick<TextCodec, 'encode'>): (secret: string) => string {
  let filler = '';
  while (codec.encode(filler).length < fillerTokens) filler += FILLER;
  return (secret) => `Confidential board memo. Next quarter the company will acquire ${secret}. ${filler}`;
}

/**
 * The prefix-cache timing attack, measured. Tenant A (the victim) sends a prompt containing a secret;
 * the server caches its blocks. Tenant B (the attacker) knows the template, sends one probe per
 * candidate secret and measures time to first token: a cached prefix answers faster. Run with one
 * shared namespace (no salt) and with per-tenant salts: with salts, B's hashes of A's exact prompt
 * differ from A's, so the probe matches 0 tokens and every candidate takes the same time.
 * Each probe's own new blocks are removed after it, so probes do not help each other.
 */
export async function timingSideChannel(model: LlamaModel, tokenizer: Pick<TextCodec, 'encode'>, options: SideChannelOptions = {}): Promise<SideChannelResult> {
  assertModel(model);
  if (tokenizer === null || typeof tokenizer !== 'object' || typeof tokenizer.encode !== 'function') {
    throw new InvalidInputError(`tokenizer must have an encode(text) method, got ${describeValue(tokenizer)}`);
  }
  const candidates = options.candidates ?? DEFAULT_SIDE_CHANNEL_CANDIDATES;
  if (!Array.isArray(candidates) || candidates.length < 2) throw new InvalidInputError('candidates must be an array of at least 2 strings');
  candidates.forEach((c, i) => assertString(c, `candidates[${i}]`));
  if (new Set(candidates).size !== candidates.length) throw new InvalidInputError('candidates must be distinct');
  const secret = options.secret ?? candidates[Math.min(2, candidates.length - 1)]!;
  if (!candidates.includes(secret)) throw new InvalidInputError(`secret ${describeValue(secret)} must be one of the candidates`);
  const trials = options.trials ?? 5;
  assertPositiveInt(trials, 'trials', 1000);
  const fillerTokens = options.fillerTokens ?? 480;
  assertPositiveInt(fillerTokens, 'fillerTokens', 100_000);
  const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
  assertBlockSize(blockSize);
  const salts = options.salts ?? { victim: 'tenant-A-secret', attacker: 'tenant-B-secret' };
  if (salts === null || typeof salts !== 'object') throw new InvalidInputError('salts must be { victim, attacker }');
  assertString(salts.victim, 'salts.victim');
  assertString(salts.attacker, 'salts.attacker');
  if (salts.victim === salts.attacker) throw new InvalidInputError('the two tenants need different salts');
  const template = options.template ?? memoPrompt(fillerTokens, tokenizer);
  if (typeof template !== 'function') throw new InvalidInputError('template must be a function (secret) => prompt');
  const prompts = new Map(candidates.map((c) => [c, tokenizer.encode(template(c))] as const));
  for (const [c, p] of prompts) {
    if (p.length < 2) throw new InvalidInputError(`the prompt for candidate ${describeValue(c)} has fewer than 2 tokens`);
    if (p.length > model.config.maxContext) throw new InvalidInputError(`the prompt for ${describeValue(c)} has ${p.length} tokens, more than the model's maxContext`);
  }

  const shared = prefixNamespace(model, { blockSize });
  const namespaces: Record<SideChannelMode, { victim: Namespace; attacker: Namespace }> = {
    shared: { victim: shared, attacker: shared },
    salted: { victim: prefixNamespace(model, { blockSize, salt: salts.victim }), attacker: prefixNamespace(model, { blockSize, salt: salts.attacker }) },
  };
  const modes: SideChannelMode[] = ['shared', 'salted'];
  const cache = new InProcessPrefixCache();
  const bar = progress(2 + modes.length * (1 + trials * candidates.length), 'timing side channel', { target: options.progress ?? 'auto' });
  const samples: SideChannelSample[] = [];
  try {
    // Warm-up in a throwaway namespace: a miss and a hit, so both paths are compiled before timing.
    const warmNs = prefixNamespace(model, { blockSize, salt: 'warm-up' });
    const warm = prompts.get(secret)!;
    await cache.serve(model, warm, warmNs);
    bar.tick();
    await cache.serve(model, warm, warmNs);
    cache.dispose();
    bar.tick();
    // Tenant A's request, once per mode (two namespaces side by side in one cache, as on a real server).
    for (const mode of modes) {
      await cache.serve(model, prompts.get(secret)!, namespaces[mode].victim);
      bar.tick();
    }
    for (let t = 0; t < trials; t++) {
      // Interleave modes and rotate candidates, so that drift over time (GC, heap growth, other load)
      // spreads over every condition instead of favouring one.
      for (let j = 0; j < candidates.length; j++) {
        for (const mode of t % 2 === 0 ? modes : [...modes].reverse()) {
          const candidate = candidates[(j + t) % candidates.length]!;
          const tokens = prompts.get(candidate)!;
          const probe = await cache.serve(model, tokens, namespaces[mode].attacker);
          cache.forget(probe.added); // probes must not help later probes
          samples.push({ mode, candidate, isSecret: candidate === secret, trial: t, ttftMs: probe.ttftMs, matchedTokens: probe.matchedTokens, promptTokens: tokens.length });
          bar.tick();
        }
      }
    }
  } finally {
    cache.dispose();
    bar.done();
  }

  const rows: PrefixTableRow[] = [];
  const fastest = {} as Record<SideChannelMode, string>;
  const guesses = {} as Record<SideChannelMode, string | null>;
  const ratios = {} as Record<SideChannelMode, number>;
  const verdict: PrefixTableRow[] = [];
  for (const mode of modes) {
    const medians = new Map<string, number>();
    for (const c of candidates) {
      const s = samples.filter((x) => x.mode === mode && x.candidate === c);
      const ms = s.map((x) => x.ttftMs);
      medians.set(c, median(ms));
      rows.push({
        mode: SIDE_CHANNEL_MODE_LABELS[mode],
        candidate: c,
        'is the secret': c === secret ? '★' : '',
        'prompt tokens': s[0]!.promptTokens,
        'tokens served from cache': s[0]!.matchedTokens,
        'median TTFT (ms)': medians.get(c)!,
        'min (ms)': Math.min(...ms),
        'max (ms)': Math.max(...ms),
      });
    }
    const othersOf = (c: string): number => median(candidates.filter((o) => o !== c).map((o) => medians.get(o)!));
    fastest[mode] = [...candidates].sort((a, b) => medians.get(a)! - medians.get(b)!)[0]!;
    const standsOut = medians.get(fastest[mode])! < SIDE_CHANNEL_HIT_THRESHOLD * othersOf(fastest[mode]);
    guesses[mode] = standsOut ? fastest[mode] : null;
    ratios[mode] = medians.get(secret)! / othersOf(secret);
    verdict.push({
      mode: SIDE_CHANNEL_MODE_LABELS[mode],
      'fastest candidate': fastest[mode],
      'its TTFT ÷ the others\' (median)': medians.get(fastest[mode])! / othersOf(fastest[mode]),
      "attacker's conclusion": guesses[mode] ?? 'no candidate stands out',
      'secret revealed': guesses[mode] === secret,
    });
  }
  return { secret, samples, rows, fastest, guesses, ratios, verdict };
}

/** The attacker's view: median TTFT per candidate (bars, min–max whiskers), one group per mode. */
export function sideChannelFigure(result: SideChannelResult, title = 'What the attacker measures: time to first token per guessed secret'): PlotlyFigure {
  if (result === null || typeof result !== 'object' || !Array.isArray(result.samples)) throw new InvalidInputError('sideChannelFigure needs the result of timingSideChannel()');
  const modes: SideChannelMode[] = ['shared', 'salted'];
  const candidates = [...new Set(result.samples.map((s) => s.candidate))];
  const colors: Record<SideChannelMode, string> = { shared: '#d62728', salted: '#1f77b4' };
  const x = candidates.map((c) => (c === result.secret ? `★ ${c}` : c));
  return {
    data: modes.map((mode) => {
      const stats = candidates.map((c) => {
        const ms = result.samples.filter((s) => s.mode === mode && s.candidate === c).map((s) => s.ttftMs);
        return { med: median(ms), min: Math.min(...ms), max: Math.max(...ms) };
      });
      return {
        type: 'bar',
        name: SIDE_CHANNEL_MODE_LABELS[mode],
        x,
        y: stats.map((s) => s.med),
        error_y: { type: 'data', symmetric: false, array: stats.map((s) => s.max - s.med), arrayminus: stats.map((s) => s.med - s.min) },
        marker: { color: colors[mode] },
      };
    }),
    layout: {
      title: { text: title },
      barmode: 'group',
      xaxis: { title: { text: 'candidate secret in the probe (★ = the victim\'s real secret)' } },
      yaxis: { title: { text: 'median time to first token (ms)' }, rangemode: 'tozero' },
      legend: { orientation: 'h', y: -0.25 },
    },
  };
}

// ───────────────────────────── 7. approximate matching ─────────────────────────────

/** A prompt that differs from the cached one: either given as text, or `changes` tokens replaced at fraction `at` of the prompt. */
export type ReuseVariant = { label?: string; text: string } | { label?: string; changes: number; at: number };

export interface ApproximateReuseOptions {
  /** The prompt whose KV is cached. */
  basePrompt: string;
  /** Prompts to serve from the cached KV instead of computing their own. */
  variants: readonly ReuseVariant[];
  /** Other prompts in the similarity index (their KV is computed only if one is picked). @default [] */
  otherPrompts?: readonly string[];
  /** Greedy tokens generated per variant. @default 6 in KVLAB_FAST mode, else 12 */
  generateTokens?: number;
  /** Block size of the exact chain shown for comparison. @default 16 */
  blockSize?: number;
  /** Options of the MinHash index. @default DEFAULT_MINHASH_OPTIONS */
  minhash?: MinHashOptions;
  /** Seed of the replacement tokens. @default 7 */
  seed?: number;
  /** @default 'auto' */
  progress?: ProgressTarget;
}

export interface ReuseErrorRow extends PrefixTableRow {
  variant: string;
  'prompt tokens': number;
  /** Token positions where the variant differs from the cached prompt (same length) or '—'. */
  'tokens changed': number | string;
  /** The cached prompt the MinHash index picked, or '' when it found none. */
  'matched prompt': string;
  'estimated Jaccard': number | null;
  'exact Jaccard': number | null;
  /** Tokens exact block-chain lookup would reuse (safe): full blocks before the first difference, within the first n − 1 tokens. */
  'exact chain reuses': number;
  /** Tokens of cached KV reused by approximate matching. */
  'approx reuses': number;
  /** Largest |logit difference| vs recomputing, over all generated steps (teacher-forced). */
  'max logit error': number | null;
  /** max logit error ÷ largest |logit| of the recomputed run. */
  'relative error': number | null;
  /** Share of steps whose greedy token matches recomputation, when both see the same previous tokens. */
  'top-1 agreement': number | null;
  /** Share of positions where the free-running continuations agree. */
  'greedy agreement': number | null;
  /** First generated position where the free-running continuations differ, or null. */
  'first divergence': number | null;
  'recomputed continuation': string;
  'reused-KV continuation': string;
}

export interface ApproximateReuseResult {
  baseTokens: number;
  generateTokens: number;
  rows: ReuseErrorRow[];
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= m)) m = d;
  }
  return m;
}

function maxAbs(a: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

/** Greedy decode `count` tokens starting from `logits` over `kv` (kv is consumed: disposed here). Teacher-forces `forced` when given. */
async function decodeFrom(model: LlamaModel, logits: Float32Array, kv: KVCache, count: number, forced?: readonly number[]): Promise<{ tokens: number[]; logits: Float32Array[] }> {
  const tokens: number[] = [];
  const all: Float32Array[] = [];
  let cur = kv;
  let lg = logits;
  try {
    for (let i = 0; i < count; i++) {
      all.push(lg);
      const t = argmax(lg);
      tokens.push(t);
      if (i === count - 1) break;
      const next = await model.decodeStep(forced ? forced[i]! : t, cur);
      cur.dispose();
      cur = next.kv;
      lg = next.logits;
    }
  } finally {
    cur.dispose();
  }
  return { tokens, logits: all };
}

/**
 * Approximate prompt matching, measured. The base prompt's KV is cached and the prompt is filed in a
 * {@link MinHashIndex}. For each variant the index finds the most similar cached prompt (similarity
 * scores shown), and its KV is REUSED for the variant's first L = min(lengths) − 1 positions as if it
 * were the variant's own; the rest is prefilled and `generateTokens` tokens are decoded greedily.
 * The same is done by recomputing the variant exactly. Reported: the largest logit error
 * (teacher-forced on the recomputed tokens), top-1 and free-running greedy agreement, and what
 * exact block-chain lookup would have reused safely. An identical prompt gives exactly zero error.
 */
export async function approximateReuseError(model: LlamaModel, tokenizer: TextCodec, options: ApproximateReuseOptions): Promise<ApproximateReuseResult> {
  assertModel(model);
  assertCodec(tokenizer);
  if (options === null || typeof options !== 'object') throw new InvalidInputError('approximateReuseError needs { basePrompt, variants }');
  assertString(options.basePrompt, 'basePrompt');
  if (!Array.isArray(options.variants) || options.variants.length === 0) throw new InvalidInputError('variants must be a non-empty array');
  const count = options.generateTokens ?? sized(6, 12);
  assertPositiveInt(count, 'generateTokens', 1000);
  const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
  assertBlockSize(blockSize);
  const others = options.otherPrompts ?? [];
  if (!Array.isArray(others)) throw new InvalidInputError('otherPrompts must be an array of strings');
  others.forEach((p, i) => assertString(p, `otherPrompts[${i}]`));
  const seed = options.seed ?? 7;

  const base = tokenizer.encode(options.basePrompt);
  if (base.length < 2) throw new InvalidInputError('basePrompt must encode to at least 2 tokens');
  const maxContext = model.config.maxContext;
  const rng = new SeededRng(seed);
  const vocab = [...new Set(base)];

  // Build every variant's tokens first, so bad input fails before any model work.
  const variants = options.variants.map((v, i) => {
    if (v === null || typeof v !== 'object') throw new InvalidInputError(`variants[${i}] must be { text } or { changes, at }, got ${describeValue(v)}`);
    if ('text' in v) {
      assertString(v.text, `variants[${i}].text`);
      const tokens = tokenizer.encode(v.text);
      if (tokens.length < 2) throw new InvalidInputError(`variants[${i}].text must encode to at least 2 tokens`);
      return { label: v.label ?? ellipsize(v.text, 40), tokens };
    }
    const { changes, at } = v as { changes: unknown; at: unknown };
    if (typeof changes !== 'number' || !Number.isInteger(changes) || changes < 0 || changes > base.length) {
      throw new InvalidInputError(`variants[${i}].changes must be an integer in [0, ${base.length}], got ${describeValue(changes)}`);
    }
    if (typeof at !== 'number' || !(at >= 0 && at <= 1)) throw new InvalidInputError(`variants[${i}].at must be a fraction in [0, 1], got ${describeValue(at)}`);
    const tokens = base.slice();
    const start = Math.min(Math.round(at * (base.length - 1)), base.length - changes);
    for (let p = start; p < start + changes; p++) {
      let t = tokens[p]!;
      if (vocab.length > 1) while (t === tokens[p]) t = rng.pick(vocab);
      else t = (t + 1) % model.config.vocabSize;
      tokens[p] = t;
    }
    return { label: v.label ?? (changes === 0 ? 'identical' : `${changes} token(s) changed at ${Math.round(at * 100)} %`), tokens };
  });
  for (const v of [{ tokens: base }, ...variants]) {
    if (v.tokens.length + count > maxContext) throw new InvalidInputError(`a prompt of ${v.tokens.length} tokens + ${count} generated exceeds maxContext ${maxContext}`);
  }

  const index = new MinHashIndex(options.minhash ?? {});
  const promptsById = new Map<string, number[]>();
  index.add('base prompt', base);
  promptsById.set('base prompt', base);
  others.forEach((p, i) => {
    const t = tokenizer.encode(p);
    if (t.length < 2 || t.length + count > maxContext) throw new InvalidInputError(`otherPrompts[${i}] must encode to 2 … ${maxContext - count} tokens`);
    index.add(`other prompt ${i + 1}`, t);
    promptsById.set(`other prompt ${i + 1}`, t);
  });
  const ns = createNamespace({ ...SIMULATION_SPEC, blockSize });
  // The cache: KV of each indexed prompt's first n−1 tokens (computed when first picked).
  const cached = new Map<string, KVCache>();
  const bar = progress(variants.length, 'approximate reuse', { target: options.progress ?? 'auto' });
  const rows: ReuseErrorRow[] = [];
  try {
    for (const v of variants) {
      const n = v.tokens.length;
      const best = index.query(v.tokens, { limit: 1 })[0];
      const source = best ? promptsById.get(best.id)! : undefined;
      const sameLength = source !== undefined && source.length === n;
      let changed: number | string = '—';
      if (sameLength) {
        let d = 0;
        for (let i = 0; i < n; i++) if (source[i] !== v.tokens[i]) d++;
        changed = d;
      }
      const chainHashes = new Set(hashBlocks(source ?? base, ns));
      const vh = hashBlocks(v.tokens, ns);
      const usable = Math.min(vh.length, Math.floor((n - 1) / blockSize)); // the last token is always computed
      let k = 0;
      while (k < usable && chainHashes.has(vh[k]!)) k++;
      const row: ReuseErrorRow = {
        variant: v.label,
        'prompt tokens': n,
        'tokens changed': changed,
        'matched prompt': best?.id ?? '',
        'estimated Jaccard': best?.estimatedJaccard ?? null,
        'exact Jaccard': best?.exactJaccard ?? null,
        'exact chain reuses': k * blockSize,
        'approx reuses': 0,
        'max logit error': null,
        'relative error': null,
        'top-1 agreement': null,
        'greedy agreement': null,
        'first divergence': null,
        'recomputed continuation': '',
        'reused-KV continuation': '',
      };
      if (best !== undefined && source !== undefined) {
        let src = cached.get(best.id);
        if (src === undefined) {
          src = (await model.prefill(source.slice(0, source.length - 1))).kv;
          cached.set(best.id, src);
        }
        const L = Math.min(source.length - 1, n - 1);
        // Recompute exactly, the same way (L tokens, then the rest), so an identical prompt is bit-identical.
        const head = await model.prefill(v.tokens.slice(0, L));
        let exactRun;
        try {
          const rest = await model.prefill(v.tokens.slice(L), head.kv);
          exactRun = await decodeFrom(model, rest.logits, rest.kv, count);
        } finally {
          head.kv.dispose();
        }
        // Reuse the similar prompt's KV for positions 0 … L−1.
        const borrowed = src.slice(0, L);
        let forcedRun;
        let freeRun;
        try {
          const rest = await model.prefill(v.tokens.slice(L), borrowed);
          const second = rest.kv.clone(); // one copy per run: decodeFrom consumes its cache
          try {
            forcedRun = await decodeFrom(model, rest.logits, rest.kv, count, exactRun.tokens);
          } catch (err) {
            second.dispose();
            throw err;
          }
          freeRun = await decodeFrom(model, rest.logits, second, count);
        } finally {
          borrowed.dispose();
        }
        let err = 0;
        let top1 = 0;
        for (let i = 0; i < count; i++) {
          err = Math.max(err, maxAbsDiff(forcedRun.logits[i]!, exactRun.logits[i]!));
          if (forcedRun.tokens[i] === exactRun.tokens[i]) top1++;
        }
        let same = 0;
        let firstDiv: number | null = null;
        for (let i = 0; i < count; i++) {
          if (freeRun.tokens[i] === exactRun.tokens[i]) same++;
          else if (firstDiv === null) firstDiv = i;
        }
        row['approx reuses'] = L;
        row['max logit error'] = err;
        row['relative error'] = err / Math.max(1e-30, ...exactRun.logits.map(maxAbs));
        row['top-1 agreement'] = top1 / count;
        row['greedy agreement'] = same / count;
        row['first divergence'] = firstDiv;
        row['recomputed continuation'] = tokenizer.decode(exactRun.tokens);
        row['reused-KV continuation'] = tokenizer.decode(freeRun.tokens);
      }
      rows.push(row);
      bar.tick();
    }
  } finally {
    for (const kv of cached.values()) kv.dispose();
    bar.done();
  }
  return { baseTokens: base.length, generateTokens: count, rows };
}

/** Per variant: largest logit error (bars, left axis) and greedy agreement (markers, right axis). */
export function approximateReuseFigure(result: ApproximateReuseResult, title = 'Reusing a similar prompt\'s KV: error vs recomputing (measured)'): PlotlyFigure {
  if (result === null || typeof result !== 'object' || !Array.isArray(result.rows)) throw new InvalidInputError('approximateReuseFigure needs the result of approximateReuseError()');
  const x = result.rows.map((r) => wrapLabel(htmlText(r.variant)));
  return {
    data: [
      { type: 'bar', x, y: result.rows.map((r) => r['max logit error']), name: 'max |logit error|', marker: { color: '#d62728' } },
      { type: 'scatter', mode: 'markers', x, y: result.rows.map((r) => (r['greedy agreement'] === null ? null : 100 * r['greedy agreement'])), name: 'greedy tokens agreeing (%)', yaxis: 'y2', marker: { size: 12, color: '#1f77b4', symbol: 'diamond' } },
      { type: 'scatter', mode: 'markers', x, y: result.rows.map((r) => r['estimated Jaccard'] === null ? null : 100 * r['estimated Jaccard']), name: 'MinHash similarity (%)', yaxis: 'y2', marker: { size: 10, color: '#2ca02c', symbol: 'circle-open' } },
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

