export type { Exercise, ValueExercise, CodeExercise, CheckResult } from './types';
export { EXERCISES } from './registry';
export { check, checkAnswer, checkCode, checkCodeAnswer } from './check';
