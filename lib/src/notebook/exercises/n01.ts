/** Exercises of notebook 01 (why the KV cache matters). */
import { kvBytesPerToken } from '../../model/config';
import { getPreset } from '../../model/presets';
import type { Exercise } from './types';

export const EXERCISES_01: readonly Exercise[] = [
  { id: '01.1', question: 'How many bytes of KV does one token of Llama-3-8B need in fp16?', expected: () => kvBytesPerToken(getPreset('llama3-8b'), 2), hint: '2 (K and V) × layers × kv_heads × head_dim × 2 bytes; the shapes are in kv.MODEL_PRESETS["llama3-8b"].' },
  { id: '01.2', question: 'How many GiB of fp16 KV do 100 concurrent sessions of 8 192 tokens need on Llama-3-70B?', expected: () => (100 * 8192 * kvBytesPerToken(getPreset('llama3-70b'), 2)) / 2 ** 30, tolerance: 0.01, hint: 'Bytes per token × tokens per session × sessions, divided by 2^30.' },
];
