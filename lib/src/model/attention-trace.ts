import * as tf from '@tensorflow/tfjs-core';

/**
 * One layer's attention on a prompt, read out of the model's own forward pass (see
 * `LlamaModel.traceAttention`): the inputs and output of that layer's attention, so that a reader can
 * recompute a head by hand and compare. Arrays are row-major Float32Arrays; head h, token i, channel c
 * sits at `(h · tokens + i) · headDim + c`.
 */
export interface AttentionTrace {
  layer: number;
  tokens: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  /** [numHeads, tokens, headDim]: the queries after RoPE, before the 1/√headDim scaling. */
  queries: Float32Array;
  /** [numKvHeads, tokens, headDim]: the keys after RoPE — what the KV cache keeps for this layer. */
  keys: Float32Array;
  /** [numKvHeads, tokens, headDim]: the values — what the KV cache keeps for this layer. */
  values: Float32Array;
  /**
   * [numHeads, tokens, headDim]: each query head's output, softmax(q·kᵀ/√headDim + causal mask)·v,
   * before the output projection. Query head h reads kv head ⌊h / (numHeads / numKvHeads)⌋.
   */
  output: Float32Array;
}

/**
 * What the forward pass hands an observer for each layer: q [tokens, numHeads, headDim] after RoPE,
 * k and v [numKvHeads, tokens, headDim], output [tokens, numHeads · headDim]. The tensors live only
 * during the call.
 */
export type AttentionTap = (layer: number, q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, output: tf.Tensor2D) => void;

/** Tensors kept from one layer's attention, in the trace's [heads, tokens, headDim] layout. */
export interface KeptAttention {
  q: tf.Tensor;
  k: tf.Tensor;
  v: tf.Tensor;
  output: tf.Tensor;
}

/** Copy one layer's attention tensors out of the forward pass (kept past its tidy scope) in the trace layout. */
export function keepAttention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, output: tf.Tensor2D): KeptAttention {
  const [tokens, heads, headDim] = q.shape;
  return {
    q: tf.keep(tf.transpose(q, [1, 0, 2])),
    k: tf.keep(tf.clone(k)),
    v: tf.keep(tf.clone(v)),
    output: tf.keep(tf.transpose(tf.reshape(output, [tokens, heads, headDim]), [1, 0, 2])),
  };
}

/** Read kept tensors into an {@link AttentionTrace} and free them. */
export async function readAttention(layer: number, kept: KeptAttention): Promise<AttentionTrace> {
  try {
    const [numHeads, tokens, headDim] = kept.q.shape as [number, number, number];
    const [queries, keys, values, output] = (await Promise.all([kept.q.data(), kept.k.data(), kept.v.data(), kept.output.data()])) as Float32Array[];
    return { layer, tokens, numHeads, numKvHeads: kept.k.shape[0] as number, headDim, queries: queries!, keys: keys!, values: values!, output: output! };
  } finally {
    tf.dispose([kept.q, kept.k, kept.v, kept.output]);
  }
}
