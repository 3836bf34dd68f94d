import { createHash } from 'node:crypto';
import { InvalidInputError } from '../runtime/errors';
import { assertWellFormedString } from './checks';
import { assertNamespace, type Namespace } from './namespace';
import type { BlockPresence } from './types';

/*
 * The seed project's approach, kept as a baseline to compare against: one key per whole prompt
 * string. A hit needs the identical string — one changed character, a new turn appended, or another
 * user's question after the same system prompt is a full miss, where block-chained hashes would still
 * reuse the shared prefix.
 */

/** Domain tag, so an exact-prompt key can never equal a block hash or namespace hash. */
export const EXACT_PROMPT_DOMAIN = 'kvcache-lab/exact-prompt/v1';

/**
 * SHA-256 over the whole prompt → 64 hex characters:
 * `SHA-256( "kvcache-lab/exact-prompt/v1" ‖ 0x00 ‖ (0x01 ‖ namespace hash (32 bytes) | 0x00) ‖ UTF-8 prompt )`.
 * Pass the namespace so the baseline, too, never mixes models, dtypes or tenants.
 */
export function exactPromptKey(prompt: string, namespace?: Namespace): string {
  if (typeof prompt !== 'string' || prompt.length === 0) {
    throw InvalidInputError.at('prompt', 'a non-empty string', prompt);
  }
  assertWellFormedString(prompt, 'prompt');
  const h = createHash('sha256').update(EXACT_PROMPT_DOMAIN, 'utf8').update(Buffer.from([0]));
  if (namespace === undefined) {
    h.update(Buffer.from([0]));
  } else {
    assertNamespace(namespace);
    h.update(Buffer.from([1])).update(Buffer.from(namespace.hash, 'hex'));
  }
  return h.update(prompt, 'utf8').digest('hex');
}

export interface ExactPromptMatch {
  key: string;
  /** True only when this exact prompt string is stored. */
  hit: boolean;
  roundTrips: number;
}

/** Look the whole prompt up: all or nothing, one `has` call. */
export async function exactPromptLookup(presence: BlockPresence, prompt: string, namespace?: Namespace): Promise<ExactPromptMatch> {
  const key = exactPromptKey(prompt, namespace);
  const answer = await presence.has([key]);
  if (!Array.isArray(answer) || answer.length !== 1 || typeof answer[0] !== 'boolean') {
    throw InvalidInputError.at('presence.has()', 'one boolean for one key', answer);
  }
  return { key, hit: answer[0], roundTrips: 1 };
}
