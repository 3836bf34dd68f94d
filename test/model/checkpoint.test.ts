import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LlamaModel, SafetensorsReader, createModel, writeSafetensors, type LlamaWeights } from '../../lib/src/model';
import { FIXTURE_DIR, REPO_ROOT, assertClose, checkAgainstReference, expectCode, smallConfig, tokenIds, type Reference } from './helpers';

const PYTHON = '/usr/bin/python3';
const REFERENCE_SCRIPT = path.join(REPO_ROOT, 'scripts', 'reference', 'llama_reference.py');

function pythonWithNumpy(): boolean {
  return spawnSync(PYTHON, ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;
}

function sameBits(a: LlamaWeights, b: LlamaWeights): void {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  for (const [name, x] of a) {
    const y = b.get(name) as Float32Array;
    assert.ok(Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(y.buffer, y.byteOffset, y.byteLength)), `${name} differs`);
  }
}

describe('checkpoints: safetensors in the Hugging Face Llama layout', function () {
  let tmp: string;
  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'kvlab-model-'));
  });
  after(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('save → load round-trips bit-exactly (tied and untied heads), keeping the fingerprint', async () => {
    for (const [label, create] of [
      ['tiny preset (tied)', () => createModel('tiny', { seed: 4 })],
      ['small untied', () => createModel(smallConfig(), { seed: 4 })],
    ] as const) {
      const model = await create();
      const dir = path.join(tmp, label.replace(/\W+/g, '-'));
      await model.save(dir);
      const loaded = await LlamaModel.load(dir);
      try {
        assert.equal(loaded.fingerprint, model.fingerprint, label);
        sameBits(loaded.getWeights(), model.getWeights());
        const bytes = await fs.readFile(path.join(dir, 'model.safetensors'));
        assert.ok(Buffer.from(loaded.toSafetensors()).equals(bytes), `${label}: re-saved bytes differ`);
        const reader = new SafetensorsReader(bytes);
        assert.equal(reader.has('lm_head.weight'), !model.config.tieWordEmbeddings);
        assert.equal(reader.metadata.format, 'pt');
        const prompt = tokenIds(6, model.config.vocabSize);
        const a = await model.prefill(prompt);
        const b = await loaded.prefill(prompt);
        assertClose(a.logits, b.logits, 0, `${label}: logits`);
        a.kv.dispose();
        b.kv.dispose();
        const hf = JSON.parse(await fs.readFile(path.join(dir, 'config.json'), 'utf8'));
        assert.equal(hf.num_key_value_heads, model.config.numKvHeads);
        assert.equal(hf.tie_word_embeddings, model.config.tieWordEmbeddings);
      } finally {
        model.dispose();
        loaded.dispose();
      }
    }
  });

  it('a half-precision checkpoint re-saved as F32 keeps its fingerprint', async () => {
    const original = await LlamaModel.load(FIXTURE_DIR);
    const dir = path.join(tmp, 'fixture-f32');
    await original.save(dir);
    const reloaded = await LlamaModel.load(dir);
    assert.equal(reloaded.fingerprint, original.fingerprint);
    assert.deepEqual(new Set([...new SafetensorsReader(await fs.readFile(path.join(dir, 'model.safetensors'))).tensors.values()].map((t) => t.dtype)), new Set(['F32']));
    original.dispose();
    reloaded.dispose();
  });

  it('checkpoints saved by the library are read correctly by the independent numpy reference', async function () {
    if (!pythonWithNumpy()) this.skip();
    for (const [label, config] of [
      ['untied GQA', smallConfig({ numHeads: 6, numKvHeads: 2, headDim: 6 })],
      ['tied MQA', smallConfig({ numKvHeads: 1, tieWordEmbeddings: true, ropeTheta: 500000 })],
    ] as const) {
      const model = await createModel(config, { seed: 21 });
      const dir = path.join(tmp, `py-${label.replace(/\W+/g, '-')}`);
      await model.save(dir);
      const prompt = tokenIds(10, config.vocabSize, 5);
      const run = spawnSync(PYTHON, [REFERENCE_SCRIPT, 'logits', dir, '--tokens', prompt.join(','), '--greedy', '5'], { encoding: 'utf8' });
      assert.equal(run.status, 0, run.stderr);
      await checkAgainstReference(model, JSON.parse(run.stdout) as Reference);
      model.dispose();
    }
  });

  it('checkpoints that do not match config.json are refused with MODEL_MISMATCH', async () => {
    const model = await createModel(smallConfig(), { seed: 8 });
    const dir = path.join(tmp, 'broken');
    await model.save(dir);
    const saved = new SafetensorsReader(model.toSafetensors());
    model.dispose();
    const config = JSON.parse(await fs.readFile(path.join(dir, 'config.json'), 'utf8'));
    const tensors = saved.names().map((name) => ({ name, shape: saved.tensors.get(name)!.shape, data: saved.float32(name) }));
    const write = async (list: { name: string; shape: number[]; data: Float32Array }[]): Promise<void> =>
      fs.writeFile(path.join(dir, 'model.safetensors'), writeSafetensors(list));

    await write(tensors.filter((t) => t.name !== 'model.layers.1.mlp.up_proj.weight'));
    await expectCode(() => LlamaModel.load(dir), 'MODEL_MISMATCH', /lacks tensor model\.layers\.1\.mlp\.up_proj\.weight/);
    await write(tensors.map((t) => (t.name === 'model.norm.weight' ? { ...t, shape: [4, 8] } : t)));
    await expectCode(() => LlamaModel.load(dir), 'MODEL_MISMATCH', /model\.norm\.weight has shape \[4, 8\]/);
    await write([...tensors, { name: 'model.layers.0.self_attn.q_proj.bias', shape: [32], data: new Float32Array(32) }]);
    await expectCode(() => LlamaModel.load(dir), 'MODEL_MISMATCH', /q_proj\.bias/);
    // Old HF exports carry rotary inv_freq buffers: ignored.
    await write([...tensors, { name: 'model.layers.0.self_attn.rotary_emb.inv_freq', shape: [4], data: new Float32Array(4) }]);
    (await LlamaModel.load(dir)).dispose();
    await fs.writeFile(path.join(dir, 'config.json'), JSON.stringify({ ...config, num_hidden_layers: 3 }));
    await expectCode(() => LlamaModel.load(dir), 'MODEL_MISMATCH', /layers\.2/);
    await fs.writeFile(path.join(dir, 'config.json'), '{ not json');
    await expectCode(() => LlamaModel.load(dir), 'CONFIG_ERROR', /not valid JSON/);
    await fs.writeFile(path.join(dir, 'config.json'), JSON.stringify(config));
    const bytes = await fs.readFile(path.join(dir, 'model.safetensors'));
    await fs.writeFile(path.join(dir, 'model.safetensors'), bytes.subarray(0, bytes.length - 10));
    await expectCode(() => LlamaModel.load(dir), 'CORRUPT_ENTRY', /truncated/);
    await fs.rm(path.join(dir, 'model.safetensors'));
    await fs.writeFile(path.join(dir, 'model.safetensors.index.json'), '{}');
    await expectCode(() => LlamaModel.load(dir), 'UNSUPPORTED_FORMAT', /sharded/);
    await expectCode(() => LlamaModel.load(path.join(tmp, 'no-such-dir')), 'CONFIG_ERROR', /config\.json/);
  });
});
