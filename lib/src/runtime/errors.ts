/**
 * Errors thrown by kvcache-lab. Every error carries a stable `code` that callers can switch on
 * (the message is for people and may change; the code will not).
 */
export type KVLabErrorCode =
  | 'INVALID_INPUT'
  | 'MODEL_MISMATCH'
  | 'CORRUPT_ENTRY'
  | 'UNSUPPORTED_FORMAT'
  | 'STORE_UNAVAILABLE'
  | 'VALUE_TOO_LARGE'
  | 'BACKEND_UNAVAILABLE'
  | 'CONFIG_ERROR';

export class KVLabError extends Error {
  readonly code: KVLabErrorCode;
  constructor(code: KVLabErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** An argument was of the wrong type, out of range, empty, NaN, … */
export class InvalidInputError extends KVLabError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INVALID_INPUT', message, options);
  }
}

/** A KV cache or checkpoint belongs to another model (different fingerprint, shape or length). */
export class ModelMismatchError extends KVLabError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('MODEL_MISMATCH', message, options);
  }
}

/** Stored bytes failed validation (checksum, truncation, header fields). Treated as a cache miss by stores. */
export class CorruptEntryError extends KVLabError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CORRUPT_ENTRY', message, options);
  }
}

/** A format version, dtype or codec this build does not know. */
export class UnsupportedFormatError extends KVLabError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('UNSUPPORTED_FORMAT', message, options);
  }
}

/** The backing store could not be reached in time. Stores turn this into a miss plus a counted fallback. */
export class StoreUnavailableError extends KVLabError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('STORE_UNAVAILABLE', message, options);
  }
}

/** A value is larger than the store accepts. */
export class ValueTooLargeError extends KVLabError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('VALUE_TOO_LARGE', message, options);
  }
}

/** A requested TensorFlow.js backend could not be loaded. */
export class BackendUnavailableError extends KVLabError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('BACKEND_UNAVAILABLE', message, options);
  }
}

/** A configuration value (environment variable, options object, config.json) is invalid. */
export class ConfigError extends KVLabError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CONFIG_ERROR', message, options);
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
