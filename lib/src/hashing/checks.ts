import { InvalidInputError } from '../runtime/errors';
import type { BlockHash } from './types';

const BLOCK_HASH_RE = /^[0-9a-f]{64}$/;

/** True for a well-formed {@link BlockHash}: exactly 64 lowercase hex characters. */
export function isBlockHash(value: unknown): value is BlockHash {
  return typeof value === 'string' && BLOCK_HASH_RE.test(value);
}

/** Throw unless `value` is a well-formed block hash; `what` is its path in the error's details. */
export function assertBlockHash(value: unknown, what: string): asserts value is BlockHash {
  if (!isBlockHash(value)) throw InvalidInputError.at(what, 'a block hash (64 lowercase hex characters)', value);
}

/** Throw unless `value` is an integer in [min, max]; `what` is its path in the error's details. */
export function assertInt(value: unknown, what: string, min: number, max: number): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw InvalidInputError.at(what, `an integer in [${min}, ${max}]`, value);
  }
}

/** Throw unless `tokens` is array-like (an array or a typed array) — the shape every hashing entry point takes. */
export function assertTokenArray(tokens: unknown, what = 'tokens'): asserts tokens is ArrayLike<number> {
  const ok =
    Array.isArray(tokens) ||
    (ArrayBuffer.isView(tokens) && !(tokens instanceof DataView) && typeof (tokens as { length?: unknown }).length === 'number');
  if (!ok) throw InvalidInputError.at(what, 'an array or typed array of token ids', tokens);
}

/** The error for a token id outside [0, 2^32) or not an integer, at `tokens[index]`. */
export function badToken(index: number, value: unknown): InvalidInputError {
  return InvalidInputError.at(`tokens[${index}]`, 'a token id: an integer in [0, 2^32)', value);
}

/**
 * Throw unless `s` survives a UTF-8 round trip. A lone surrogate would be encoded as U+FFFD, so two
 * different strings (two tenants' salts, two prompts) could hash the same: refuse them instead.
 */
export function assertWellFormedString(s: string, what: string): void {
  if (Buffer.from(s, 'utf8').toString('utf8') !== s) {
    throw new InvalidInputError({
      path: what,
      expected: 'a well-formed string (one with an exact UTF-8 form)',
      received: 'a string with an unpaired UTF-16 surrogate',
      hint: 'Two strings that differ only in lone surrogates would encode to the same bytes, so they are refused.',
    });
  }
}
