/** Exercises of notebook 02 (prefix hashing). */
import { fullBlocks } from '../../hashing/block-size';
import type { Exercise } from './types';

export const EXERCISES_02: readonly Exercise[] = [
  { id: '02.1', question: 'How many full 16-token blocks does a 100-token prompt have (only full blocks are hashed)?', expected: () => fullBlocks(100, 16), hint: 'Integer division: the partial tail block is never cached.' },
  { id: '02.2', question: "Two prompts share their first 40 tokens and differ at token 41. With 16-token blocks, how many tokens of the second can be loaded from the first one's cache?", expected: () => Math.floor(40 / 16) * 16, hint: 'The match stops at the first block whose tokens differ; only whole blocks count.' },
];
