import { strict as assert } from 'node:assert';
import {
  MODEL_PRESETS,
  configFromHuggingFace,
  configToHuggingFace,
  getPreset,
  isSizeOnlyPreset,
  kvBytesPerToken,
  parameterCount,
  validateModelConfig,
  type PresetName,
} from '../../lib/src/model';
import { expectCode, smallConfig } from './helpers';

describe('model config and presets', () => {
  it('KV bytes per token of the published shapes (fp16)', () => {
    // 2 × layers × kv_heads × head_dim × 2 bytes
    assert.equal(kvBytesPerToken(getPreset('llama2-7b'), 2), 2 * 32 * 32 * 128 * 2); // 512 KiB
    assert.equal(kvBytesPerToken(getPreset('llama3-8b'), 2), 2 * 32 * 8 * 128 * 2); // 128 KiB
    assert.equal(kvBytesPerToken(getPreset('llama3-70b'), 2), 2 * 80 * 8 * 128 * 2); // 320 KiB
    assert.equal(kvBytesPerToken(getPreset('tiny'), 4), 2 * 2 * 2 * 16 * 4);
  });

  it('parameter counts of the published shapes match their names', () => {
    const billions = (name: PresetName): number => parameterCount(getPreset(name)) / 1e9;
    assert.ok(Math.abs(billions('llama2-7b') - 6.74) < 0.01, `llama2-7b: ${billions('llama2-7b')}`);
    assert.ok(Math.abs(billions('llama3-8b') - 8.03) < 0.01, `llama3-8b: ${billions('llama3-8b')}`);
    assert.ok(Math.abs(billions('llama3-70b') - 70.55) < 0.01, `llama3-70b: ${billions('llama3-70b')}`);
  });

  it('runnable presets cover the tokenizer vocabulary; size-only presets are flagged', () => {
    for (const name of Object.keys(MODEL_PRESETS) as PresetName[]) {
      const sizeOnly = isSizeOnlyPreset(name);
      assert.equal(sizeOnly, name.startsWith('llama'), name);
      if (!sizeOnly) assert.equal(getPreset(name).vocabSize, 50257, name);
    }
  });

  it('round-trips through a Hugging Face config.json', () => {
    for (const config of [getPreset('tiny'), getPreset('llama3-70b'), smallConfig({ headDim: 12 })]) {
      const hf = configToHuggingFace(config);
      assert.equal(hf.model_type, 'llama');
      assert.deepEqual(hf.architectures, ['LlamaForCausalLM']);
      const back = configFromHuggingFace(JSON.parse(JSON.stringify(hf)), config.name);
      assert.deepEqual({ ...back }, { ...config });
    }
  });

  it('applies LlamaConfig defaults for omitted fields', () => {
    const c = configFromHuggingFace({ hidden_size: 64, intermediate_size: 128, num_hidden_layers: 1, num_attention_heads: 4, vocab_size: 10 });
    assert.equal(c.numKvHeads, 4);
    assert.equal(c.headDim, 16);
    assert.equal(c.rmsNormEps, 1e-6);
    assert.equal(c.ropeTheta, 10000);
    assert.equal(c.maxContext, 2048);
    assert.equal(c.tieWordEmbeddings, false);
  });

  it('rejects bad configs with CONFIG_ERROR and unimplemented features with UNSUPPORTED_FORMAT', async () => {
    await expectCode(() => validateModelConfig(smallConfig({ numKvHeads: 3 })), 'CONFIG_ERROR', /multiple of numKvHeads/, { path: 'config.numHeads', expected: 'a multiple of numKvHeads (3)', received: '4' });
    await expectCode(() => validateModelConfig(smallConfig({ headDim: 7 })), 'CONFIG_ERROR', /even/);
    await expectCode(() => validateModelConfig(smallConfig({ numLayers: 0 })), 'CONFIG_ERROR', /numLayers/);
    await expectCode(() => validateModelConfig(smallConfig({ rmsNormEps: -1 })), 'CONFIG_ERROR', /rmsNormEps/);
    await expectCode(() => getPreset('gpt-5' as PresetName), 'CONFIG_ERROR', /known presets/);
    const hf = configToHuggingFace(smallConfig());
    await expectCode(() => configFromHuggingFace({ ...hf, hidden_size: undefined }), 'CONFIG_ERROR', /hidden_size/);
    await expectCode(() => configFromHuggingFace({ ...hf, vocab_size: '64' }), 'CONFIG_ERROR', /vocab_size/, { path: 'config.json.vocab_size', expected: 'a number', received: '"64"' });
    await expectCode(() => configFromHuggingFace([]), 'CONFIG_ERROR');
    await expectCode(() => configFromHuggingFace({ ...hf, rope_scaling: { rope_type: 'llama3', factor: 8 } }), 'UNSUPPORTED_FORMAT', /rope_scaling/);
    await expectCode(() => configFromHuggingFace({ ...hf, model_type: 'qwen2' }), 'UNSUPPORTED_FORMAT', /model_type/, { path: 'config.json.model_type', received: '"qwen2"' });
    await expectCode(() => configFromHuggingFace({ ...hf, attention_bias: true }), 'UNSUPPORTED_FORMAT', /bias/);
    await expectCode(() => configFromHuggingFace({ ...hf, hidden_act: 'gelu' }), 'UNSUPPORTED_FORMAT', /silu/);
    await expectCode(() => kvBytesPerToken(getPreset('tiny'), 0), 'CONFIG_ERROR');
  });
});
