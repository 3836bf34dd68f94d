/**
 * Checks for the exercises at the end of each notebook: ✓, or what was wrong and a hint (only after a
 * wrong answer). Expected answers come from the library, never typed in. In CI the notebooks run with
 * the reference solutions (solutions/*.json) filled in and `KVLAB_EXERCISES_STRICT=1`, so a wrong or
 * missing answer fails the notebook: exercises cannot rot.
 */
import { isDeepStrictEqual } from 'node:util';
import { InvalidInputError } from '../../runtime/errors';
import { escapeHtml, sendDisplay } from '../../runtime/kernel';
import { SeededRng } from '../../runtime/rng';
import { EXERCISES } from './registry';
import type { CheckResult, CodeExercise, Exercise, ValueExercise } from './types';

function find(id: string): Exercise {
  const ex = EXERCISES.find((e) => e.id === id);
  if (!ex) throw InvalidInputError.at('id', `a known exercise (${EXERCISES.map((e) => e.id).join(', ')})`, id);
  return ex;
}

function matches(answer: unknown, expected: unknown, tolerance: number): boolean {
  if (typeof expected === 'number') {
    const a = typeof answer === 'string' && /^0x[0-9a-f]+$/i.test(answer.trim()) ? parseInt(answer, 16) : answer;
    if (typeof a !== 'number' || !Number.isFinite(a)) return false;
    return tolerance === 0 ? a === expected : Math.abs(a - expected) <= tolerance * Math.abs(expected);
  }
  if (typeof expected === 'string') return typeof answer === 'string' && answer.trim().toLowerCase() === expected.toLowerCase();
  return isDeepStrictEqual(answer, expected);
}

/** Whether missing or wrong answers throw (set in CI, where the reference solutions are filled in). */
function strict(): boolean {
  const v = process.env.KVLAB_EXERCISES_STRICT;
  return v !== undefined && v !== '' && v !== '0';
}

function show(result: CheckResult): void {
  const { ok, answered, message, id } = result;
  const html = `<div class="kvlab-exercise" style="padding:4px 8px;border-left:4px solid ${ok ? '#2a2' : '#c80'}">${escapeHtml(message)}</div>`;
  if (!sendDisplay({ 'text/html': html, 'text/plain': message })) console.log(message);
  if (strict() && !ok) throw new InvalidInputError({ path: `exercise ${id}`, expected: 'a right answer (strict mode)', received: answered ? 'a wrong answer' : 'no answer', hint: message });
}

/** Check a value answer without showing anything. `undefined` means "not answered yet". */
export function checkAnswer(id: string, answer: unknown): CheckResult {
  const ex = find(id);
  if (ex.kind === 'code') throw InvalidInputError.at('id', `a value exercise (${id} asks for a function: use checkCode)`, id);
  const answered = answer !== undefined;
  const ok = answered && matches(answer, (ex as ValueExercise).expected(), ex.tolerance ?? 0);
  const message = ok ? `✓ Exercise ${id}: right.` : answered ? `✗ Exercise ${id}: not yet. Hint: ${ex.hint}` : `Exercise ${id}: ${ex.question} (replace undefined with your answer)`;
  return { id, ok, answered, message };
}

/** Check a value answer and show ✓ or a hint. In strict mode (CI) a missing or wrong answer throws. */
export function check(id: string, answer: unknown): void {
  show(checkAnswer(id, answer));
}

function brief(value: unknown): string {
  const text = typeof value === 'bigint' ? `${value}n` : JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
  return text === undefined ? String(value) : text.length > 160 ? `${text.slice(0, 157)}…` : text;
}

/**
 * Run the learner's function and the library's on the exercise's seeded inputs, without showing
 * anything. A function that returns `undefined` on the first input is "not answered yet".
 */
export async function checkCodeAnswer(id: string, fn: unknown): Promise<CheckResult> {
  const ex = find(id);
  if (ex.kind !== 'code') throw InvalidInputError.at('id', `a code exercise (${id} asks for a value: use check)`, id);
  const code = ex as CodeExercise;
  const unanswered = { id, ok: false, answered: false, message: `Exercise ${id}: ${code.question} (write the function, then run this cell)` };
  if (typeof fn !== 'function') return unanswered;
  const same = code.same ?? isDeepStrictEqual;
  const cases = code.cases(new SeededRng(0x5eed));
  for (let i = 0; i < cases.length; i++) {
    const args = cases[i]!;
    const input = code.describe ? code.describe(args) : args.map(brief).join(', ');
    let got: unknown;
    try {
      got = await (fn as (...a: unknown[]) => unknown)(...args);
    } catch (err) {
      return { id, ok: false, answered: true, message: `✗ Exercise ${id}: your function threw on (${input}): ${(err as Error)?.message ?? String(err)}. Hint: ${code.hint}` };
    }
    if (i === 0 && got === undefined) return unanswered;
    const expected = await code.reference(...args);
    if (!same(got, expected)) {
      return { id, ok: false, answered: true, message: `✗ Exercise ${id}: on (${input}) the library gives ${brief(expected)}, yours ${brief(got)}. Hint: ${code.hint}` };
    }
  }
  return { id, ok: true, answered: true, message: `✓ Exercise ${id}: matches the library on all ${cases.length} inputs.` };
}

/** Check a code answer and show ✓ or the first input where it differs, with a hint. Strict mode throws. */
export async function checkCode(id: string, fn: unknown): Promise<void> {
  show(await checkCodeAnswer(id, fn));
}
