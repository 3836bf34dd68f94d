import { strict as assert } from 'node:assert';
import { LlamaModel } from '../../lib/src/model';
import { formatKvBytes, timeDecoding, timePrefill } from '../../lib/src/notebook/kv-basics';
import { tf } from '../../lib/src/runtime';
import { expectCode, tokenIds } from '../model/helpers';

const quiet = { showProgress: false } as const;

describe('notebook 01 sweeps (kv-basics)', function () {
  let tiny: LlamaModel;
  let tensorsBefore = 0;

  before(async () => {
    tiny = await LlamaModel.create('tiny', { seed: 0 });
    tensorsBefore = tf.memory().numTensors;
  });
  after(() => {
    // Both sweeps free every cache they make: only the model's own tensors remain.
    assert.equal(tf.memory().numTensors, tensorsBefore, 'tensors leaked by the kv-basics sweeps');
    tiny.dispose();
  });

  it('timeDecoding: one row per length, in order; both paths choose the greedy next token', async () => {
    const lengths = [4, 20, 9];
    const prompt = tokenIds(20, tiny.config.vocabSize, 5);
    const rows = await timeDecoding(tiny, lengths, { repeats: 2, prompt, ...quiet });
    assert.deepEqual(rows.map((r) => r.contextLength), lengths);
    for (const r of rows) {
      assert.ok(r.cachedMs > 0 && Number.isFinite(r.cachedMs) && r.uncachedMs > 0 && Number.isFinite(r.uncachedMs));
      assert.equal(r.speedup, r.uncachedMs / r.cachedMs);
      assert.equal(r.cachedNextToken, r.uncachedNextToken, `length ${r.contextLength}`);
      assert.equal(r.cachedNextToken, (await tiny.generate(prompt.slice(0, r.contextLength), 1)).tokens[0]);
    }
    const synthetic = await timeDecoding(tiny, [3], { repeats: 1, ...quiet });
    assert.equal(synthetic.length, 1);
  });

  it('timePrefill: one row per length with the first greedy token', async () => {
    const prompt = tokenIds(40, tiny.config.vocabSize, 9);
    const rows = await timePrefill(tiny, [8, 40], { repeats: 2, prompt, ...quiet });
    assert.deepEqual(rows.map((r) => r.promptTokens), [8, 40]);
    for (const r of rows) {
      assert.ok(r.ttftMs > 0 && Math.abs(r.msPerPromptToken - r.ttftMs / r.promptTokens) < 1e-12);
      assert.equal(r.firstToken, (await tiny.generate(prompt.slice(0, r.promptTokens), 1)).tokens[0]);
    }
  });

  it('rejects bad input with INVALID_INPUT', async () => {
    await expectCode(() => timeDecoding(tiny, []), 'INVALID_INPUT', /non-empty/);
    await expectCode(() => timeDecoding(tiny, [1]), 'INVALID_INPUT', /lengths\[0\]/);
    await expectCode(() => timeDecoding(tiny, [4, 4096]), 'INVALID_INPUT', /lengths\[1\]/);
    await expectCode(() => timeDecoding(tiny, [8], { prompt: [1, 2, 3] }), 'INVALID_INPUT', /at least 8/);
    await expectCode(() => timeDecoding(tiny, [3], { prompt: [1, 2, 60000] }), 'INVALID_INPUT', /prompt\[2\]/);
    await expectCode(() => timeDecoding(tiny, [8], { repeats: 0 }), 'INVALID_INPUT', /repeats/);
    await expectCode(() => timeDecoding({} as LlamaModel, [8]), 'INVALID_INPUT', /LlamaModel/);
    await expectCode(() => timePrefill(tiny, [0]), 'INVALID_INPUT');
    await expectCode(() => timePrefill(tiny, [2.5]), 'INVALID_INPUT');
    await expectCode(() => timePrefill(tiny, [4], null as unknown as object), 'INVALID_INPUT', /options/);
    const gone = await LlamaModel.create('tiny', { seed: 1 });
    gone.dispose();
    await expectCode(() => timePrefill(gone, [4]), 'INVALID_INPUT', /disposed/);
  });

  it('formatKvBytes uses binary units', () => {
    assert.equal(formatKvBytes(0), '0 B');
    assert.equal(formatKvBytes(1023), '1023 B');
    assert.equal(formatKvBytes(1536), '1.5 KiB');
    assert.equal(formatKvBytes(1023 * 1024), '1023 KiB');
    assert.equal(formatKvBytes(3 * 2 ** 40), '3 TiB');
    assert.throws(() => formatKvBytes(-1), { code: 'INVALID_INPUT' });
  });
});
