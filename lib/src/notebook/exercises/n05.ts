/** Exercises of notebook 05 (benchmarks). */
import { breakEvenGBps, prefillWork, projectCost } from '../../bench/cost';
import { getPreset } from '../../model/presets';
import type { Exercise } from './types';

/** Attention work left to compute when the first `cached` of `prompt` tokens are loaded (model-independent). */
const attentionLeft = (prompt: number, cached: number): number =>
  prefillWork(getPreset('llama3-8b'), prompt, cached).attentionFlops / prefillWork(getPreset('llama3-8b'), prompt).attentionFlops;

export const EXERCISES_05: readonly Exercise[] = [
  {
    id: '05.1',
    question: "A 1 000-token prompt has its first 900 tokens' KV in the cache. Causal attention: the token at position p meets p + 1 keys. What fraction of the prefill's attention work (query–key pairs) is left to compute (0–1)?",
    expected: () => attentionLeft(1000, 900),
    tolerance: 1e-3,
    hint: 'Count pairs: positions 900…999 meet 901…1000 keys; the whole prompt meets 1 + 2 + … + 1000 = 1000·1001/2. It is not 0.1: the last tokens are the most expensive ones.',
  },
  {
    id: '05.2',
    question: 'With loads overlapped with compute (GPU time = max(compute of the rest, load)), Llama-3-8B, 4 096-token prompts and 90 % reuse: below what store bandwidth (GB/s) is recomputing everything cheaper than loading?',
    expected: () => 0.9 * projectCost({ model: 'llama3-8b', promptTokens: 4096, reuseFraction: 0.9, dollarsPerGpuHour: 1, storeGBps: 1 }).breakevenGBps,
    tolerance: 0.01,
    hint: 'Loading wins while loading 90 % of the KV takes less time than recomputing 100 % of the prompt: reuse × break-even bandwidth (kv.projectCost(...).breakevenGBps gives the break-even).',
  },
  {
    kind: 'code',
    id: '05.3',
    question: 'Write breakEvenGBps(kvBytesPerToken, prefillTokensPerSecond): the store bandwidth in GB/s (10^9 bytes per second) at which loading a token\'s KV takes as long as prefilling it.',
    cases: (rng) => [
      [131072, 32641],
      [524288, 29956],
      ...Array.from({ length: 6 }, () => [1024 * (1 + rng.int(1024)), 100 + rng.int(100_000)]),
    ],
    reference: (bytes, speed) => breakEvenGBps(bytes as number, speed as number),
    same: (got, expected) => typeof got === 'number' && Math.abs(got - (expected as number)) <= 1e-9 * Math.abs(expected as number),
    describe: ([bytes, speed]) => `kvBytesPerToken ${bytes}, prefillTokensPerSecond ${speed}`,
    hint: 'Recomputing takes 1 / speed seconds per token; loading takes bytes / bandwidth. Equal when bandwidth = bytes × speed (in bytes/s): divide by 1e9 for GB/s.',
  },
];
