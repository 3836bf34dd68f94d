/** Plotly figures of benchmark results, shared by the CLI (HTML files) and notebook 05. */
import type { PlotlyFigure } from './figure';
import type { BenchmarkResults } from '../bench/suite';
import type { CostProjection } from '../bench/cost';

/** One colour per strategy on every chart (notebook 05's own charts use it too). */
export const STRATEGY_COLORS: Readonly<Record<string, string>> = {
  'no-cache': '#1f77b4', 'exact-prompt': '#ff7f0e', 'prefix-memory': '#2ca02c', 'prefix-redis': '#d62728', tiered: '#9467bd', 'prefix-cluster': '#8c564b',
};

export function ttftFigure(results: BenchmarkResults): PlotlyFigure {
  const strategies = results.config.strategies;
  return {
    data: strategies.map((s) => ({
      type: 'bar',
      name: s,
      marker: { color: STRATEGY_COLORS[s] },
      x: results.workloads.map((w) => w.workload),
      y: results.workloads.map((w) => w.summaries.find((x) => x.strategy === s)?.ttftP50Ms ?? null),
      error_y: { type: 'data', symmetric: false, array: results.workloads.map((w) => { const x = w.summaries.find((y) => y.strategy === s); return x ? x.ttftP95Ms - x.ttftP50Ms : null; }), arrayminus: results.workloads.map(() => 0) },
    })),
    layout: { title: { text: `Time to first token, median (bar) to p95 (whisker) — ${results.config.preset} model` }, barmode: 'group', yaxis: { title: { text: 'TTFT (ms)' } } },
  };
}

export function reuseFigure(results: BenchmarkResults): PlotlyFigure {
  const strategies = results.config.strategies.filter((s) => s !== 'no-cache');
  return {
    data: [
      ...strategies.map((s) => ({
        type: 'bar',
        name: s,
        marker: { color: STRATEGY_COLORS[s] },
        x: results.workloads.map((w) => w.workload),
        y: results.workloads.map((w) => (w.promptTokens ? (w.summaries.find((x) => x.strategy === s)?.reusedTokens ?? 0) / w.promptTokens : 0)),
      })),
      { type: 'scatter', mode: 'markers', name: 'oracle (infinite cache)', marker: { symbol: 'line-ew-open', size: 40, color: '#000', line: { width: 3 } }, x: results.workloads.map((w) => w.workload), y: results.workloads.map((w) => (w.promptTokens ? w.oracleTokens / w.promptTokens : 0)) },
    ],
    layout: { title: { text: 'Prompt tokens reused, per strategy, against the oracle' }, barmode: 'group', yaxis: { title: { text: 'reused / prompt tokens' }, tickformat: '.0%', range: [0, 1] } },
  };
}

export function multiWorkerFigure(results: BenchmarkResults): PlotlyFigure {
  const m = results.multiWorker[0];
  const single = results.workloads.find((w) => w.workload === m?.workload);
  const rows = [
    ...(single?.summaries.filter((s) => s.strategy === 'prefix-memory' || s.strategy === 'prefix-redis') ?? []),
    ...(m?.summaries ?? []),
  ];
  return {
    data: [{
      type: 'bar',
      x: rows.map((r) => `${r.strategy} × ${r.workers} worker${r.workers > 1 ? 's' : ''}`),
      y: rows.map((r) => r.reuseVsOracle),
      marker: { color: rows.map((r) => STRATEGY_COLORS[r.strategy]) },
      text: rows.map((r) => (r.reuseVsOracle === null ? '–' : `${(r.reuseVsOracle * 100).toFixed(0)} %`)),
      textposition: 'auto',
    }],
    layout: { title: { text: `Reuse vs the oracle with several worker processes (${m?.workload ?? '—'} workload)` }, yaxis: { title: { text: 'reused / oracle tokens' }, tickformat: '.0%', range: [0, 1.05] } },
  };
}

export function costFigure(projections: { label: string; p: CostProjection }[]): PlotlyFigure {
  return {
    data: [
      { type: 'bar', name: 'no cache', x: projections.map((x) => x.label), y: projections.map((x) => x.p.dollarsPerMillionNoCache) },
      { type: 'bar', name: 'with cache', x: projections.map((x) => x.label), y: projections.map((x) => x.p.dollarsPerMillionWithCache) },
    ],
    layout: { title: { text: 'Projected prefill cost per million prompt tokens (H100, inputs printed above)' }, barmode: 'group', yaxis: { title: { text: '$ per million prompt tokens' } } },
  };
}
