/** Exercises of notebook 03 (serialization). */
import { kvBytesPerToken } from '../../model/config';
import { getPreset } from '../../model/presets';
import { fp32ToFp16Bits } from '../../serde/fp16';
import type { Exercise } from './types';

export const EXERCISES_03: readonly Exercise[] = [
  { id: '03.1', question: 'How many bytes of values (no header) does one 16-token block of the default model take in fp16?', expected: () => 16 * kvBytesPerToken(getPreset('default'), 2), hint: 'Tokens × 2 (K and V) × layers × kv_heads × head_dim × 2 bytes.' },
  { id: '03.2', question: 'What are the 16 bits of 1.0 in IEEE half precision (a number, e.g. 0x3c00)?', expected: () => fp32ToFp16Bits(1.0), hint: 'Sign 0, exponent 15 (bias 15) in bits 14–10, mantissa 0.' },
];
