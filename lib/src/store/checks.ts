import { InvalidInputError, ValueTooLargeError } from '../runtime/errors';
import type { BlockHash } from '../hashing/types';
import type { StoreEntry } from './types';

const BLOCK_HASH_RE = /^[0-9a-f]{64}$/;
/** Prefixes and namespaces: short ids that cannot break the key layout (`:`) or pin a slot (`{}`). */
const KEY_PART_RE = /^[A-Za-z0-9._-]{1,64}$/;
const BLOCK_HASH = 'a block hash (64 lowercase hex digits)';

import { MiB } from '../runtime/units';

export { MiB };

/** True for a well-formed block hash: exactly 64 lowercase hex digits. */
export function isBlockHash(value: unknown): value is BlockHash {
  return typeof value === 'string' && BLOCK_HASH_RE.test(value);
}

/** Throws `InvalidInputError` unless `hashes` is an array of 64-hex-digit lowercase block hashes. */
export function assertHashes(hashes: unknown, what = 'hashes'): asserts hashes is readonly BlockHash[] {
  if (!Array.isArray(hashes)) throw InvalidInputError.at(what, 'an array of block hashes', hashes);
  for (let i = 0; i < hashes.length; i++) {
    if (!isBlockHash(hashes[i])) throw InvalidInputError.at(`${what}[${i}]`, BLOCK_HASH, hashes[i]);
  }
}

/**
 * Checks a batch of entries and returns the values as `Buffer`s (zero-copy views of typed arrays).
 * Throws `ValueTooLargeError` if any value exceeds `maxValueBytes` — before anything is written.
 */
export function checkEntries(entries: unknown, maxValueBytes: number, storeName: string): Buffer[] {
  if (!Array.isArray(entries)) throw InvalidInputError.at('entries', 'an array of { hash, value }', entries);
  const values: Buffer[] = new Array(entries.length);
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as StoreEntry | undefined;
    if (e === null || typeof e !== 'object') throw InvalidInputError.at(`entries[${i}]`, '{ hash, value }', e);
    if (!isBlockHash(e.hash)) throw InvalidInputError.at(`entries[${i}].hash`, BLOCK_HASH, e.hash);
    const v = e.value as unknown;
    if (!(v instanceof Uint8Array)) throw InvalidInputError.at(`entries[${i}].value`, 'a Buffer or Uint8Array', v);
    const buf = Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    if (buf.length > maxValueBytes) {
      throw new ValueTooLargeError({
        path: `entries[${i}].value`,
        expected: `at most ${maxValueBytes} bytes per block (store '${storeName}')`,
        received: `${buf.length} bytes (block ${e.hash.slice(0, 12)}…)`,
        hint: 'Use smaller blocks (fewer tokens per block) or raise maxValueBytes.',
        limit: maxValueBytes,
        actual: buf.length,
      });
    }
    values[i] = buf;
  }
  return values;
}

/** Throws `InvalidInputError` unless `value` is a key prefix or namespace: 1–64 characters of `[A-Za-z0-9._-]`. */
export function assertKeyPart(value: unknown, what: string): asserts value is string {
  if (typeof value !== 'string' || !KEY_PART_RE.test(value)) throw InvalidInputError.at(what, '1–64 characters of [A-Za-z0-9._-]', value);
}

/** Throws `InvalidInputError` unless `value` is an integer ≥ 1 (≥ 0 with `allowZero`); `what` is its path. */
export function assertPositiveInt(value: unknown, what: string, { allowZero = false } = {}): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < (allowZero ? 0 : 1)) {
    throw InvalidInputError.at(what, `an integer ${allowZero ? '≥ 0' : '≥ 1'}`, value);
  }
}

const SIZE_RE = /^(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?$/i;

/** Parse a byte size: a number, or a string like `512kb`, `8MiB`, `2gb` (powers of 1024). */
export function parseByteSize(value: string | number, what: string): number {
  if (typeof value === 'number') {
    assertPositiveInt(value, what, { allowZero: true });
    return value;
  }
  const m = SIZE_RE.exec(value.trim());
  if (!m) throw InvalidInputError.at(what, 'a byte size like 8388608, 512kb or 8mib', value);
  const unit = (m[2] ?? 'b').toLowerCase()[0];
  const mult = unit === 'k' ? 1024 : unit === 'm' ? MiB : unit === 'g' ? 1024 * MiB : 1;
  return Math.floor(Number(m[1]) * mult);
}
