import * as crypto from 'node:crypto';
import { InvalidInputError } from '../runtime/errors';
import { assertBlockHash, assertInt, assertTokenArray, badToken } from './checks';
import { assertNamespace, type Namespace } from './namespace';
import type { BlockHash, TokenIds } from './types';

/*
 * hash(block i) = SHA-256( hash(block i−1) as 32 raw bytes ‖ the block's token ids as uint32 little-endian )
 * hash(block −1) = the namespace hash.
 * Only full blocks are hashed: a partial tail could never be matched by a longer prompt anyway.
 */

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

// crypto.hash (Node ≥ 20.12) skips the Hash object: ~2× faster than createHash for 100-byte inputs.
// Hex output then writing it back into the buffer beat a 'buffer' digest + copy in measurements.
const sha256Hex: (data: Uint8Array) => string =
  typeof crypto.hash === 'function'
    ? (data) => crypto.hash('sha256', data, 'hex')
    : (data) => crypto.createHash('sha256').update(data).digest('hex');

/**
 * One reusable work buffer `[parent hash (32 bytes) | block tokens (4 × blockSize bytes)]`: hashing a
 * block writes its tokens in place, hashes, and writes the digest over the parent for the next block.
 */
class ChainBuffer {
  readonly bytes: Buffer;
  /** Token slots as uint32 — only on little-endian hosts, where native order is the wire order. */
  readonly slots: Uint32Array | undefined;
  readonly dv: DataView;
  parent: BlockHash;

  constructor(
    readonly blockSize: number,
    parent: BlockHash,
  ) {
    const ab = new ArrayBuffer(32 + 4 * blockSize); // own buffer: offset 32 is 4-aligned for the Uint32Array
    this.bytes = Buffer.from(ab);
    this.slots = LITTLE_ENDIAN ? new Uint32Array(ab, 32, blockSize) : undefined;
    this.dv = new DataView(ab);
    this.parent = parent;
    this.bytes.write(parent, 0, 'hex');
  }

  /** Put token `t` (already validated) in slot `j`. */
  set(j: number, t: number): void {
    if (this.slots !== undefined) this.slots[j] = t;
    else this.dv.setUint32(32 + 4 * j, t, true);
  }

  /** Hash the filled block; its digest becomes the next block's parent. */
  finish(): BlockHash {
    const h = sha256Hex(this.bytes);
    this.bytes.write(h, 0, 'hex');
    this.parent = h;
    return h;
  }

  clone(): ChainBuffer {
    const c = new ChainBuffer(this.blockSize, this.parent);
    this.bytes.copy(c.bytes);
    return c;
  }
}

/** Check token ids in [from, to) without hashing them (typed unsigned arrays are valid by type). */
function validateRange(tokens: TokenIds, from: number, to: number): void {
  if (tokens instanceof Uint32Array || tokens instanceof Uint16Array || tokens instanceof Uint8Array) return;
  for (let i = from; i < to; i++) {
    const t = tokens[i];
    // `(t >>> 0) === t` holds exactly for integers in [0, 2^32) (false for NaN, fractions, negatives, non-numbers).
    if (((t as number) >>> 0) !== t) throw badToken(i, t);
  }
}

/** Hash full blocks [first, end) of `tokens` into `out`, validating ids on the way. */
function hashRange(buf: ChainBuffer, tokens: TokenIds, first: number, end: number, out: BlockHash[]): void {
  const B = buf.blockSize;
  const fast = buf.slots !== undefined && tokens instanceof Uint32Array ? buf.slots : undefined;
  for (let b = first; b < end; b++) {
    const base = b * B;
    if (fast !== undefined) {
      fast.set((tokens as Uint32Array).subarray(base, base + B));
    } else {
      for (let j = 0; j < B; j++) {
        const t = tokens[base + j] as number;
        if ((t >>> 0) !== t) throw badToken(base + j, t);
        buf.set(j, t);
      }
    }
    out.push(buf.finish());
  }
}

/** Options of {@link hashBlocks}: where to resume a chain that is already partly hashed. */
export interface HashBlocksOptions {
  /**
   * Parent hash to continue from: the hash of block `startBlock − 1` of this same token sequence.
   * Give it together with `startBlock` to extend a known chain without rehashing it.
   * @default the namespace hash (a chain from the start)
   */
  from?: BlockHash;
  /**
   * Index of the first block to hash; tokens before `startBlock × blockSize` are skipped (neither
   * hashed nor re-validated). Needs `from` when > 0.
   * @default 0
   */
  startBlock?: number;
}

export const DEFAULT_HASH_BLOCKS_OPTIONS: Readonly<Required<Pick<HashBlocksOptions, 'startBlock'>>> = Object.freeze({
  startBlock: 0,
});

/**
 * Chained hashes of the full blocks of `tokens` under `namespace` — block `startBlock` onward.
 * `tokens` is the whole sequence (prompt so far); the tail after the last full block is validated but
 * not hashed. Equal prefixes give equal leading hashes; a changed token changes its block's hash and
 * every later one.
 *
 * @example extend a growing conversation
 * const h1 = hashBlocks(turn1, ns);
 * const more = hashBlocks(turn1And2, ns, { from: h1[h1.length - 1], startBlock: h1.length });
 * // h1.concat(more) equals hashBlocks(turn1And2, ns)
 */
