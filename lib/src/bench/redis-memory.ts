/**
 * Redis' memory while something runs: `INFO memory` sampled from a separate connection, keeping the
 * peaks of `used_memory` and of `mem_clients_normal` (the query and output buffers of clients — where
 * a read's replies wait before they reach the socket). Redis' own `used_memory_peak` cannot be reset
 * (CONFIG RESETSTAT leaves it), so a peak during one operation has to be sampled.
 */
import { Redis } from 'ioredis';

export interface RedisMemoryPeak {
  /** Largest `used_memory` seen, minus the value before the operation. */
  usedDeltaBytes: number;
  /** Largest `mem_clients_normal` seen (client query + output buffers). */
  clientBuffersBytes: number;
  /** Samples taken. */
  samples: number;
}

function field(info: string, name: string): number {
  const m = new RegExp(`^${name}:(\\d+)`, 'm').exec(info);
  return m ? Number(m[1]) : 0;
}

/** Run `fn` while sampling the memory of the Redis at `url` as often as it answers; resolves to `fn`'s result and the peaks. */
export async function withRedisMemoryPeak<T>(url: string, fn: () => Promise<T>): Promise<{ result: T; peak: RedisMemoryPeak }> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const base = field(await client.info('memory'), 'used_memory');
    let used = base;
    let clients = 0;
    let samples = 0;
    let running = true;
    const sampler = (async () => {
      while (running) {
        const info = await client.info('memory').catch(() => '');
        if (!info) break;
        samples++;
        used = Math.max(used, field(info, 'used_memory'));
        clients = Math.max(clients, field(info, 'mem_clients_normal'));
      }
    })();
    let result: T;
    try {
      result = await fn();
    } finally {
      running = false;
      await sampler;
    }
    return { result, peak: { usedDeltaBytes: used - base, clientBuffersBytes: clients, samples } };
  } finally {
    client.disconnect();
  }
}
