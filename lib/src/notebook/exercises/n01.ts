/** Exercises of notebook 01 (why the KV cache matters). */
import { kvBytesPerToken } from '../../model/config';
import { getPreset } from '../../model/presets';
import { initBackend, tf } from '../../runtime/backend';
import type { SeededRng } from '../../runtime/rng';
import type { Exercise } from './types';

/** Largest |difference| accepted between a learner's attention weights and the library's (float32) ones. */
export const ATTENTION_WEIGHTS_TOLERANCE = 1e-5;

/** One decode step's attention weights as the model computes them: softmax(q·kᵀ/√d) with tfjs, in float32. */
async function attentionWeightsReference(query: number[], keys: number[][]): Promise<number[]> {
  await initBackend();
  const d = query.length;
  const weights = tf.tidy(() => tf.softmax(tf.div(tf.matMul(tf.tensor2d([query]), tf.tensor2d(keys), false, true), Math.sqrt(d))));
  try {
    return Array.from(await weights.data());
  } finally {
    weights.dispose();
  }
}

function sameWeights(got: unknown, expected: unknown): boolean {
  const want = expected as number[];
  if (got === null || typeof got !== 'object' || typeof (got as ArrayLike<number>).length !== 'number') return false;
  const list = Array.from(got as ArrayLike<unknown>);
  return list.length === want.length && list.every((w, j) => typeof w === 'number' && Math.abs(w - want[j]!) <= ATTENTION_WEIGHTS_TOLERANCE);
}

export const EXERCISES_01: readonly Exercise[] = [
  { id: '01.1', question: 'How many bytes of KV does one token of Llama-3-8B need in fp16?', expected: () => kvBytesPerToken(getPreset('llama3-8b'), 2), hint: '2 (K and V) × layers × kv_heads × head_dim × 2 bytes; the shapes are in kv.MODEL_PRESETS["llama3-8b"].' },
  { id: '01.2', question: 'How many GiB of fp16 KV do 100 concurrent sessions of 8 192 tokens need on Llama-3-70B?', expected: () => (100 * 8192 * kvBytesPerToken(getPreset('llama3-70b'), 2)) / 2 ** 30, tolerance: 0.01, hint: 'Bytes per token × tokens per session × sessions, divided by 2^30.' },
  {
    kind: 'code',
    id: '01.3',
    question: 'Write attentionWeights(query, keys): the weights one decode step gives the cached keys, softmax over j of query·keys[j]/√d (it must work for large scores too).',
    cases: (rng: SeededRng) =>
      // (head dim, cached keys, largest |entry|): the last two cases give scores far beyond exp's range.
      [[4, 1, 1], [4, 3, 1], [8, 6, 2], [16, 12, 3], [16, 8, 60], [32, 5, 40]].map(([d, n, scale]) => {
        const vector = (): number[] => Array.from({ length: d! }, () => rng.uniform(-scale!, scale!));
        return [vector(), Array.from({ length: n! }, vector)];
      }),
    reference: (query, keys) => attentionWeightsReference(query as number[], keys as number[][]),
    same: sameWeights,
    describe: ([query, keys]) => {
      const q = query as number[];
      const biggest = Math.max(...(keys as number[][]).flat().concat(q).map(Math.abs));
      return `a query of ${q.length} numbers, ${(keys as number[][]).length} cached keys, entries up to ±${biggest.toFixed(1)}`;
    },
    hint: 'Score each key with the dot product divided by Math.sqrt(query.length); subtract the largest score before Math.exp (softmax does not change, exp no longer overflows), then divide each exp by their sum.',
  },
];
