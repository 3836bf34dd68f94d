/**
 * Notebook 04's eviction scenario: a private `redis-server` with a small `maxmemory`, and a replay of
 * interleaved conversations against it — each request looks up its chain, loads the blocks found
 * (an access for LRU/LFU) and writes the rest — with about twice as many bytes as fit. The loop runs
 * a few hundred store calls and reads `INFO` after each request: too heavy for notebook cells.
 */
import type { PlotlyFigure } from './figure';
import { hashBlocks } from '../hashing/block-hash';
import { longestPrefix } from '../hashing/lookup';
import { createNamespace } from '../hashing/namespace';
import type { BlockHash } from '../hashing/types';
import { InvalidInputError } from '../runtime/errors';
import { sized } from '../runtime/env';
import { progress, type ProgressOptions } from '../runtime/progress';
import { SeededRng } from '../runtime/rng';
import { LocalRedisNode } from '../store/local-cluster';
import { parseInfo as parseInfoText } from '../store/health';
import { RedisStore } from '../store/redis-store';
import type { StoreHealth } from '../store/types';
import { MiB, round } from '../runtime/units';

export const EVICTION_POLICIES = ['allkeys-lru', 'allkeys-lfu', 'allkeys-random', 'volatile-lru', 'volatile-lfu', 'volatile-random', 'volatile-ttl', 'noeviction'] as const;
export type EvictionPolicy = (typeof EVICTION_POLICIES)[number];

export interface EvictionReplayOptions {
  /** `maxmemory` of the private server, in bytes (Redis itself uses about 1 MiB). @default 4 MiB (fast mode), 16 MiB */
  maxmemoryBytes?: number;
  /** Requests replayed. @default 96 (fast mode), 192 */
  requests?: number;
  /** Conversations open at once; a finished one is replaced by a new one. @default 3 */
  sessions?: number;
  /** Requests per conversation. @default 6 */
  turns?: number;
  /** Leading blocks every prompt shares (a system prompt). @default 4 */
  sharedBlocks?: number;
  /** Blocks each turn adds to its conversation. @default 2 */
  turnBlocks?: number;
  /** Bytes of each stored value (Redis sees values as opaque bytes). @default 32 KiB (fast mode), 64 KiB */
  blockBytes?: number;
  /** Seed of the token ids and of which conversation speaks next. @default 1 */
  seed?: number;
  /** Where the progress bar goes ('silent' in tests). @default 'auto' */
  progress?: ProgressOptions['target'];
}

export const DEFAULT_EVICTION_REPLAY_OPTIONS = { sessions: 3, turns: 6, sharedBlocks: 4, turnBlocks: 2, seed: 1 } as const;

const BLOCK_SIZE = 16;

/** One replayed request: what its lookup found and what its writes did to the server. */
export interface EvictionStep {
  request: number;
  session: number;
  blocks: number;
  found: number;
  /** What a cache without a memory limit would have found. */
  unbounded: number;
  written: number;
  rejected: number;
  usedBytes: number;
  evictedTotal: number;
}

/** Every conversation's longest prompt, looked up once more after the replay. */
export interface EvictionLookup {
  session: number;
  blocks: number;
  /** Leading blocks present: what a request could load. */
  usable: number;
  /** Blocks present after the first hole: stored but useless to this prompt. */
  stranded: number;
  evicted: number;
  /** Block by block: present or not. */
  present: boolean[];
}

export interface EvictionReplay {
  policy: EvictionPolicy;
  maxmemoryBytes: number;
  blockBytes: number;
  /** Wall time of the replay (Redis' LRU clock ticks once per second). */
  seconds: number;
  steps: EvictionStep[];
  lookups: EvictionLookup[];
  /** Distinct blocks the stream writes: what an unbounded cache would end up holding. */
  distinctBlocks: number;
  evictedKeys: number;
  keysLeft: number;
  /** Health warnings the store raised about the server's configuration. */
  warnings: string[];
}

type Sizes = Required<Omit<EvictionReplayOptions, 'progress'>>;

interface ReplayRequest {
  session: number;
  hashes: BlockHash[];
}

/** The seeded request stream: conversations growing turn by turn after a shared head. */
function requestStream(o: Sizes): ReplayRequest[] {
  const rng = new SeededRng(o.seed);
  const ns = createNamespace({ modelFingerprint: '4d'.repeat(32), kvDtype: 'fp16', kvFormatVersion: 1, blockSize: BLOCK_SIZE });
  const tokens = (n: number): number[] => Array.from({ length: n * BLOCK_SIZE }, () => rng.int(50_000));
  const head = tokens(o.sharedBlocks);
  let next = 0;
  const open = Array.from({ length: o.sessions }, () => ({ id: next++, tokens: head.slice(), turns: 0 }));
  const out: ReplayRequest[] = [];
  while (out.length < o.requests) {
    const i = rng.int(open.length);
    const s = open[i]!;
    s.tokens.push(...tokens(o.turnBlocks));
    out.push({ session: s.id, hashes: hashBlocks(s.tokens, ns) });
    if (++s.turns >= o.turns) open[i] = { id: next++, tokens: head.slice(), turns: 0 };
  }
  return out;
}

