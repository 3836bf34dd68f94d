import { InvalidInputError } from '../runtime/errors';
import { DEFAULT_BLOCK_SIZE, assertBlockSize } from './block-size';
import { assertBlockHash } from './checks';
import type { BlockHash, BlockPresence } from './types';

/** Options of {@link longestPrefix}: the block size that turns matched blocks into tokens. */
export interface LookupOptions {
  /**
   * Tokens per block, to turn blocks into tokens. Pass the chain's {@link Namespace} itself (it has a
   * `blockSize`) so the two can never disagree.
   * @default DEFAULT_BLOCK_SIZE (16)
   */
  blockSize?: number;
}

export const DEFAULT_LOOKUP_OPTIONS: Readonly<Required<LookupOptions>> = Object.freeze({ blockSize: DEFAULT_BLOCK_SIZE });

/**
 * The answer of {@link longestPrefix}: how many leading blocks (and tokens) are present, what is
 * stranded after the first miss, and the round trips it took.
 */
export interface PrefixMatch {
  /** Leading blocks present, up to the first missing one: the KV that can be loaded. */
  matchedBlocks: number;
  /** `matchedBlocks × blockSize`. */
  matchedTokens: number;
  /** Hashes asked about. */
  totalBlocks: number;
  /**
   * Blocks present *after* the first hole: stored but useless to this request, because the KV of a
   * block depends on every token before it (typically a middle block was evicted).
   */
  strandedBlocks: number;
  /** The store's answer, one per hash. */
  present: boolean[];
  /** Calls made to `presence.has`: 1, or 0 for an empty chain. */
  roundTrips: number;
}

/** Length of the leading run of `true`: the usable prefix of a presence answer. */
export function prefixLength(present: readonly boolean[]): number {
  let k = 0;
  while (k < present.length && present[k] === true) k++;
  return k;
}

/**
 * The longest cached prefix of a chain: ONE batched `has` for every hash (a bounded single round trip,
 * not one per block), then the leading run of hits. Blocks after the first miss do not count.
 *
 * Asking for all hashes at once costs a few extra key checks past a miss, and saves a round trip per
 * block compared to walking the chain — round trips dominate for small keys.
 */
export async function longestPrefix<PresenceOptions = undefined>(
  presence: BlockPresence<PresenceOptions>,
  hashes: readonly BlockHash[],
  options: LookupOptions & { presenceOptions?: PresenceOptions } = {},
): Promise<PrefixMatch> {
  if (presence === null || typeof presence !== 'object' || typeof presence.has !== 'function') {
    throw InvalidInputError.at('presence', 'an object with a has(hashes) method', presence);
  }
  if (!Array.isArray(hashes)) throw InvalidInputError.at('hashes', 'an array of block hashes', hashes);
  const blockSize = options.blockSize ?? DEFAULT_LOOKUP_OPTIONS.blockSize;
  assertBlockSize(blockSize, 'options.blockSize');
  hashes.forEach((h, i) => assertBlockHash(h, `hashes[${i}]`));
  if (hashes.length === 0) {
    return { matchedBlocks: 0, matchedTokens: 0, totalBlocks: 0, strandedBlocks: 0, present: [], roundTrips: 0 };
  }
  const present = await presence.has(hashes, options.presenceOptions);
  if (!Array.isArray(present) || present.length !== hashes.length || present.some((p) => typeof p !== 'boolean')) {
    // A store that answers for the wrong keys would make us load the wrong KV: refuse loudly.
    throw InvalidInputError.at('presence.has()', `${hashes.length} booleans, one per hash`, present);
  }
  const matchedBlocks = prefixLength(present);
  let strandedBlocks = 0;
  for (let i = matchedBlocks + 1; i < present.length; i++) if (present[i]) strandedBlocks++;
  return {
    matchedBlocks,
    matchedTokens: matchedBlocks * blockSize,
    totalBlocks: hashes.length,
    strandedBlocks,
    present,
    roundTrips: 1,
  };
}
