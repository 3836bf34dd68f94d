/**
 * Sizing a Redis KV cache from the KV-size formula: how much memory holds the working set, and
 * what `maxmemory` and how many cluster masters that means. Every input is explicit.
 *
 * What one key costs Redis is modelled on how Redis 7 with jemalloc stores a string, and checked
 * against `MEMORY USAGE` on a real server (test/bench/sizing.test.ts, `npm run bench:sizing`): the
 * value lives in one allocation (an sds header + the bytes + a terminator) that jemalloc rounds up to
 * its next size class — four classes per doubling, so a 2 MiB block + its 160-byte header takes
 * 2.5 MiB, 25 % more — plus the key's own allocation, an object header and a dictionary entry.
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
   * Bytes of the stored value beyond the KV itself (the entry's header; 160 in format 3). @default 160
   */
  entryHeaderBytes?: number;
  /** Length of a key (`kvlab:<namespace>:<64 hex>`). @default 86 */
  keyBytes?: number;
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
 * The defaults of {@link SizingInputs}: blocks of 16 tokens, format 3's 160-byte entry header, an
 * 86-byte key, 25 % headroom, 25 GiB per master, one replica each.
 */
export const DEFAULT_SIZING_INPUTS = { blockSize: 16, entryHeaderBytes: 160, keyBytes: 86, headroom: 0.25, maxMemoryPerMasterBytes: 25 * 2 ** 30, replicasPerMaster: 1 } as const;

/** The size class jemalloc (Redis' default allocator) serves a request of `bytes` from. */
export function jemallocSizeClass(bytes: number): number {
  if (!Number.isInteger(bytes) || bytes < 1) throw InvalidInputError.at('bytes', 'an integer ≥ 1', bytes);
  if (bytes <= 8) return 8;
  if (bytes <= 128) return Math.ceil(bytes / 16) * 16;
  // Above 128 bytes: four classes per doubling, spaced a quarter of the lower power of two.
  const k = Math.floor(Math.log2(bytes - 1));
  const spacing = 2 ** (k - 2);
  return Math.ceil(bytes / spacing) * spacing;
}

/** Bytes of the header of an sds string of `length` bytes (Redis picks the smallest type that fits). */
function sdsHeaderBytes(length: number): number {
  return length < 32 ? 1 : length < 256 ? 3 : length < 65536 ? 5 : length < 2 ** 32 ? 9 : 17;
}

/**
 * What `MEMORY USAGE` reports for a string key holding `valueBytes` (Redis 7, jemalloc): the value's
 * allocation rounded to its size class, the key's, a 16-byte object header and a 24-byte dictionary
 * entry.
 */
export function redisEntryBytes(valueBytes: number, keyBytes: number = DEFAULT_SIZING_INPUTS.keyBytes): number {
  const alloc = (n: number): number => jemallocSizeClass(n + sdsHeaderBytes(n) + 1);
  return alloc(valueBytes) + alloc(keyBytes) + 16 + 24;
}

/**
 * What {@link sizeRedis} computes: bytes per token and per block, keys, working set, `maxmemory`,
 * masters and the memory of all nodes.
 */
export interface SizingResult {
  inputs: Required<SizingInputs>;
  kvBytesPerToken: number;
  /** Bytes of one stored value: the block's KV + the entry header. */
  blockValueBytes: number;
  /** What one key costs Redis (`MEMORY USAGE`): the value rounded to jemalloc's size class, plus the key's overhead. */
  bytesPerKey: number;
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
  const blockValueBytes = perToken * i.blockSize + i.entryHeaderBytes;
  const bytesPerKey = redisEntryBytes(blockValueBytes, i.keyBytes);
  const keys = Math.ceil(i.cachedTokens / i.blockSize);
  const workingSetBytes = keys * bytesPerKey;
  const maxmemoryBytes = Math.ceil(workingSetBytes * (1 + i.headroom));
  const masters = Math.max(1, Math.ceil(maxmemoryBytes / i.maxMemoryPerMasterBytes));
  return { inputs: i, kvBytesPerToken: perToken, blockValueBytes, bytesPerKey, keys, workingSetBytes, maxmemoryBytes, masters, totalMemoryBytes: maxmemoryBytes * (1 + i.replicasPerMaster) };
}
