import { InvalidInputError, describeValue } from '../runtime/errors';
import type { BlockHash } from './types';

const BLOCK_HASH_RE = /^[0-9a-f]{64}$/;

/** True for a well-formed {@link BlockHash}: exactly 64 lowercase hex characters. */
export function isBlockHash(value: unknown): value is BlockHash {
  return typeof value === 'string' && BLOCK_HASH_RE.test(value);
}

/** Throw unless `value` is a well-formed block hash; `what` names it in the message. */
export function assertBlockHash(value: unknown, what: string): asserts value is BlockHash {
  if (!isBlockHash(value)) {
    throw new InvalidInputError(`${what} must be a block hash (64 lowercase hex characters), got ${describeValue(value)}`);
  }
}

/** Throw unless `value` is an integer in [min, max]. */
export function assertInt(value: unknown, what: string, min: number, max: number): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidInputError(`${what} must be an integer in [${min}, ${max}], got ${describeValue(value)}`);
  }
}

/** Throw unless `tokens` is array-like (an array or a typed array) — the shape every hashing entry point takes. */
export function assertTokenArray(tokens: unknown, what = 'tokens'): asserts tokens is ArrayLike<number> {
  const ok =
    Array.isArray(tokens) ||
    (ArrayBuffer.isView(tokens) && !(tokens instanceof DataView) && typeof (tokens as { length?: unknown }).length === 'number');
  if (!ok) throw new InvalidInputError(`${what} must be an array or typed array of token ids, got ${describeValue(tokens)}`);
}

/** The error for a token id outside [0, 2^32) or not an integer. */
export function badToken(index: number, value: unknown): InvalidInputError {
  return new InvalidInputError(`token ids must be integers in [0, 2^32); tokens[${index}] is ${describeValue(value)}`);
}

/**
 * Throw unless `s` survives a UTF-8 round trip. A lone surrogate would be encoded as U+FFFD, so two
 * different strings (two tenants' salts, two prompts) could hash the same: refuse them instead.
 */
export function assertWellFormedString(s: string, what: string): void {
  if (Buffer.from(s, 'utf8').toString('utf8') !== s) {
    throw new InvalidInputError(`${what} contains an unpaired UTF-16 surrogate and has no exact UTF-8 form`);
  }
}
