/** Text and markdown views of a {@link GpuBenchResult} (results/gpu.json). */
import { tableToText as table } from '../runtime/text-table';
import type { GpuBenchResult } from './gpu';

const fmt = (x: number, digits = 1): string => (Number.isFinite(x) ? x.toFixed(digits) : '–');
const ratio = (a: number, b: number): string => (b > 0 && a > 0 ? `${fmt(a / b, 1)}×` : '–');

/** Where the run happened, in words: "NVIDIA H100 80GB HBM3 (driver 580.x) through webgpu; 16 × AMD EPYC…". */
export function gpuRunPlace(r: GpuBenchResult): string {
  const gpu = r.machine.gpu ?? [r.adapter?.vendor, r.adapter?.description || r.adapter?.device].filter(Boolean).join(' ');
  return `${gpu || 'no GPU named'}${r.machine.driver ? ` (driver ${r.machine.driver})` : ''} through ${r.backend}; baseline ${r.baseline} on ${r.machine.cpus} × ${r.machine.cpuModel}; Node ${r.machine.node}; ${r.date.slice(0, 10)}`;
}

/** Rows: preset, tokens, ms and GFLOP/s on each backend, and the speed-up. */
export function gpuPrefillRows(r: GpuBenchResult): Record<string, string | number>[] {
  const rows: Record<string, string | number>[] = [];
  for (const run of r.runs.filter((x) => x.backend === r.backend)) {
    const base = r.runs.find((x) => x.backend === r.baseline && x.preset === run.preset);
    for (const p of run.prefill) {
      const b = base?.prefill.find((x) => x.tokens === p.tokens);
      rows.push({
        preset: run.preset,
        tokens: p.tokens,
        [`${r.backend} ms`]: fmt(p.medianMs),
        [`${r.backend} GFLOP/s`]: fmt(p.gflops, 0),
        [`${r.baseline} ms`]: b ? fmt(b.medianMs) : '–',
        [`${r.baseline} GFLOP/s`]: b ? fmt(b.gflops, 1) : '–',
        'speed-up': b ? ratio(b.medianMs, p.medianMs) : '–',
      });
    }
  }
  return rows;
}

/** Rows: preset, decode step ms on each backend. */
export function gpuDecodeRows(r: GpuBenchResult): Record<string, string | number>[] {
  return r.runs
    .filter((x) => x.backend === r.backend)
    .map((run) => {
      const base = r.runs.find((x) => x.backend === r.baseline && x.preset === run.preset);
      return { preset: run.preset, 'context tokens': run.decode.contextTokens, [`${r.backend} ms/step`]: fmt(run.decode.medianMs), [`${r.baseline} ms/step`]: base ? fmt(base.decode.medianMs) : '–' };
    });
}

/** Rows: TTFT without and with the Redis prefix cache, the load speed, and whether outputs matched. */
export function gpuTtftRows(r: GpuBenchResult): Record<string, string | number>[] {
  return r.ttft.map((t) => {
    const w = t.withCache;
    const mean = (f: (x: (typeof w)[number]) => number): number => w.reduce((a, x) => a + f(x), 0) / Math.max(1, w.length);
    return {
      preset: t.preset,
      'prompt tokens': t.sharedTokens + t.questionTokens,
      'TTFT no cache ms': fmt(t.medianWithoutMs),
      'TTFT cache ms': fmt(t.medianWithMs),
      'speed-up': ratio(t.medianWithoutMs, t.medianWithMs),
      'load ms': fmt(mean((x) => x.loadMs)),
      'MB loaded': fmt(mean((x) => x.bytesLoaded) / 1e6),
      'load GB/s': fmt(t.loadGBps, 2),
      'same output': t.sameOutput ? 'yes' : 'NO',
    };
  });
}

/** Rows: the load bandwidth at which loading KV pays, for the longest prompt of each run. */
export function gpuBreakEvenRows(r: GpuBenchResult): Record<string, string | number>[] {
  const longest = Math.max(...r.breakEven.map((b) => b.tokens));
  return r.breakEven
    .filter((b) => b.tokens === longest)
    .map((b) => {
      const load = r.ttft.find((t) => t.preset === b.preset && t.backend === b.backend);
      return {
        preset: b.preset,
        backend: b.backend,
        tokens: b.tokens,
        'KV KiB/token (fp16)': fmt(b.kvBytesPerToken / 1024),
        'prefill tokens/s': b.prefillTokensPerS,
        'break-even GB/s': fmt(b.breakEvenGBps, 3),
        'store loaded GB/s': load ? fmt(load.loadGBps, 2) : '–',
        'loading pays': load ? (load.loadGBps > b.breakEvenGBps ? 'yes' : 'no') : '–',
      };
    });
}

/** The whole result as terminal text. */
export function formatGpuBench(r: GpuBenchResult): string {
  const parts = [
    `bench:gpu — ${gpuRunPlace(r)}`,
    `\nPrefill (median of the timed runs):\n${table(gpuPrefillRows(r))}`,
    `\nDecode, one token:\n${table(gpuDecodeRows(r))}`,
    `\nSame weights, same tokens, ${r.backend} vs ${r.baseline}: max |Δlogit| ${r.agreement.length ? Math.max(...r.agreement.map((a) => a.maxAbsDiff)).toExponential(1) : '–'}`,
    r.ttftSkipped ? `\nTTFT with the Redis prefix cache: not measured (${r.ttftSkipped})` : `\nTTFT, a shared document then a short question, without and with the Redis prefix cache:\n${table(gpuTtftRows(r))}`,
    `\nBreak-even load bandwidth (loading the prefix's fp16 KV costs what computing it does):\n${table(gpuBreakEvenRows(r))}`,
    `\ntook ${r.durationS} s`,
  ];
  return parts.join('\n');
}
