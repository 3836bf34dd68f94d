import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { LlamaModel, SafetensorsReader } from '../../lib/src/model';
import { describeOnEachBackend } from './backends';
import { FIXTURE_DIR, checkAgainstReference, type Reference } from './helpers';

describeOnEachBackend('the model against the independent numpy reference (float64)', () => {
  it('the committed fixture (F32/F16/BF16 tensors, written by the numpy reference) reproduces its reference logits', async () => {
    const reader = new SafetensorsReader(readFileSync(path.join(FIXTURE_DIR, 'model.safetensors')));
    assert.deepEqual(new Set([...reader.tensors.values()].map((t) => t.dtype)), new Set(['F32', 'F16', 'BF16']));
    const ref = JSON.parse(readFileSync(path.join(FIXTURE_DIR, 'reference.json'), 'utf8')) as Reference;
    const model = await LlamaModel.load(FIXTURE_DIR, { prefillChunkSize: 5 });
    try {
      assert.equal(model.config.vocabSize, 64);
      assert.equal(model.config.tieWordEmbeddings, false);
      assert.equal(model.config.numHeads * model.config.headDim, 64);
      assert.equal(model.config.hiddenSize, 48);
      await checkAgainstReference(model, ref);
    } finally {
      model.dispose();
    }
  });
});