export function hashBlocks(tokens: TokenIds, namespace: Namespace, options: HashBlocksOptions = {}): BlockHash[] {
  assertNamespace(namespace);
  assertTokenArray(tokens);
  const B = namespace.blockSize;
  const n = tokens.length;
  const total = Math.floor(n / B);
  const startBlock = options.startBlock ?? DEFAULT_HASH_BLOCKS_OPTIONS.startBlock;
  assertInt(startBlock, 'options.startBlock', 0, Number.MAX_SAFE_INTEGER);
  if (options.from !== undefined) assertBlockHash(options.from, 'options.from');
  if (startBlock > 0 && options.from === undefined) {
    throw new InvalidInputError({
      path: 'options.from',
      expected: `the hash of block ${startBlock - 1} (startBlock is ${startBlock})`,
      received: 'undefined',
      hint: "startBlock > 0 resumes a chain, which needs 'from'.",
    });
  }
  if (startBlock === 0 && options.from !== undefined) {
    // Ambiguous: 'from' would replace the namespace as block 0's parent. Say what was meant instead.
    throw new InvalidInputError({
      path: 'options.startBlock',
      expected: "startBlock > 0 (the number of blocks already hashed) when 'from' is given",
      received: '0',
      hint: "'from' is the hash of block startBlock − 1.",
    });
  }
  if (startBlock > total) {
    throw new InvalidInputError({
      path: 'options.startBlock',
      expected: `at most the ${total} full block(s) of ${n} tokens (block size ${B})`,
      received: String(startBlock),
      limit: total,
      actual: startBlock,
    });
  }
  const buf = new ChainBuffer(B, options.from ?? namespace.hash);
  const out: BlockHash[] = [];
  hashRange(buf, tokens, startBlock, total, out);
  validateRange(tokens, total * B, n);
  return out;
}

/** Options of {@link PrefixHasher}: the chain to resume (the last hash and the blocks already hashed). */
export interface PrefixHasherOptions {
  /** Hash of the last block already hashed; with `startBlock`, resumes a chain. @default the namespace hash */
  from?: BlockHash;
  /** Blocks already hashed before this hasher (its first block gets this index). Needs `from` when > 0. @default 0 */
  startBlock?: number;
}

/**
 * Incremental chained hashing for a sequence that grows (a conversation, a decode loop): push tokens
 * as they come; each push hashes only the blocks it completes. Cost is O(new tokens), never a rehash.
 */
export class PrefixHasher {
  private buf: ChainBuffer;
  private pending = 0;
  private readonly computed: BlockHash[] = [];
  private readonly firstBlock: number;
  private readonly from: BlockHash | undefined;
  readonly namespace: Namespace;

  constructor(namespace: Namespace, options: PrefixHasherOptions = {}) {
    assertNamespace(namespace);
    const startBlock = options.startBlock ?? 0;
    assertInt(startBlock, 'options.startBlock', 0, Number.MAX_SAFE_INTEGER);
    if (options.from !== undefined) assertBlockHash(options.from, 'options.from');
    if ((startBlock > 0) !== (options.from !== undefined)) {
      throw new InvalidInputError({
        path: startBlock > 0 ? 'options.from' : 'options.startBlock',
        expected: "'from' and startBlock > 0 together",
        received: startBlock > 0 ? `startBlock ${startBlock} without 'from'` : "'from' with startBlock 0",
        hint: "'from' is the hash of block startBlock − 1.",
      });
    }
    this.namespace = namespace;
    this.firstBlock = startBlock;
    this.from = options.from;
    this.buf = new ChainBuffer(namespace.blockSize, options.from ?? namespace.hash);
  }

  /** Append tokens; returns the hashes of the blocks this call completed (often none). */
  push(tokens: TokenIds): BlockHash[] {
    assertTokenArray(tokens);
    validateRange(tokens, 0, tokens.length); // all-or-nothing: a bad id leaves the hasher unchanged
    const out: BlockHash[] = [];
    const B = this.buf.blockSize;
    for (let i = 0; i < tokens.length; i++) {
      this.buf.set(this.pending++, tokens[i] as number);
      if (this.pending === B) {
        const h = this.buf.finish();
        this.computed.push(h);
        out.push(h);
        this.pending = 0;
      }
    }
    return out;
  }

  /** Hashes of all blocks completed by this hasher, in order (block indices from `startBlock`). */
  get hashes(): readonly BlockHash[] {
    return this.computed;
  }

  /** Total full blocks of the sequence, including the `startBlock` ones hashed elsewhere. */
  get blockCount(): number {
    return this.firstBlock + this.computed.length;
  }

  /** Total tokens of the sequence so far, including the `startBlock` blocks. */
  get tokenCount(): number {
    return this.blockCount * this.buf.blockSize + this.pending;
  }

  /** Tokens waiting for their block to fill; not hashed, never cacheable until it does. */
  get pendingTokens(): number {
    return this.pending;
  }

  /** Hash of the last full block (the namespace hash, or `from`, before any). */
  get lastHash(): BlockHash {
    return this.buf.parent;
  }

  /** An independent copy, e.g. to branch a conversation at this point. */
  clone(): PrefixHasher {
    const c = new PrefixHasher(this.namespace, { from: this.from, startBlock: this.firstBlock });
    for (const h of this.computed) c.computed.push(h);
    c.buf = this.buf.clone();
    c.pending = this.pending;
    return c;
  }
}
