import type { SeededRng } from '../../runtime/rng';

/** An exercise answered with a value (a number, a string), checked against the library's answer. */
export interface ValueExercise {
  kind?: 'value';
  id: string;
  question: string;
  /** The right answer, computed from the library (never typed in). */
  expected(): unknown;
  /** Relative tolerance for numeric answers. @default 0 (exact) */
  tolerance?: number;
  /** Shown after a wrong answer only. */
  hint: string;
}

/**
 * An exercise answered with code: the learner writes a function (a piece of the mechanism) and the
 * check runs it and the library's own implementation on the same seeded random inputs.
 */
export interface CodeExercise {
  kind: 'code';
  id: string;
  question: string;
  /** Argument lists to try, drawn from `rng` (seeded: every run tries the same inputs). */
  cases(rng: SeededRng): unknown[][];
  /** The library's answer for one argument list. */
  reference(...args: unknown[]): unknown;
  /** Whether the learner's answer matches the library's. @default deep strict equality */
  same?(got: unknown, expected: unknown): boolean;
  /** A short description of an argument list for the message after a wrong answer. */
  describe?(args: unknown[]): string;
  /** Shown after a wrong answer only. */
  hint: string;
}

export type Exercise = ValueExercise | CodeExercise;

export interface CheckResult {
  id: string;
  ok: boolean;
  answered: boolean;
  message: string;
}
