/** Every exercise of the course, by notebook (each notebook's exercises live in its own file). */
import { EXERCISES_00 } from './n00';
import { EXERCISES_01 } from './n01';
import { EXERCISES_02 } from './n02';
import { EXERCISES_03 } from './n03';
import { EXERCISES_04 } from './n04';
import { EXERCISES_05 } from './n05';
import type { Exercise } from './types';

export const EXERCISES: readonly Exercise[] = [...EXERCISES_00, ...EXERCISES_01, ...EXERCISES_02, ...EXERCISES_03, ...EXERCISES_04, ...EXERCISES_05];
