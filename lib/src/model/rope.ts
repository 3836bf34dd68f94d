import * as tf from '@tensorflow/tfjs-core';

/**
 * Rotary position embeddings, "rotate-half" convention (Hugging Face Llama / GPT-NeoX): channel i
 * of a head is paired with channel i + headDim/2, and the pair is rotated by `position · θ^(-2i/headDim)`:
 *
 *   out = x · cos + rotate_half(x) · sin,   rotate_half([x1, x2]) = [-x2, x1]
 *
 * Because the rotation is baked into cached keys, a key computed at position p stays valid only at p:
 * that is why KV caches carry their start position.
 */
export interface RopeTables {
  /** [positions, headDim]: cos of each channel's angle (the two halves repeat). */
  cos: Float32Array;
  /** [positions, headDim]: sin with the first half negated, so rotate-half becomes a plain swap of halves. */
  signedSin: Float32Array;
  positions: number;
  headDim: number;
}

/** cos/sin tables for positions 0 … positions-1, computed in float64 and rounded once to float32. */
export function ropeTables(headDim: number, theta: number, positions: number): RopeTables {
  const half = headDim / 2;
  const cos = new Float32Array(positions * headDim);
  const signedSin = new Float32Array(positions * headDim);
  const inverseFrequency = new Float64Array(half);
  for (let i = 0; i < half; i++) inverseFrequency[i] = 1 / Math.pow(theta, (2 * i) / headDim);
  for (let p = 0; p < positions; p++) {
    const row = p * headDim;
    for (let i = 0; i < half; i++) {
      const angle = p * (inverseFrequency[i] as number);
      const c = Math.cos(angle);
      const s = Math.sin(angle);
      cos[row + i] = c;
      cos[row + half + i] = c;
      signedSin[row + i] = -s;
      signedSin[row + half + i] = s;
    }
  }
  return { cos, signedSin, positions, headDim };
}

/**
 * Rotate `x` of shape [tokens, heads, headDim] whose tokens sit at positions start … start+tokens-1.
 * `cos` / `signedSin` are the tables as tensors of shape [positions, 1, headDim].
 */
export function applyRope(x: tf.Tensor3D, cos: tf.Tensor3D, signedSin: tf.Tensor3D, start: number): tf.Tensor3D {
  const [tokens, heads, headDim] = x.shape;
  const half = headDim / 2;
  const c = tf.slice(cos, [start, 0, 0], [tokens, 1, headDim]);
  const s = tf.slice(signedSin, [start, 0, 0], [tokens, 1, headDim]);
  const x1 = tf.slice(x, [0, 0, 0], [tokens, heads, half]);
  const x2 = tf.slice(x, [0, 0, half], [tokens, heads, half]);
  const swapped = tf.concat([x2, x1], 2);
  return tf.add(tf.mul(x, c), tf.mul(swapped, s));
}
