/** Exercises of notebook 05 (benchmarks). */
import { projectCost } from '../../bench/cost';
import type { Exercise } from './types';

export const EXERCISES_05: readonly Exercise[] = [
  { id: '05.1', question: 'If a cache serves 90 % of prompt tokens, what fraction of the prefill compute is left (0–1)?', expected: () => 0.1, tolerance: 1e-9, hint: 'Only the uncached tokens are prefilled.' },
  { id: '05.2', question: 'At what store bandwidth (GB/s) does loading Llama-3-8B KV break even with recomputing it on an H100, for 4 096-token prompts?', expected: () => projectCost({ model: 'llama3-8b', promptTokens: 4096, reuseFraction: 0.5, dollarsPerGpuHour: 1, storeGBps: 1 }).breakevenGBps, tolerance: 0.01, hint: 'KV bytes per token × prefill tokens per second; kv.projectCost(...).breakevenGBps computes it.' },
];
