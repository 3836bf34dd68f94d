import { InvalidInputError } from '../runtime/errors';
import { checkTokenIds } from './inputs';

/**
 * The part of gpt-tokenizer's per-encoding module used here. Declared locally instead of importing
 * its types: gpt-tokenizer 3.4's .d.ts files use string export names (`export { x as 'gpt-3.5' }`)
 * that TypeScript 5.9 and tslab's 5.0 cannot parse, so referencing them would break type-checking.
 */
interface R50kModule {
  encode(text: string, options?: { disallowedSpecial?: Set<string> }): number[];
  decode(ids: Iterable<number>): string;
  vocabularySize: number;
}

let r50k: R50kModule | undefined;

// Loaded on first use (~30 ms to build the ranks), so importing the library stays cheap.
// The per-encoding entry point is `gpt-tokenizer/cjs/encoding/<name>`: it resolves under both
// TypeScript's node10 resolution (a real .d.ts path) and Node's `exports` map ("./cjs/*").
function loadR50k(): R50kModule {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  r50k ??= require('gpt-tokenizer/cjs/encoding/r50k_base') as R50kModule;
  return r50k;
}

/** The part of a TextDecoder used here: `decode()` with no input flushes what a streaming decode kept back. */
interface FlushableDecoder {
  decode(): string;
}

let bpeCore: { decoder?: FlushableDecoder } | undefined;

/** gpt-tokenizer's shared TextDecoder (an internal of 3.x; undefined if a later version drops it). */
function sharedDecoder(): FlushableDecoder | undefined {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  bpeCore ??= require('gpt-tokenizer/cjs/BytePairEncodingCore') as { decoder?: FlushableDecoder };
  return bpeCore.decoder;
}

/** Encodings the {@link Tokenizer} supports. */
export type TokenizerEncoding = 'r50k_base';

/**
 * Byte-pair-encoding tokenizer (GPT-2's `r50k_base` from `gpt-tokenizer`, 50 257 ids, ships its vocabulary).
 * Chosen over cl100k/o200k because a 50 k vocabulary keeps the embedding and output head of the
 * small models small; both runnable presets have `vocabSize` 50 257 so every id fits.
 * Special-token markers such as `<|endoftext|>` in the text are encoded as plain text.
 */
export class Tokenizer {
  readonly encoding: TokenizerEncoding = 'r50k_base';
  /** Number of ids: 0 … vocabSize-1. */
  readonly vocabSize: number = 50257;
  /** Id of `<|endoftext|>`. */
  readonly endOfTextId: number = 50256;

  /** Token ids of `text`. */
  encode(text: string): number[] {
    if (typeof text !== 'string') throw InvalidInputError.at('text', 'a string', text);
    return loadR50k().encode(text, { disallowedSpecial: new Set() });
  }

  /** Text of token ids (invalid UTF-8 from a partial multi-byte character becomes U+FFFD). */
  decode(ids: ArrayLike<number>): string {
    if ((Array.isArray(ids) || ArrayBuffer.isView(ids)) && ids.length === 0) return '';
    const text = loadR50k().decode(checkTokenIds(ids, this.vocabSize, 'ids'));
    // gpt-tokenizer decodes bytes through one shared streaming TextDecoder and never flushes it: the
    // bytes of a trailing partial character would come out at the start of the NEXT call. Flush them here.
    return text + (sharedDecoder()?.decode() ?? '');
  }
}
