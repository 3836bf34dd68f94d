/** A block's chained SHA-256 digest as 64 lowercase hex characters. */
export type BlockHash = string;

/**
 * Anything that can say which of a batch of block hashes it holds, in one round trip.
 * Every `KVStore` satisfies it; longest-prefix lookup needs nothing more.
 */
export interface BlockPresence<Options = undefined> {
  has(hashes: readonly BlockHash[], options?: Options): Promise<boolean[]>;
}

/**
 * Token ids as the tokenizer gives them: a plain array or a typed array. Each id must be an
 * integer in [0, 2^32) because blocks hash ids as little-endian uint32.
 */
export type TokenIds = ArrayLike<number>;
