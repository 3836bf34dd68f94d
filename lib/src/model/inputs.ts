import { InvalidInputError } from '../runtime/errors';

/**
 * Check a sequence of token ids and copy it to an Int32Array (the dtype `tf.gather` wants).
 * `what` names the argument: the error's `details.path` (`tokens`, `tokens[7]`).
 */
export function checkTokenIds(tokens: unknown, vocabSize: number, what: string): Int32Array {
  const isList = Array.isArray(tokens) || (ArrayBuffer.isView(tokens) && !(tokens instanceof DataView));
  if (!isList) throw InvalidInputError.at(what, 'an array of token ids', tokens);
  const list = tokens as ArrayLike<unknown>;
  if (list.length === 0) throw new InvalidInputError({ path: what, expected: 'at least one token id', received: 'an empty array' });
  const out = new Int32Array(list.length);
  for (let i = 0; i < list.length; i++) {
    out[i] = checkTokenId(list[i], vocabSize, `${what}[${i}]`);
  }
  return out;
}

/** Check one token id: an integer in [0, vocabSize). */
export function checkTokenId(token: unknown, vocabSize: number, what: string): number {
  if (typeof token !== 'number' || !Number.isInteger(token)) throw InvalidInputError.at(what, `an integer token id in [0, ${vocabSize})`, token);
  if (token < 0 || token >= vocabSize) {
    throw new InvalidInputError({ path: what, expected: `a token id inside the vocabulary [0, ${vocabSize})`, received: String(token) });
  }
  return token;
}

/** Index of the largest logit; the lowest index wins ties, so greedy decoding is deterministic. */
export function argmax(logits: ArrayLike<number>): number {
  if (logits.length === 0) throw new InvalidInputError({ path: 'logits', expected: 'at least one logit', received: 'an empty array' });
  let best = 0;
  let bestValue = logits[0] as number;
  for (let i = 1; i < logits.length; i++) {
    const v = logits[i] as number;
    if (v > bestValue) {
      bestValue = v;
      best = i;
    }
  }
  return best;
}
