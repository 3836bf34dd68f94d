import { createHash } from 'node:crypto';
import { InvalidInputError } from '../runtime/errors';
import { DEFAULT_BLOCK_SIZE, assertBlockSize } from './block-size';
import { assertInt, assertWellFormedString, isBlockHash } from './checks';
import type { BlockHash } from './types';

/**
 * Version of the canonical namespace encoding below. Bump it whenever the encoding or the block hash
 * changes: every hash then changes too, so old and new entries can never be confused.
 */
export const NAMESPACE_ENCODING_VERSION = 1;

/** Domain tag that starts the encoding, so a namespace hash can never equal a hash of anything else. */
export const NAMESPACE_DOMAIN = 'kvcache-lab/namespace';

/** Hex characters of the namespace hash kept in {@link Namespace.id} (64 bits: store keys stay short). */
export const NAMESPACE_ID_LENGTH = 16;

/** How the KV tensors of one model are split across workers; each rank stores its own shard. */
export interface KVLayout {
  /** This worker's tensor-parallel rank, in [0, tpSize). @default 0 */
  tpRank?: number;
  /** Number of tensor-parallel workers the KV heads are split over. @default 1 */
  tpSize?: number;
}

/**
 * Everything that must match for two workers to share a cached KV block. Any difference gives a
 * different namespace hash, hence different block hashes: entries of other models, dtypes, formats,
 * block sizes, shards or tenants can never be read by mistake.
 */
export interface NamespaceSpec {
  /** Hex fingerprint of the model weights + config (from the model layer); 16–128 hex digits, case-insensitive. */
  modelFingerprint: string;
  /** KV dtype as stored, e.g. `fp16`, `bf16`, `int8`: lowercase `[a-z0-9._-]`, at most 32 characters. */
  kvDtype: string;
  /** Version of the serialized KV format, an integer in [0, 2^32). */
  kvFormatVersion: number;
  /** Tokens per block. @default DEFAULT_BLOCK_SIZE (16) */
  blockSize?: number;
  /** Tensor-parallel layout. @default { tpRank: 0, tpSize: 1 } */
  layout?: KVLayout;
  /**
   * Per-tenant secret mixed into the namespace, so tenants neither share entries nor can probe
   * (by timing) whether another tenant's prompt is cached. Non-empty, at most 1024 UTF-8 bytes.
   * @default undefined (no salt: one shared cache)
   */
  salt?: string;
}

/** Defaults of the optional {@link NamespaceSpec} fields. */
export const DEFAULT_NAMESPACE_OPTIONS = {
  blockSize: DEFAULT_BLOCK_SIZE,
  layout: { tpRank: 0, tpSize: 1 },
  salt: undefined,
} as const satisfies Pick<NamespaceSpec, 'blockSize' | 'layout' | 'salt'>;

/** A validated spec with defaults filled in (the salt is never kept, only whether there is one). */
export interface ResolvedNamespaceSpec {
  readonly modelFingerprint: string;
  readonly kvDtype: string;
  readonly kvFormatVersion: number;
  readonly blockSize: number;
  readonly tpRank: number;
  readonly tpSize: number;
  readonly salted: boolean;
}

/** A namespace: the parent of every chain's first block. Create with {@link createNamespace}. */
export interface Namespace {
  /** SHA-256 of the canonical encoding, 64 hex characters: block 0's parent hash. */
  readonly hash: BlockHash;
  /** First {@link NAMESPACE_ID_LENGTH} hex characters of `hash`, for store keys. */
  readonly id: string;
  /** Tokens per block (also in `spec`; here so a Namespace can be passed where `{ blockSize }` is expected). */
  readonly blockSize: number;
  readonly spec: ResolvedNamespaceSpec;
}

const HEX_FINGERPRINT_RE = /^[0-9a-fA-F]{16,128}$/;
const DTYPE_RE = /^[a-z0-9][a-z0-9._-]{0,31}$/;
const MAX_SALT_BYTES = 1024;
const U32_MAX = 0xffffffff;
const SPEC_KEYS: readonly string[] = ['modelFingerprint', 'kvDtype', 'kvFormatVersion', 'blockSize', 'layout', 'salt'];
const LAYOUT_KEYS: readonly string[] = ['tpRank', 'tpSize'];

function rejectUnknownKeys(obj: object, known: readonly string[], what: string): void {
  const unknown = Object.keys(obj).filter((k) => !known.includes(k));
  if (unknown.length > 0) {
    throw new InvalidInputError({
      path: `${what}.${unknown[0]}`,
      expected: `only the known fields ${known.join(', ')}`,
      received: `unknown field(s) ${unknown.join(', ')}`,
    });
  }
}

