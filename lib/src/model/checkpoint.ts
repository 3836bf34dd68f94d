import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { ConfigError, CorruptEntryError, ModelMismatchError, UnsupportedFormatError } from '../runtime/errors';
import type { ModelConfig } from './config';
import { configFromHuggingFace, configToHuggingFace } from './hf-config';
import { SafetensorsReader, writeSafetensors } from './safetensors';
import { weightSpecs, type LlamaWeights } from './weights';

/** File names of a Hugging Face checkpoint folder. */
export const CHECKPOINT_FILES = { weights: 'model.safetensors', config: 'config.json', shardIndex: 'model.safetensors.index.json' } as const;

// Tensors some HF exports carry that hold no learned weights (RoPE frequencies are recomputed from rope_theta).
const IGNORED_TENSOR = /^model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq$/;

/**
 * Pick a model's weights out of a safetensors checkpoint in the HF Llama layout.
 * Missing tensors, wrong shapes and unexpected tensors (biases, other architectures) throw
 * `ModelMismatchError`: the checkpoint does not match config.json. With tied embeddings a stray
 * `lm_head.weight` is ignored, as `transformers` does (it re-ties the head to the embedding).
 */
export function weightsFromSafetensors(bytes: Uint8Array, config: ModelConfig): LlamaWeights {
  const reader = new SafetensorsReader(bytes);
  const weights: LlamaWeights = new Map();
  const expected = new Set<string>();
  for (const spec of weightSpecs(config)) {
    expected.add(spec.name);
    const info = reader.tensors.get(spec.name);
    const where = `${CHECKPOINT_FILES.weights}[${JSON.stringify(spec.name)}]`;
    if (info === undefined) {
      throw new ModelMismatchError({ message: `checkpoint lacks tensor ${spec.name} that config.json implies`, path: where, expected: `a tensor [${spec.shape.join(', ')}] (config.json implies it)`, received: 'no such tensor' });
    }
    if (info.shape.length !== spec.shape.length || info.shape.some((d, i) => d !== spec.shape[i])) {
      throw new ModelMismatchError({
        message: `checkpoint tensor ${spec.name} has shape [${info.shape.join(', ')}] but config.json implies [${spec.shape.join(', ')}]`,
        path: `${where}.shape`,
        expected: `[${spec.shape.join(', ')}] (config.json implies it)`,
        received: `[${info.shape.join(', ')}]`,
      });
    }
    weights.set(spec.name, reader.float32(spec.name));
  }
  for (const name of reader.names()) {
    if (expected.has(name) || IGNORED_TENSOR.test(name) || (config.tieWordEmbeddings && name === 'lm_head.weight')) continue;
    throw new ModelMismatchError({
      message: `checkpoint has tensor ${name} that a Llama model with this config.json does not use`,
      path: `${CHECKPOINT_FILES.weights}[${JSON.stringify(name)}]`,
      expected: 'only the tensors a Llama model with this config.json uses',
      received: 'a tensor it does not use',
    });
  }
  return weights;
}

/** Safetensors bytes (F32, canonical tensor order, `format: pt` metadata as `transformers` expects). */
export function weightsToSafetensors(config: ModelConfig, weights: LlamaWeights, metadata: Record<string, string> = {}): Uint8Array {
  const tensors = weightSpecs(config).map((spec) => {
    const data = weights.get(spec.name);
    if (data === undefined) throw new ModelMismatchError({ path: `weights[${JSON.stringify(spec.name)}]`, expected: `a tensor [${spec.shape.join(', ')}]`, received: 'undefined' });
    return { name: spec.name, shape: spec.shape, data };
  });
  return writeSafetensors(tensors, { format: 'pt', ...metadata });
}

/** Read `config.json` + `model.safetensors` from a folder. */
export async function readCheckpoint(dir: string): Promise<{ config: Readonly<ModelConfig>; weights: LlamaWeights }> {
  const configPath = path.join(dir, CHECKPOINT_FILES.config);
  const weightsPath = path.join(dir, CHECKPOINT_FILES.weights);
  let configText: string;
  try {
    configText = await fs.readFile(configPath, 'utf8');
  } catch (err) {
    throw new ConfigError({ message: `cannot read ${configPath}: ${(err as Error).message}`, path: configPath, expected: 'a readable config.json', received: errnoOf(err) }, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(configText);
  } catch (err) {
    throw new ConfigError({ message: `${configPath} is not valid JSON: ${(err as Error).message}`, path: configPath, expected: 'valid JSON', received: (err as Error).message }, { cause: err });
  }
  const config = configFromHuggingFace(json, path.basename(path.resolve(dir)));
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(weightsPath);
  } catch (err) {
    const sharded = await fs
      .access(path.join(dir, CHECKPOINT_FILES.shardIndex))
      .then(() => true)
      .catch(() => false);
    if (sharded) {
      throw new UnsupportedFormatError({
        message: `${dir} holds a sharded checkpoint (${CHECKPOINT_FILES.shardIndex}); only a single ${CHECKPOINT_FILES.weights} is supported`,
        path: dir,
        expected: `a single ${CHECKPOINT_FILES.weights}`,
        received: `a sharded checkpoint (${CHECKPOINT_FILES.shardIndex})`,
      });
    }
    throw new CorruptEntryError({ message: `cannot read ${weightsPath}: ${(err as Error).message}`, path: weightsPath, expected: `a readable ${CHECKPOINT_FILES.weights}`, received: errnoOf(err) }, { cause: err });
  }
  return { config, weights: weightsFromSafetensors(bytes, config) };
}

/** Write `config.json` + `model.safetensors` into a folder (created if missing). */
export async function writeCheckpoint(dir: string, config: ModelConfig, weights: LlamaWeights, metadata: Record<string, string> = {}): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, CHECKPOINT_FILES.weights), weightsToSafetensors(config, weights, metadata));
  await fs.writeFile(path.join(dir, CHECKPOINT_FILES.config), JSON.stringify(configToHuggingFace(config), null, 2) + '\n');
}

/** The short reason a file could not be read: its errno code (`ENOENT`) or else the message. */
function errnoOf(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
}
