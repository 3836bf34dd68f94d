/** Exercises of notebook 00 (start here). */
import { backendReport } from '../../runtime/backend';
import type { Exercise } from './types';

export const EXERCISES_00: readonly Exercise[] = [
  { id: '00.1', question: 'Which TensorFlow.js backend is this kernel using (a string such as "cpu")?', expected: () => backendReport()?.backend, hint: 'The environment check table names it; `kv.backendReport()` returns it too.' },
  { id: '00.2', question: 'How many floating-point operations does one 512×512 by 512×512 matrix multiply take?', expected: () => 2 * 512 ** 3, hint: 'Each of the n² outputs needs n multiplications and n additions: 2·n³.' },
];
