import { strict as assert } from 'node:assert';
import { createModel, type KVCache, type LlamaModel } from '../../lib/src/model';
import { tf } from '../../lib/src/runtime';
import { describeOnEachBackend } from './backends';

describeOnEachBackend('memory: tensors are freed', (backend) => {
  let model: LlamaModel;
  before(async () => {
    model = await createModel('tiny', { seed: 0 });
  });
  after(() => model.dispose());

  // The plain-JS cpu backend is ~10× slower per step: 300 steps still cross three checkpoints.
  const steps = backend === 'cpu' ? 300 : 1000;
  it(`tf.memory() stays flat over ${steps} decode steps (only the live KV cache grows, by exactly its size)`, async () => {
    const base = tf.memory();
    let { logits, kv } = await model.prefill([464, 3290, 7586, 21831]);
    let token = 0;
    for (let i = 0; i < steps; i++) {
      token = (token * 31 + i + logits.length) % model.config.vocabSize; // vary the input without depending on argmax
      const next: { logits: Float32Array; kv: KVCache } = await model.decodeStep(token, kv);
      kv.dispose();
      ({ logits, kv } = next);
      if (i % 100 === 99) {
        const now = tf.memory();
        assert.equal(now.numTensors, base.numTensors + 2 * model.config.numLayers, `step ${i + 1}: tensor count`);
        assert.equal(now.numBytes, base.numBytes + kv.bytes, `step ${i + 1}: bytes`);
      }
    }
    assert.equal(kv.tokens, 4 + steps);
    kv.dispose();
    assert.equal(tf.memory().numTensors, base.numTensors);
    assert.equal(tf.memory().numBytes, base.numBytes);
  });

  it('generate, prefill with chunks and KV slicing leave nothing behind', async () => {
    const base = tf.memory();
    await model.generate([1, 2, 3], 20);
    await model.generate([1, 2, 3], 5, { useCache: false });
    const { kv } = await model.prefill(Array.from({ length: 600 }, (_, i) => i)); // two chunks
    const parts = [kv.slice(0, 300), kv.slice(300, 600)];
    const joined = parts[0]!.concat(parts[1]!);
    const arrays = joined.toArrays();
    for (const x of [kv, ...parts, joined]) x.dispose();
    assert.equal(arrays.tokens, 600);
    assert.equal(tf.memory().numTensors, base.numTensors);
    assert.equal(tf.memory().numBytes, base.numBytes);
  });
});
