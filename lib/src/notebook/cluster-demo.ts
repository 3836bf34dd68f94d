/**
 * Notebook 04's Redis Cluster scenario, the part too long-running for cells: after a master is
 * killed, ask the cluster for a prompt's blocks every few hundred milliseconds while the other
 * masters detect the failure, recording what `get` finds and what `CLUSTER INFO` / `CLUSTER NODES`
 * say. Plus the two figures of that section. The cluster itself is a `LocalRedisCluster`.
 */
import type { PlotlyFigure } from './figure';
import type { BlockHash } from '../hashing/types';
import { InvalidInputError } from '../runtime/errors';
import type { LocalRedisCluster } from '../store/local-cluster';
import type { RedisClusterStore } from '../store/redis-cluster-store';

export interface WatchFailureOptions {
  /** Milliseconds between two samples. @default 250 */
  intervalMs?: number;
  /** Keep sampling this long after the dead node is flagged `fail`. @default 1000 */
  afterDetectMs?: number;
  /** Stop at the latest after this many milliseconds. @default 10000 */
  maxMs?: number;
}

export const DEFAULT_WATCH_FAILURE_OPTIONS = { intervalMs: 250, afterDetectMs: 1000, maxMs: 10_000 } as const;

export interface ClusterWatchSample {
  't (ms)': number;
  /** Blocks `get` returned (-1: the call threw, which a store never should). */
  'blocks found (get)': number;
  'get() (ms)': number;
  /** `cluster_state` of `CLUSTER INFO` on a live master. */
  cluster_state: string;
  /** The dead node's flags in `CLUSTER NODES` (`master` → `master,fail?` → `master,fail`). */
  'killed node flagged': string;
}

