/** Small statistics helpers for benchmark summaries. */
import { round } from '../runtime/units';

/** The q-quantile (0–1) of values, by linear interpolation between order statistics. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (pos - lo);
}

/** The median (NaN for no values). */
export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/** Timed repetitions of one transfer of a known number of bytes. */
export interface TimingSummary {
  samplesMs: number[];
  medianMs: number;
  minMs: number;
  /** Bytes moved per second at the median, in GB/s (10^9 bytes). */
  gbps: number;
}

const round3 = (x: number): number => round(x, 3);

/** Median, fastest sample and GB/s of timings that each moved `bytes` (all zero for no samples). */
export function summarizeTimings(samplesMs: readonly number[], bytes: number): TimingSummary {
  if (samplesMs.length === 0) return { samplesMs: [], medianMs: 0, minMs: 0, gbps: 0 };
  const med = median(samplesMs);
  return {
    samplesMs: samplesMs.map(round3),
    medianMs: round3(med),
    minMs: round3(Math.min(...samplesMs)),
    gbps: round3(bytes / (med / 1000) / 1e9),
  };
}

export function sum(values: readonly number[]): number {
  let s = 0;
  for (const v of values) s += v;
  return s;
}
