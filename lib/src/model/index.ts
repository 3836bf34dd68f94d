/**
 * The model layer: a Llama-architecture transformer on TensorFlow.js with an explicit KV cache,
 * seeded weights with a fingerprint, Hugging Face safetensors checkpoints, and a BPE tokenizer.
 */
export {
  type ModelConfig,
  type KVShapeConfig,
  ARCHITECTURE_FIELDS,
  validateModelConfig,
  kvBytesPerToken,
  parameterCount,
} from './config';
export {
  type PresetName,
  type RunnablePresetName,
  type SizeOnlyPresetName,
  MODEL_PRESETS,
  getPreset,
  isPresetName,
  isSizeOnlyPreset,
} from './presets';
export { type HuggingFaceLlamaConfig, configFromHuggingFace, configToHuggingFace } from './hf-config';
export { type SafetensorsDtype, type SafetensorsTensorInfo, type SafetensorsTensor, SafetensorsReader, writeSafetensors } from './safetensors';
export { type LlamaWeights, type WeightSpec, weightSpecs, initWeights, computeFingerprint } from './weights';
export { CHECKPOINT_FILES, weightsFromSafetensors, weightsToSafetensors, readCheckpoint, writeCheckpoint } from './checkpoint';
export { type RopeTables, ropeTables } from './rope';
export { type KVCacheArrays, type KVCacheInit, KVCache, KV_BYTES_PER_VALUE } from './kv-cache';
export { argmax } from './inputs';
export { type RankHeads, kvHeadsOfRank, shardKV, joinKVShards, reshardKV } from './tensor-parallel';
export {
  type ModelOptions,
  type CreateModelOptions,
  type GenerateOptions,
  type ForwardResult,
  type GenerateResult,
  DEFAULT_MODEL_OPTIONS,
  DEFAULT_GENERATE_OPTIONS,
  LlamaModel,
  createModel,
  loadModel,
} from './transformer';
export { type TokenizerEncoding, Tokenizer } from './tokenizer';
export type { AttentionTrace } from './attention-trace';