export interface ClusterWatch {
  /** `cluster-require-full-coverage`, read from a live master. */
  requireFullCoverage: boolean;
  /** Blocks held by the masters still alive. */
  liveBlocks: number;
  samples: ClusterWatchSample[];
  /** Milliseconds after the first sample at which the dead node was flagged `fail`. */
  failDetectedAfterMs?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Follow a failure: a node of `cluster` must already be down (`node.kill()`). Samples until the
 * failure has been detected for `afterDetectMs`, or for `maxMs`.
 */
export async function watchClusterFailure(store: RedisClusterStore, cluster: LocalRedisCluster, hashes: readonly BlockHash[], options: WatchFailureOptions = {}): Promise<ClusterWatch> {
  const o = { ...DEFAULT_WATCH_FAILURE_OPTIONS, ...options };
  const dead = cluster.nodes.find((n) => !n.alive);
  const observer = cluster.nodes.find((n) => n.alive);
  if (!dead || !observer) throw InvalidInputError.at('cluster', 'a cluster with one node killed (node.kill()) and others alive', cluster.nodes.map((n) => n.alive));
  const coverage = (await observer.cli('CONFIG', 'GET', 'cluster-require-full-coverage')).split('\n')[1]?.trim();
  const alive = new Set(cluster.nodes.filter((n) => n.alive).map((n) => n.address));
  const liveBlocks = hashes.filter((h) => alive.has(store.nodeFor(h) ?? '')).length;
  const samples: ClusterWatchSample[] = [];
  const t0 = performance.now();
  let detected: number | undefined;
  for (;;) {
    const ts = performance.now();
    let found = -1;
    try {
      found = (await store.get(hashes)).filter((v) => v !== undefined).length;
    } catch {
      // counted as -1: the store contract says this never happens
    }
    const getMs = performance.now() - ts;
    const [info, nodes] = await Promise.all([observer.cli('CLUSTER', 'INFO').catch(() => ''), observer.cli('CLUSTER', 'NODES').catch(() => '')]);
    const flags = nodes.split('\n').find((l) => l.includes(`:${dead.port}@`))?.split(' ')[2] ?? 'unknown';
    const t = Math.round(ts - t0);
    if (detected === undefined && /(^|,)fail(,|$)/.test(flags)) detected = t;
    samples.push({ 't (ms)': t, 'blocks found (get)': found, 'get() (ms)': Number(getMs.toFixed(1)), cluster_state: /cluster_state:(\w+)/.exec(info)?.[1] ?? 'unknown', 'killed node flagged': flags });
    const now = performance.now() - t0;
    if ((detected !== undefined && now >= detected + o.afterDetectMs) || now >= o.maxMs) break;
    await sleep(Math.max(0, o.intervalMs - (performance.now() - ts)));
  }
  return { requireFullCoverage: coverage === 'yes', liveBlocks, samples, ...(detected !== undefined ? { failDetectedAfterMs: detected } : {}) };
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd', '#8c564b', '#e377c2'];

/** Where a prompt's blocks landed: one square per block, on the row of the master holding its slot. */
export function clusterPlacementFigure(rows: readonly { block: number; slot: number; node: string }[]): PlotlyFigure {
  const nodes = [...new Set(rows.map((r) => r.node))].sort();
  return {
    data: nodes.map((node, i) => {
      const mine = rows.filter((r) => r.node === node);
      return {
        type: 'scatter',
        mode: 'markers',
        name: `${node} (${mine.length} blocks)`,
        x: mine.map((r) => r.block),
        y: mine.map(() => node),
        customdata: mine.map((r) => r.slot),
        marker: { symbol: 'square', size: 12, color: COLORS[i % COLORS.length], line: { width: 1, color: '#333' } },
        hovertemplate: 'block %{x}: slot %{customdata}<extra></extra>',
      };
    }),
    layout: {
      title: { text: "Where the prompt's blocks landed: CRC16(key) mod 16384 → the master owning that slot" },
      xaxis: { title: { text: 'block of the prompt (chain order)' }, range: [-1, rows.length] },
      yaxis: { type: 'category', automargin: true, categoryorder: 'array', categoryarray: [...nodes].reverse() },
      legend: { orientation: 'h', y: -0.3 },
    },
  };
}

/** Blocks `get` found after a master was killed, one line per cluster; dotted: failure detected. */
export function clusterWatchFigure(watches: readonly ClusterWatch[]): PlotlyFigure {
  const end = Math.max(0, ...watches.flatMap((w) => w.samples.map((s) => s['t (ms)'])));
  const data: Record<string, unknown>[] = watches.map((w, i) => ({
    type: 'scatter',
    mode: 'lines+markers',
    name: `cluster-require-full-coverage ${w.requireFullCoverage ? 'yes' : 'no'}`,
    x: w.samples.map((s) => s['t (ms)']),
    y: w.samples.map((s) => Math.max(0, s['blocks found (get)'])),
    line: { shape: 'hv', color: COLORS[i % COLORS.length] },
  }));
  watches.forEach((w, i) => data.push({ type: 'scatter', mode: 'lines', name: `blocks on its live masters (${w.requireFullCoverage ? 'yes' : 'no'})`, x: [0, end], y: [w.liveBlocks, w.liveBlocks], line: { dash: 'dash', width: 1, color: COLORS[i % COLORS.length] } }));
  const shapes = watches.flatMap((w, i) =>
    w.failDetectedAfterMs === undefined ? [] : [{ type: 'line', x0: w.failDetectedAfterMs, x1: w.failDetectedAfterMs, yref: 'paper', y0: 0, y1: 1, line: { dash: 'dot', color: COLORS[i % COLORS.length] } }],
  );
  return {
    data,
    layout: {
      title: { text: 'Blocks found by get() after one master was killed' },
      xaxis: { title: { text: 'ms since the first sample (dotted: the other masters flag the dead one as failed)' } },
      yaxis: { title: { text: 'blocks found' }, rangemode: 'tozero' },
      shapes,
      legend: { orientation: 'h', y: -0.3 },
    },
  };
}