function resolve({ progress: _p, ...options }: EvictionReplayOptions): Sizes {
  const o = {
    ...DEFAULT_EVICTION_REPLAY_OPTIONS,
    maxmemoryBytes: sized(4 * MiB, 16 * MiB),
    requests: sized(96, 192),
    blockBytes: sized(32 * 1024, 64 * 1024),
    ...options,
  };
  for (const [k, v] of Object.entries(o)) {
    if (!Number.isInteger(v) || (v as number) < (k === 'sharedBlocks' || k === 'seed' ? 0 : 1)) throw InvalidInputError.at(k, 'a positive integer', v);
  }
  if (o.maxmemoryBytes < 2 * MiB) throw InvalidInputError.at('maxmemoryBytes', 'at least 2 MiB (Redis itself uses about 1 MiB)', o.maxmemoryBytes);
  if (o.blockBytes * 8 > o.maxmemoryBytes) throw InvalidInputError.at('blockBytes', `small enough that 8 blocks fit in maxmemory (${o.maxmemoryBytes} bytes)`, o.blockBytes);
  return o;
}

/**
 * Replay the stream under one `maxmemory-policy` on a private server (started here, stopped at the
 * end). Needs `redis-server` on the PATH.
 */
export async function replayEviction(policy: EvictionPolicy, options: EvictionReplayOptions = {}): Promise<EvictionReplay> {
  if (!(EVICTION_POLICIES as readonly string[]).includes(policy)) throw InvalidInputError.at('policy', `one of ${EVICTION_POLICIES.join(', ')}`, policy);
  const o = resolve(options);
  const stream = requestStream(o);
  const node = await LocalRedisNode.start({ args: ['--maxmemory', String(o.maxmemoryBytes), '--maxmemory-policy', policy] });
  const store = new RedisStore({ url: node.url, namespace: 'evict', name: `evict-${policy}`, commandTimeout: 5000 });
  const bar = progress(stream.length, `replay under ${policy}`, { target: options.progress ?? 'auto' });
  try {
    await store.ready(5000);
    const info = async (): Promise<{ used: number; evicted: number; keys: number }> => {
      const res = (await store.client.pipeline().info('memory').info('stats').dbsize().exec()) ?? [];
      const text = (i: number): Record<string, string> => parseInfoText(String(res[i]?.[1] ?? ''));
      return { used: Number(text(0).used_memory ?? 0), evicted: Number(text(1).evicted_keys ?? 0), keys: Number(res[2]?.[1] ?? 0) };
    };
    const everStored = new Set<BlockHash>();
    const steps: EvictionStep[] = [];
    const started = performance.now();
    let seed = 0;
    for (const [r, { session, hashes }] of stream.entries()) {
      let unbounded = 0;
      while (unbounded < hashes.length && everStored.has(hashes[unbounded]!)) unbounded++;
      const match = await longestPrefix(store, hashes, { blockSize: BLOCK_SIZE });
      if (match.matchedBlocks > 0) await store.get(hashes.slice(0, match.matchedBlocks)); // the load: an access
      let written = 0;
      let rejected = 0;
      for (let b = match.matchedBlocks; b < hashes.length; b += 8) {
        const batch = hashes.slice(b, b + 8).map((hash) => ({ hash, value: Buffer.alloc(o.blockBytes, ++seed & 0xff) }));
        const res = await store.put(batch);
        written += res.stored;
        rejected += res.failed;
      }
      hashes.forEach((h) => everStored.add(h));
      const s = await info();
      steps.push({ request: r, session, blocks: hashes.length, found: match.matchedBlocks, unbounded, written, rejected, usedBytes: s.used, evictedTotal: s.evicted });
      bar.tick();
    }
    const seconds = (performance.now() - started) / 1000;
    const last = new Map<number, BlockHash[]>();
    for (const q of stream) last.set(q.session, q.hashes);
    const lookups: EvictionLookup[] = [];
    for (const [session, hashes] of [...last].sort((a, b) => a[0] - b[0])) {
      const m = await longestPrefix(store, hashes, { blockSize: BLOCK_SIZE });
      lookups.push({ session, blocks: m.totalBlocks, usable: m.matchedBlocks, stranded: m.strandedBlocks, evicted: m.present.filter((p) => !p).length, present: m.present });
    }
    const end = await info();
    const health: StoreHealth = await store.health();
    bar.done(`replay under ${policy}: ${end.evicted} keys evicted`);
    return { policy, maxmemoryBytes: o.maxmemoryBytes, blockBytes: o.blockBytes, seconds, steps, lookups, distinctBlocks: everStored.size, evictedKeys: end.evicted, keysLeft: end.keys, warnings: health.warnings };
  } finally {
    await store.close();
    await node.stop();
  }
}

