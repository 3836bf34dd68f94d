/**
 * Sizing a Redis KV cache from the KV-size formula: how much memory holds the working set, and
 * what `maxmemory` and how many cluster masters that means. Every input is explicit.
 */
import { kvBytesPerToken, type KVShapeConfig } from '../model/config';
import { InvalidInputError } from '../runtime/errors';

/** What {@link sizeRedis} needs: the model shape, bytes per value, tokens to keep cached, and the Redis deployment's limits. */
export interface SizingInputs {
  /** Model shape (layers, kv heads, head dim); e.g. `getPreset('llama3-8b')`. */
  model: KVShapeConfig;
  /** Bytes per stored value: 2 for fp16/bf16, 1 for int8. */
  bytesPerValue: number;
  /** Distinct prefix tokens to keep cached (shared system prompts + live sessions' histories). */
  cachedTokens: number;
  /**
   * Tokens per block (one Redis key each).
   * @default 16
   */
  blockSize?: number;
  /**
   * Redis' own bytes per key (dict entry, key string, robj, allocator rounding).
   * @default 120
   */
  perKeyOverheadBytes?: number;
  /**
   * Headroom over the working set, for fragmentation and bursts (0.25 = 25 %).
   * @default 0.25
   */
  headroom?: number;
  /**
   * Memory of one Redis master you are willing to use, to derive the number of cluster masters.
   * @default 25 GiB
   */
  maxMemoryPerMasterBytes?: number;
  /**
   * Replicas per master (they double, triple… the memory bill, not the capacity).
   * @default 1
   */
  replicasPerMaster?: number;
}

/**
 * The defaults of {@link SizingInputs}: blocks of 16 tokens, 120 bytes of Redis overhead per key,
 * 25 % headroom, 25 GiB per master, one replica each.
 */
export const DEFAULT_SIZING_INPUTS = { blockSize: 16, perKeyOverheadBytes: 120, headroom: 0.25, maxMemoryPerMasterBytes: 25 * 2 ** 30, replicasPerMaster: 1 } as const;

/**
 * What {@link sizeRedis} computes: bytes per token and per block, keys, working set, `maxmemory`,
 * masters and the memory of all nodes.
 */
export interface SizingResult {
  inputs: Required<SizingInputs>;
  kvBytesPerToken: number;
  blockValueBytes: number;
  keys: number;
  workingSetBytes: number;
  /** Working set + headroom: set `maxmemory` to this (per master: divide by `masters`). */
  maxmemoryBytes: number;
  masters: number;
  /** Memory of all nodes, replicas included. */
  totalMemoryBytes: number;
}

/** Size a Redis deployment for a KV cache: the memory, keys and masters that hold `cachedTokens` tokens of this model. */
export function sizeRedis(inputs: SizingInputs): SizingResult {
  const i = { ...DEFAULT_SIZING_INPUTS, ...inputs };
  for (const k of ['bytesPerValue', 'cachedTokens', 'blockSize', 'maxMemoryPerMasterBytes'] as const) {
    const v = i[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw InvalidInputError.at(`inputs.${k}`, 'a positive number', v);
  }
  if (!Number.isInteger(i.replicasPerMaster) || i.replicasPerMaster < 0) throw InvalidInputError.at('inputs.replicasPerMaster', 'a whole number ≥ 0', i.replicasPerMaster);
  if (!(i.headroom >= 0)) throw InvalidInputError.at('inputs.headroom', 'a number ≥ 0', i.headroom);
  const perToken = kvBytesPerToken(i.model, i.bytesPerValue);
  const blockValueBytes = perToken * i.blockSize;
  const keys = Math.ceil(i.cachedTokens / i.blockSize);
  const workingSetBytes = keys * (blockValueBytes + i.perKeyOverheadBytes);
  const maxmemoryBytes = Math.ceil(workingSetBytes * (1 + i.headroom));
  const masters = Math.max(1, Math.ceil(maxmemoryBytes / i.maxMemoryPerMasterBytes));
  return { inputs: i, kvBytesPerToken: perToken, blockValueBytes, keys, workingSetBytes, maxmemoryBytes, masters, totalMemoryBytes: maxmemoryBytes * (1 + i.replicasPerMaster) };
}
