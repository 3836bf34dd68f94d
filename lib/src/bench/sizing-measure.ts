/**
 * What a KV block really costs Redis: store values of the sizes the course uses under keys of the
 * lab's shape and ask the server (`MEMORY USAGE`), next to what the sizing model predicts
 * ({@link redisEntryBytes}). `npm run bench:sizing` writes it to results/sizing.json.
 */
import * as os from 'node:os';
import { Redis } from 'ioredis';
import { kvBytesPerToken } from '../model/config';
import { getPreset, type PresetName } from '../model/presets';
import { HEADER_BYTES } from '../serde/header';
import { parseInfo } from '../store/health';
import { redactStoreUrl } from '../store/url';
import { libVersion, packageVersion } from '../runtime/versions';
import { redisEntryBytes } from './sizing';

/** One measured block size. */
export interface EntryCostRow {
  /** What the block is: a model, its encoding, tokens per block. */
  block: string;
  valueBytes: number;
  /** `MEMORY USAGE` of the key. */
  memoryUsageBytes: number;
  /** What `redisEntryBytes` predicts. */
  modelBytes: number;
  /** memoryUsage ÷ value − 1: what Redis adds on top of the value (allocator rounding, key, headers). */
  overhead: number;
}

export interface EntryCostResult {
  benchmark: 'sizing';
  date: string;
  redis: { url: string; version: string; allocator: string };
  machine: { platform: string; arch: string };
  versions: { node: string; kvcacheLab: string; ioredis: string };
  rows: EntryCostRow[];
}

/** The blocks of the course: the lab's two runnable models and real shapes, fp16, 16 tokens. */
export const COURSE_BLOCKS: readonly { model: PresetName; bytesPerValue: number; tokens: number }[] = [
  { model: 'tiny', bytesPerValue: 2, tokens: 16 },
  { model: 'default', bytesPerValue: 2, tokens: 16 },
  { model: 'llama3-8b', bytesPerValue: 2, tokens: 16 },
  { model: 'llama3-8b', bytesPerValue: 1, tokens: 16 },
  { model: 'llama3-70b', bytesPerValue: 2, tokens: 16 },
  { model: 'llama2-7b', bytesPerValue: 2, tokens: 16 },
];

/** Measure `MEMORY USAGE` of one key per course block size on the Redis at `url` (its keys are removed again). */
export async function measureEntryCost(url: string, blocks = COURSE_BLOCKS): Promise<EntryCostResult> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await client.connect();
  try {
    const info = parseInfo(await client.info('server'));
    const mem = parseInfo(await client.info('memory'));
    const rows: EntryCostRow[] = [];
    for (const b of blocks) {
      const valueBytes = b.tokens * kvBytesPerToken(getPreset(b.model), b.bytesPerValue) + HEADER_BYTES;
      // A key of the lab's shape: kvlab:<namespace>:<64 hex> (86 bytes with a 14-character namespace).
      const key = `kvlab:sizing-${process.pid.toString(36).padStart(6, '0').slice(-6)}:${'0'.repeat(64)}`;
      await client.set(key, Buffer.alloc(valueBytes, 1));
      const usage = Number(await client.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
      await client.del(key);
      rows.push({
        block: `${b.model}, ${b.bytesPerValue === 2 ? 'fp16' : b.bytesPerValue === 1 ? 'int8' : `${b.bytesPerValue} B/value`}, ${b.tokens} tokens`,
        valueBytes,
        memoryUsageBytes: usage,
        modelBytes: redisEntryBytes(valueBytes, key.length),
        overhead: Math.round((usage / valueBytes - 1) * 10_000) / 10_000,
      });
    }
    return {
      benchmark: 'sizing',
      date: new Date().toISOString(),
      redis: { url: redactStoreUrl(url), version: info.redis_version ?? 'unknown', allocator: mem.mem_allocator ?? 'unknown' },
      machine: { platform: os.platform(), arch: os.arch() },
      versions: { node: process.version, kvcacheLab: libVersion(), ioredis: packageVersion('ioredis') },
      rows,
    };
  } finally {
    client.disconnect();
  }
}