/** The same replay under several policies, one private server after the other. */
export async function compareEvictionPolicies(policies: readonly EvictionPolicy[], options: EvictionReplayOptions = {}): Promise<EvictionReplay[]> {
  const out: EvictionReplay[] = [];
  for (const p of policies) out.push(await replayEviction(p, options));
  return out;
}

const sum = (xs: readonly number[]): number => xs.reduce((a, x) => a + x, 0);

/** One row per policy: what the replay got out of the cache and what the server did. */
export function evictionSummaryRows(results: readonly EvictionReplay[]): Record<string, string | number>[] {
  return results.map((r) => {
    const found = sum(r.steps.map((s) => s.found));
    const unbounded = sum(r.steps.map((s) => s.unbounded));
    return {
      policy: r.policy,
      'replay (s)': round(r.seconds, 2),
      'MiB written': round((sum(r.steps.map((s) => s.written)) * r.blockBytes) / MiB, 1),
      'writes rejected (OOM)': sum(r.steps.map((s) => s.rejected)),
      'evicted keys': r.evictedKeys,
      'keys left': r.keysLeft,
      'blocks found': found,
      'an unbounded cache finds': unbounded,
      'found ÷ unbounded': round(found / Math.max(1, unbounded), 3),
      'stranded blocks at the end': sum(r.lookups.map((l) => l.stranded)),
    };
  });
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd', '#8c564b', '#e377c2'];

/** Running share of what an unbounded cache finds, and evictions / rejected writes, per policy. */
export function evictionTimelineFigure(results: readonly EvictionReplay[]): PlotlyFigure {
  const data: Record<string, unknown>[] = [];
  results.forEach((r, i) => {
    const color = COLORS[i % COLORS.length];
    const x = r.steps.map((s) => s.request);
    let found = 0;
    let ideal = 0;
    const share = r.steps.map((s) => ((found += s.found), (ideal += s.unbounded), ideal > 0 ? round(found / ideal, 3) : null));
    data.push({ type: 'scatter', mode: 'lines', name: `${r.policy}: found ÷ unbounded`, x, y: share, line: { color } });
    if (r.evictedKeys > 0) data.push({ type: 'scatter', mode: 'lines', name: `${r.policy}: evicted keys`, x, y: r.steps.map((s) => s.evictedTotal), yaxis: 'y2', line: { color, dash: 'dot' } });
    let rejected = 0;
    if (r.steps.some((s) => s.rejected > 0)) data.push({ type: 'scatter', mode: 'lines', name: `${r.policy}: writes rejected`, x, y: r.steps.map((s) => (rejected += s.rejected)), yaxis: 'y2', line: { color, dash: 'dash' } });
  });
  return {
    data,
    layout: {
      title: { text: 'During the replay: blocks found compared with an unbounded cache; evictions and rejected writes' },
      xaxis: { title: { text: 'requests replayed' } },
      yaxis: { title: { text: 'blocks found ÷ unbounded cache (running)' }, range: [0, 1.05] },
      yaxis2: { title: { text: 'keys (cumulative)' }, overlaying: 'y', side: 'right', rangemode: 'tozero' },
      legend: { orientation: 'h', y: -0.3 },
      height: 480,
    },
  };
}

/** Which blocks of every conversation's longest prompt are left: usable prefix, evicted, stranded after a hole. */
export function evictionMapFigure(result: EvictionReplay): PlotlyFigure {
  const width = Math.max(0, ...result.lookups.map((l) => l.blocks));
  const z = result.lookups.map(({ present }) => {
    const hole = present.indexOf(false);
    const row: (number | null)[] = present.map((p, b) => (!p ? 0 : hole >= 0 && b > hole ? 1 : 2));
    while (row.length < width) row.push(null);
    return row;
  });
  return {
    data: [
      {
        type: 'heatmap',
        z,
        x: Array.from({ length: width }, (_, b) => b),
        y: result.lookups.map((l) => `conversation ${l.session}`),
        zmin: 0,
        zmax: 2,
        colorscale: [[0, '#d62728'], [0.333, '#d62728'], [0.333, '#ffbf00'], [0.666, '#ffbf00'], [0.666, '#2ca02c'], [1, '#2ca02c']],
        colorbar: { tickvals: [0.33, 1, 1.67], ticktext: ['evicted', 'stranded', 'usable prefix'] },
        xgap: 1,
        ygap: 1,
        hovertemplate: '%{y}, block %{x}<extra></extra>',
      },
    ],
    layout: {
      title: { text: `Blocks left after the replay (maxmemory ${round(result.maxmemoryBytes / MiB, 1)} MiB, ${result.policy})` },
      xaxis: { title: { text: "block of the conversation's longest prompt (chain order)" } },
      yaxis: { autorange: 'reversed', type: 'category' },
      height: Math.max(380, 16 * z.length + 160),
    },
  };
}
