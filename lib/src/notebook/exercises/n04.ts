/** Exercises of notebook 04 (the Redis cache). */
import type { Exercise } from './types';

export const EXERCISES_04: readonly Exercise[] = [
  { id: '04.1', question: 'Which Redis maxmemory-policy makes writes fail once memory is full (so the cache stops storing)?', expected: () => 'noeviction', hint: 'It is the policy that evicts nothing; the health check warns about it.' },
  { id: '04.2', question: 'With the default key prefix, what is the Redis key of block hash "ab…" (use "ab") in namespace "demo"?', expected: () => 'kvlab:demo:ab', hint: 'Keys are <prefix>:<namespace>:<blockhash>; the default prefix is kvlab.' },
];