/** Validate a spec and fill in defaults. Throws {@link InvalidInputError} naming the bad field. */
export function resolveNamespaceSpec(spec: NamespaceSpec): ResolvedNamespaceSpec & { salt: string | undefined } {
  if (spec === null || typeof spec !== 'object') {
    throw InvalidInputError.at('spec', 'a namespace spec object', spec);
  }
  // Unknown fields are refused: a caller adding e.g. a pipeline rank must not believe it isolates entries.
  rejectUnknownKeys(spec, SPEC_KEYS, 'spec');
  const { modelFingerprint, kvDtype, kvFormatVersion } = spec;
  if (typeof modelFingerprint !== 'string' || !HEX_FINGERPRINT_RE.test(modelFingerprint)) {
    throw InvalidInputError.at('spec.modelFingerprint', 'a hex string of 16–128 digits (e.g. a SHA-256 of the weights)', modelFingerprint);
  }
  if (typeof kvDtype !== 'string' || !DTYPE_RE.test(kvDtype)) {
    // Strict rather than normalising: 'FP16' vs 'fp16' silently splitting a cache is the bug to avoid.
    throw InvalidInputError.at('spec.kvDtype', "a lowercase name of 1–32 characters [a-z0-9._-] such as 'fp16'", kvDtype);
  }
  assertInt(kvFormatVersion, 'spec.kvFormatVersion', 0, U32_MAX);
  const blockSize = spec.blockSize ?? DEFAULT_NAMESPACE_OPTIONS.blockSize;
  assertBlockSize(blockSize, 'spec.blockSize');
  const layout = spec.layout ?? DEFAULT_NAMESPACE_OPTIONS.layout;
  if (layout === null || typeof layout !== 'object') {
    throw InvalidInputError.at('spec.layout', 'an object { tpRank, tpSize }', layout);
  }
  rejectUnknownKeys(layout, LAYOUT_KEYS, 'spec.layout');
  const tpSize = layout.tpSize ?? DEFAULT_NAMESPACE_OPTIONS.layout.tpSize;
  const tpRank = layout.tpRank ?? DEFAULT_NAMESPACE_OPTIONS.layout.tpRank;
  assertInt(tpSize, 'spec.layout.tpSize', 1, 65_536);
  assertInt(tpRank, 'spec.layout.tpRank', 0, tpSize - 1);
  const salt = spec.salt;
  if (salt !== undefined) {
    if (typeof salt !== 'string' || salt.length === 0) {
      throw InvalidInputError.at('spec.salt', 'a non-empty string or omitted', salt);
    }
    assertWellFormedString(salt, 'spec.salt');
    const bytes = Buffer.byteLength(salt, 'utf8');
    if (bytes > MAX_SALT_BYTES) {
      throw new InvalidInputError({
        path: 'spec.salt',
        expected: `at most ${MAX_SALT_BYTES} UTF-8 bytes`,
        received: `${bytes} bytes`,
        limit: MAX_SALT_BYTES,
        actual: bytes,
      });
    }
  }
  return {
    modelFingerprint: modelFingerprint.toLowerCase(), // hex case carries no information
    kvDtype,
    kvFormatVersion,
    blockSize,
    tpRank,
    tpSize,
    salted: salt !== undefined,
    salt,
  };
}

/**
 * The canonical, versioned byte encoding that the namespace hash covers. Fixed field order; strings
 * are u32le byte length + UTF-8, integers u32le; the salt is a presence byte then the string. Length
 * prefixes make it prefix-free, so no two specs encode the same. (test/fixtures/hashing/make_fixture.py
 * re-implements it independently.)
 *
 * ```
 * str  "kvcache-lab/namespace"   u32 encodingVersion (1)
 * str  modelFingerprint (lowercase hex)   str kvDtype   u32 kvFormatVersion
 * u32  blockSize   u32 tpRank   u32 tpSize
 * u8   0 | 1 then str salt
 * ```
 */
export function namespaceBytes(spec: NamespaceSpec): Uint8Array {
  return encodeResolved(resolveNamespaceSpec(spec));
}

function encodeResolved(r: ResolvedNamespaceSpec & { salt: string | undefined }): Uint8Array {
  const parts: Buffer[] = [];
  const u32 = (n: number): void => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n, 0);
    parts.push(b);
  };
  const str = (s: string): void => {
    const b = Buffer.from(s, 'utf8');
    u32(b.length);
    parts.push(b);
  };
  str(NAMESPACE_DOMAIN);
  u32(NAMESPACE_ENCODING_VERSION);
  str(r.modelFingerprint);
  str(r.kvDtype);
  u32(r.kvFormatVersion);
  u32(r.blockSize);
  u32(r.tpRank);
  u32(r.tpSize);
  if (r.salt === undefined) {
    parts.push(Buffer.from([0]));
  } else {
    parts.push(Buffer.from([1]));
    str(r.salt);
  }
  const out = Buffer.concat(parts);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** Validate `spec` and derive its namespace: the hash every block chain starts from. */
export function createNamespace(spec: NamespaceSpec): Namespace {
  const r = resolveNamespaceSpec(spec);
  const hash = createHash('sha256').update(encodeResolved(r)).digest('hex');
  // The salt is a tenant secret: derive from it, never keep it.
  const kept: ResolvedNamespaceSpec = {
    modelFingerprint: r.modelFingerprint,
    kvDtype: r.kvDtype,
    kvFormatVersion: r.kvFormatVersion,
    blockSize: r.blockSize,
    tpRank: r.tpRank,
    tpSize: r.tpSize,
    salted: r.salted,
  };
  return Object.freeze({ hash, id: hash.slice(0, NAMESPACE_ID_LENGTH), blockSize: r.blockSize, spec: Object.freeze(kept) });
}

/** Throw unless `ns` looks like a {@link Namespace} (a valid hash and block size). */
export function assertNamespace(ns: unknown, what = 'namespace'): asserts ns is Namespace {
  const n = ns as Partial<Namespace> | null;
  if (n === null || typeof n !== 'object' || !isBlockHash(n.hash)) {
    throw InvalidInputError.at(what, 'a Namespace from createNamespace()', ns);
  }
  assertBlockSize(n.blockSize, `${what}.blockSize`);
}

/** One line for logs and notebooks, e.g. `ns 3f2a…(id) model=ab12cd34… fp16 v1 block=16 tp=0/1 salted`. */
export function describeNamespace(ns: Namespace): string {
  const s = ns.spec;
  return (
    `ns ${ns.id} model=${s.modelFingerprint.slice(0, 8)}… ${s.kvDtype} v${s.kvFormatVersion} ` +
    `block=${s.blockSize} tp=${s.tpRank}/${s.tpSize}${s.salted ? ' salted' : ''}`
  );
}
