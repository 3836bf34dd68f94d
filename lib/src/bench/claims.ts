/**
 * The seed project's headline claims, set against what our own run measured. The claims are
 * quoted as the seed stated them; every "measured" value comes from the results passed in.
 */
import type { BenchmarkResults } from './suite';
import type { CostProjection } from './cost';

export const SEED_CLAIMS = {
  latencySpeedup: 11,
  throughputSpeedup: 15,
  costReduction: 0.95,
} as const;

export interface ClaimRow {
  claim: string;
  seed: string;
  measured: string;
  verdict: string;
}

/** Compare the seed's claims with the best prefix-cache strategy on each workload of `results`. */
export function compareWithSeedClaims(results: BenchmarkResults, cost?: CostProjection): ClaimRow[] {
  const rows: ClaimRow[] = [];
  for (const w of results.workloads) {
    const base = w.summaries.find((s) => s.strategy === 'no-cache');
    const cached = w.summaries.filter((s) => s.strategy.startsWith('prefix') || s.strategy === 'tiered');
    if (!base || cached.length === 0) continue;
    const best = cached.reduce((a, b) => (a.ttftP50Ms < b.ttftP50Ms ? a : b));
    const speedup = base.ttftP50Ms / best.ttftP50Ms;
    const tput = best.throughputTokensPerS / base.throughputTokensPerS;
    rows.push({
      claim: `${w.workload}: median TTFT speed-up`,
      seed: `${SEED_CLAIMS.latencySpeedup}×`,
      measured: `${speedup.toFixed(1)}× (${best.strategy})`,
      verdict: speedup >= SEED_CLAIMS.latencySpeedup ? 'supported here' : 'not reached here',
    });
    rows.push({
      claim: `${w.workload}: throughput gain`,
      seed: `${SEED_CLAIMS.throughputSpeedup}×`,
      measured: `${tput.toFixed(1)}× (${best.strategy})`,
      verdict: tput >= SEED_CLAIMS.throughputSpeedup ? 'supported here' : 'not reached here',
    });
  }
  if (cost) {
    rows.push({
      claim: `prefill cost cut (${cost.inputs.model}, ${cost.inputs.promptTokens} tokens, projected)`,
      seed: `${SEED_CLAIMS.costReduction * 100} %`,
      measured: `${(cost.saving * 100).toFixed(0)} % at ${(cost.inputs.reuseFraction * 100).toFixed(0)} % reuse, ${cost.inputs.storeGBps} GB/s store`,
      verdict: cost.saving >= SEED_CLAIMS.costReduction ? 'supported under these inputs' : 'not reached under these inputs',
    });
  }
  return rows;
}
