/**
 * Errors thrown by kvcache-lab. Every error carries a stable `code` that callers can switch on, and
 * structured `details` (which input, what was expected, what was received) from which the message
 * is built — in the style of zod's issues: act on the data, show the message to people.
 */
/** The stable error codes: switch on `error.code`, never on the message. */
export type KVLabErrorCode =
  | 'INVALID_INPUT'
  | 'MODEL_MISMATCH'
  | 'CORRUPT_ENTRY'
  | 'MISPLACED_ENTRY'
  | 'UNAUTHENTICATED_ENTRY'
  | 'UNSUPPORTED_FORMAT'
  | 'STORE_UNAVAILABLE'
  | 'VALUE_TOO_LARGE'
  | 'BACKEND_UNAVAILABLE'
  | 'CONFIG_ERROR';

/** What went wrong, as data. Every field is optional; an error states what it knows. */
export interface ErrorDetails {
  /**
   * The input that was wrong, as a path a caller can map to its own data: an argument or option
   * (`blockSize`, `options.ttlSeconds`), an element (`entries[3].hash`), a stored field
   * (`header.dtype`) or an environment variable (`KVLAB_BACKEND`).
   */
  readonly path?: string;
  /** What was expected, in words: `an integer in [1, 4096]`. */
  readonly expected?: string;
  /** What was received, briefly ({@link describeValue}): `0`, `a string of length 70`. */
  readonly received?: string;
  /** What to do about it, when there is something to say. */
  readonly hint?: string;
  /** Numbers a caller may act on, e.g. `{ limit: 8388608, actual: 9000000 }` for VALUE_TOO_LARGE. */
  readonly limit?: number;
  readonly actual?: number;
}

/** Details plus, optionally, the message itself (else it is built from the details). */
export type ErrorInit = string | (ErrorDetails & { message?: string });

/** The message an error shows for its details: `path: expected …, received …. hint`. */
export function formatDetails(d: ErrorDetails): string {
  const what = [d.expected !== undefined ? `expected ${d.expected}` : '', d.received !== undefined ? `received ${d.received}` : '']
    .filter(Boolean)
    .join(', ');
  const head = d.path !== undefined ? (what ? `${d.path}: ${what}` : d.path) : what;
  return d.hint ? (head ? `${head}. ${d.hint}` : d.hint) : head;
}

/** The base of every error kvcache-lab throws: a stable `code`, structured `details`, a message built from them. */
export class KVLabError extends Error {
  readonly code: KVLabErrorCode;
  readonly details: ErrorDetails;
  constructor(code: KVLabErrorCode, init: ErrorInit, options?: { cause?: unknown }) {
    const { message, ...details } = typeof init === 'string' ? { message: init } : init;
    super(message ?? formatDetails(details), options);
    this.code = code;
    this.details = Object.freeze(details);
    this.name = new.target.name;
  }
}

/** An argument was of the wrong type, out of range, empty, NaN, … */
export class InvalidInputError extends KVLabError {
  constructor(init: ErrorInit, options?: { cause?: unknown }) {
    super('INVALID_INPUT', init, options);
  }

  /** `path` should have been `expected` but was `value` (described, never dumped). */
  static at(path: string, expected: string, value: unknown, hint?: string): InvalidInputError {
    return new InvalidInputError({ path, expected, received: describeValue(value), ...(hint ? { hint } : {}) });
  }
}

/** A KV cache or checkpoint belongs to another model (different fingerprint, shape or length). */
export class ModelMismatchError extends KVLabError {
  constructor(init: ErrorInit, options?: { cause?: unknown }) {
    super('MODEL_MISMATCH', init, options);
  }
}

/** Stored bytes failed validation (checksum, truncation, header fields). Treated as a cache miss by stores. */
export class CorruptEntryError extends KVLabError {
  constructor(init: ErrorInit, options?: { cause?: unknown }) {
    super('CORRUPT_ENTRY', init, options);
  }
}

/**
 * A valid entry found under the wrong key: it names another block, token range or model than the
 * one asked for (a bug, a namespace mix-up, a bad restore, or a write by someone else). A miss.
 */
export class MisplacedEntryError extends KVLabError {
  constructor(init: ErrorInit, options?: { cause?: unknown }) {
    super('MISPLACED_ENTRY', init, options);
  }
}

/**
 * An entry whose MAC is missing or wrong while the reader holds the cache's secret: it was not
 * written by a holder of the secret (or was changed since). A miss; its bytes are never used.
 */
export class UnauthenticatedEntryError extends KVLabError {
  constructor(init: ErrorInit, options?: { cause?: unknown }) {
    super('UNAUTHENTICATED_ENTRY', init, options);
  }
}

/** A format version, dtype or codec this build does not know. */
export class UnsupportedFormatError extends KVLabError {
  constructor(init: ErrorInit, options?: { cause?: unknown }) {
    super('UNSUPPORTED_FORMAT', init, options);
  }
}

/** The backing store could not be reached in time. Stores turn this into a miss plus a counted fallback. */
export class StoreUnavailableError extends KVLabError {
  constructor(init: ErrorInit, options?: { cause?: unknown }) {
    super('STORE_UNAVAILABLE', init, options);
  }
}

/** A value is larger than the store accepts (`details.limit`, `details.actual` in bytes). */
export class ValueTooLargeError extends KVLabError {
  constructor(init: ErrorInit, options?: { cause?: unknown }) {
    super('VALUE_TOO_LARGE', init, options);
  }
}

/** A requested TensorFlow.js backend could not be loaded. */
export class BackendUnavailableError extends KVLabError {
  constructor(init: ErrorInit, options?: { cause?: unknown }) {
    super('BACKEND_UNAVAILABLE', init, options);
  }
}

/** A configuration value (environment variable, options object, config.json) is invalid. */
export class ConfigError extends KVLabError {
  constructor(init: ErrorInit, options?: { cause?: unknown }) {
    super('CONFIG_ERROR', init, options);
  }
}

/** Describe a value for an error message without dumping large objects. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name} of ${value.byteLength} bytes`;
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (typeof value === 'string') return value.length > 40 ? `a string of length ${value.length}` : JSON.stringify(value);
  return typeof value;
}

/** The first line of an error's message (at most `maxLength` characters), for reports and tables. */
export function errorText(err: unknown, maxLength = 300): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0]!.slice(0, maxLength);
}
