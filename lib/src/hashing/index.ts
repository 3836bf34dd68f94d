/**
 * The hashing layer: namespaces, block-chained prefix hashes, longest-prefix lookup, the exact-prompt
 * baseline, approximate (MinHash) matching and token-level hit accounting. Imports only runtime.
 */
export * from './types';
export { isBlockHash } from './checks';
export * from './block-size';
export * from './namespace';
export * from './block-hash';
export * from './lookup';
export * from './exact-prompt';
export * from './minhash';
export * from './accounting';
export * from './measure';
