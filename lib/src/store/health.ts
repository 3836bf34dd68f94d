import type { RedisNodeHealth } from './types';

/** Parse the text of `INFO` into `field → value` (section headers and blank lines skipped). */
export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

/** The health fields of one node from its `INFO` output. */
export function nodeHealthFromInfo(address: string, info: Record<string, string>, db = 0): RedisNodeHealth {
  const num = (k: string): number | undefined => (info[k] !== undefined && info[k] !== '' ? Number(info[k]) : undefined);
  const keyspace = info[`db${db}`];
  const keys = keyspace ? Number(/keys=(\d+)/.exec(keyspace)?.[1] ?? 0) : 0;
  return {
    address,
    reachable: true,
    role: info.role,
    version: info.redis_version,
    usedMemoryBytes: num('used_memory'),
    maxMemoryBytes: num('maxmemory'),
    maxmemoryPolicy: info.maxmemory_policy,
    keys,
  };
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(bytes < 10 * 1048576 ? 1 : 0)} MiB`;
}

/**
 * Warnings about a server configuration under which a KV cache misbehaves:
 * - `noeviction`: once `maxmemory` is reached every put fails (OOM) instead of evicting old blocks;
 * - `volatile-*` without a TTL on this store's keys: they can never be evicted (same failure);
 * - `maxmemory` 0: no limit, nothing is ever evicted, memory grows until the OS steps in.
 */
export function memoryWarnings(node: RedisNodeHealth, ttlSeconds: number | undefined): string[] {
  const w: string[] = [];
  const policy = node.maxmemoryPolicy;
  const where = node.address;
  if (policy === 'noeviction') {
    w.push(
      `${where}: maxmemory-policy is noeviction — when Redis reaches maxmemory${node.maxMemoryBytes ? ` (${mib(node.maxMemoryBytes)})` : ''} every put fails with OOM instead of evicting old blocks; use allkeys-lru (or allkeys-lfu) for a cache`,
    );
  } else if (policy?.startsWith('volatile-') && !ttlSeconds) {
    w.push(
      `${where}: maxmemory-policy is ${policy} but this store sets no TTL — its keys can never be evicted and puts fail once memory is full; set ttlSeconds or use allkeys-lru`,
    );
  }
  if (node.maxMemoryBytes === 0) {
    w.push(`${where}: maxmemory is 0 (no limit) — Redis never evicts and grows until the machine runs out of memory; set maxmemory (e.g. 2gb) with an allkeys-* policy`);
  }
  return w;
}
