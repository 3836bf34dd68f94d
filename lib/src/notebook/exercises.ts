/**
 * Exercises at the end of each notebook, with checks that tell the learner whether an answer is
 * right and give a hint when it is not. Expected answers are computed from the library, never
 * typed in. In CI the notebooks run with the reference solutions (solutions/exercises.json) filled
 * in and `KVLAB_EXERCISES_STRICT=1`, so a wrong or missing answer fails the notebook: exercises
 * cannot rot.
 */
import { kvBytesPerToken } from '../model/config';
import { getPreset } from '../model/presets';
import { fullBlocks } from '../hashing/block-size';
import { fp32ToFp16Bits } from '../serde/fp16';
import { projectCost } from '../bench/cost';
import { backendReport } from '../runtime/backend';
import { InvalidInputError } from '../runtime/errors';
import { escapeHtml, sendDisplay } from '../runtime/kernel';

export interface Exercise {
  id: string;
  question: string;
  /** The right answer, computed from the library. */
  expected(): unknown;
  /** Relative tolerance for numeric answers. @default 0 (exact) */
  tolerance?: number;
  hint: string;
}

const defaultModel = () => getPreset('default');

export const EXERCISES: readonly Exercise[] = [
  { id: '00.1', question: 'Which TensorFlow.js backend is this kernel using (a string such as "cpu")?', expected: () => backendReport()?.backend, hint: 'The environment check table names it; `lab.backendReport()` returns it too.' },
  { id: '00.2', question: 'How many floating-point operations does one 512×512 by 512×512 matrix multiply take?', expected: () => 2 * 512 ** 3, hint: 'Each of the n² outputs needs n multiplications and n additions: 2·n³.' },
  { id: '01.1', question: 'How many bytes of KV does one token of Llama-3-8B need in fp16?', expected: () => kvBytesPerToken(getPreset('llama3-8b'), 2), hint: '2 (K and V) × layers × kv_heads × head_dim × 2 bytes; the shapes are in lab.MODEL_PRESETS["llama3-8b"].' },
  { id: '01.2', question: 'How many GiB of fp16 KV do 100 concurrent sessions of 8 192 tokens need on Llama-3-70B?', expected: () => (100 * 8192 * kvBytesPerToken(getPreset('llama3-70b'), 2)) / 2 ** 30, tolerance: 0.01, hint: 'Bytes per token × tokens per session × sessions, divided by 2^30.' },
  { id: '02.1', question: 'How many full 16-token blocks does a 100-token prompt have (only full blocks are hashed)?', expected: () => fullBlocks(100, 16), hint: 'Integer division: the partial tail block is never cached.' },
  { id: '02.2', question: 'Two prompts share their first 40 tokens and differ at token 41. With 16-token blocks, how many tokens of the second can be loaded from the first one\'s cache?', expected: () => Math.floor(40 / 16) * 16, hint: 'The match stops at the first block whose tokens differ; only whole blocks count.' },
  { id: '03.1', question: 'How many bytes of values (no header) does one 16-token block of the default model take in fp16?', expected: () => 16 * kvBytesPerToken(defaultModel(), 2), hint: 'Tokens × 2 (K and V) × layers × kv_heads × head_dim × 2 bytes.' },
  { id: '03.2', question: 'What are the 16 bits of 1.0 in IEEE half precision (a number, e.g. 0x3c00)?', expected: () => fp32ToFp16Bits(1.0), hint: 'Sign 0, exponent 15 (bias 15) in bits 14–10, mantissa 0.' },
  { id: '04.1', question: 'Which Redis maxmemory-policy makes writes fail once memory is full (so the cache stops storing)?', expected: () => 'noeviction', hint: 'It is the policy that evicts nothing; the health check warns about it.' },
  { id: '04.2', question: 'With the default key prefix, what is the Redis key of block hash "ab…" (use "ab") in namespace "demo"?', expected: () => 'kvlab:demo:ab', hint: 'Keys are <prefix>:<namespace>:<blockhash>; the default prefix is kvlab.' },
  { id: '05.1', question: 'If a cache serves 90 % of prompt tokens, what fraction of the prefill compute is left (0–1)?', expected: () => 0.1, tolerance: 1e-9, hint: 'Only the uncached tokens are prefilled.' },
  { id: '05.2', question: 'At what store bandwidth (GB/s) does loading Llama-3-8B KV break even with recomputing it on an H100, for 4 096-token prompts?', expected: () => projectCost({ model: 'llama3-8b', promptTokens: 4096, reuseFraction: 0.5, dollarsPerGpuHour: 1, storeGBps: 1 }).breakevenGBps, tolerance: 0.01, hint: 'KV bytes per token × prefill tokens per second; lab.projectCost(...).breakevenGBps computes it.' },
];

export interface CheckResult {
  id: string;
  ok: boolean;
  answered: boolean;
  message: string;
}

function matches(answer: unknown, expected: unknown, tolerance: number): boolean {
  if (typeof expected === 'number') {
    const a = typeof answer === 'string' && /^0x[0-9a-f]+$/i.test(answer.trim()) ? parseInt(answer, 16) : answer;
    if (typeof a !== 'number' || !Number.isFinite(a)) return false;
    return tolerance === 0 ? a === expected : Math.abs(a - expected) <= tolerance * Math.abs(expected);
  }
  if (typeof expected === 'string') return typeof answer === 'string' && answer.trim().toLowerCase() === expected.toLowerCase();
  return answer === expected;
}

/** Whether missing or wrong answers throw (set in CI, where the reference solutions are filled in). */
function strict(): boolean {
  const v = process.env.KVLAB_EXERCISES_STRICT;
  return v !== undefined && v !== '' && v !== '0';
}

/** Check the answer to exercise `id` without showing anything. `undefined` means "not answered yet". */
export function checkAnswer(id: string, answer: unknown): CheckResult {
  const ex = EXERCISES.find((e) => e.id === id);
  if (!ex) throw new InvalidInputError(`unknown exercise ${JSON.stringify(id)}; known: ${EXERCISES.map((e) => e.id).join(', ')}`);
  const answered = answer !== undefined;
  const ok = answered && matches(answer, ex.expected(), ex.tolerance ?? 0);
  const message = ok ? `✓ Exercise ${id}: right.` : answered ? `✗ Exercise ${id}: not yet. Hint: ${ex.hint}` : `Exercise ${id}: ${ex.question} (replace undefined with your answer). Hint: ${ex.hint}`;
  return { id, ok, answered, message };
}

/**
 * Check the answer to exercise `id` and show ✓ or a hint. Returns nothing, so a cell ending in
 * `check(…)` prints nothing else. In strict mode (CI) a missing or wrong answer throws.
 */
export function check(id: string, answer: unknown): void {
  const { ok, answered, message } = checkAnswer(id, answer);
  if (!sendDisplay({ 'text/html': `<div class="kvlab-exercise" style="padding:4px 8px;border-left:4px solid ${ok ? '#2a2' : '#c80'}">${escapeHtml(message)}</div>`, 'text/plain': message })) {
    console.log(message);
  }
  if (strict() && !ok) throw new InvalidInputError(`exercise ${id}: ${answered ? 'wrong answer' : 'no answer'} in strict mode`);
}
