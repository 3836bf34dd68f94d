/**
 * The (server, client) pairs of the backends benchmark behind one face ({@link BackendTarget}): raw
 * clients (ioredis, node-redis, valkey-glide, memcached) and our stores, each on a private server
 * started on loopback. A target whose server or client is unavailable is reported, not thrown.
 */
import { Redis } from 'ioredis';
import { packageVersion } from '../runtime/versions';
import { errorText } from '../runtime/errors';
import { startEmbeddedRedis, type EmbeddedRedis } from '../store/embedded-redis';
import { LocalRedisCluster } from '../store/local-cluster';
import { MemoryStore } from '../store/memory-store';
import { RedisClusterStore } from '../store/redis-cluster-store';
import { RedisStore } from '../store/redis-store';
import { MemcachedMetaClient, startMemcached, type MemcachedServer } from './memcached';
import { DEFAULT_BACKENDS_BENCH_OPTIONS, type BackendTargetId, type BackendTargetInfo } from './backends';
import { MiB } from '../runtime/units';


/**
 * One (server, client) pair behind a uniform face. Keys are 64-hex block hashes (raw clients prefix
 * them like the stores do); values are Buffers.
 */
export interface BackendTarget {
  info: BackendTargetInfo;
  /** Write every value under its key, all in flight at once; throws unless every write succeeded. */
  write(keys: string[], values: Buffer[]): Promise<void>;
  /** Read every key, all in flight at once; `undefined` for a miss. */
  read(keys: string[]): Promise<(Buffer | undefined)[]>;
  /** One batched existence lookup. */
  exists(keys: string[]): Promise<boolean[]>;
  remove(keys: string[]): Promise<void>;
  close(): Promise<void>;
}

/** Keys are 64-hex block hashes; raw clients prefix them like the stores do. */
const rawKey = (client: string, hash: string): string => `kvlab:bench-${client}:${hash}`;

interface Servers {
  redis?: EmbeddedRedis;
  cluster?: LocalRedisCluster;
  memcached?: MemcachedServer;
}

function ensure(cond: boolean, message: string): void {
  if (!cond) throw new Error(message);
}

async function makeTarget(id: BackendTargetId, servers: Servers, maxValueBytes: number): Promise<BackendTarget> {
  const redisPort = (): number => {
    if (!servers.redis) throw new Error('redis-server did not start');
    return servers.redis.port;
  };
  const storeMax = Math.max(maxValueBytes, 8 * MiB);
  switch (id) {
    case 'redis/ioredis': {
      const r = new Redis({ host: '127.0.0.1', port: redisPort(), lazyConnect: true, maxRetriesPerRequest: 0 });
      await r.connect();
      const k = (h: string): string => rawKey('ioredis', h);
      return {
        info: info(id, 'Redis (standalone)', `ioredis ${packageVersion('ioredis')}`, { write: 'SET per block, all in flight on one connection', read: 'getBuffer per block, all in flight on one connection', lookup: 'EXISTS × n in one pipeline' }),
        async write(keys, values) {
          const out = await Promise.all(keys.map((h, i) => r.set(k(h), values[i]!)));
          ensure(out.every((x) => x === 'OK'), 'SET failed');
        },
        async read(keys) {
          return (await Promise.all(keys.map((h) => r.getBuffer(k(h))))).map((v) => v ?? undefined);
        },
        async exists(keys) {
          const p = r.pipeline();
          for (const h of keys) p.exists(k(h));
          const out = (await p.exec()) ?? [];
          return out.map(([err, n]) => {
            if (err) throw err;
            return n === 1;
          });
        },
        async remove(keys) {
          if (keys.length) await r.del(...keys.map(k));
        },
        async close() {
          r.disconnect();
        },
      };
    }
    case 'redis/RedisStore': {
      const store = new RedisStore({ host: '127.0.0.1', port: redisPort(), namespace: 'bench-store', name: 'bench-backends', commandTimeout: 120_000, maxValueBytes: storeMax });
      if (!(await store.ready())) throw new Error('RedisStore could not connect');
      return storeTarget(id, store, 'Redis (standalone)', `kvcache-lab RedisStore (ioredis ${packageVersion('ioredis')} + own bulk read connection)`, { write: 'put(): SET NX per block, written back to back without waiting', read: 'get(): GET per block over the store\'s bulk read connection, all in one round trip', lookup: 'has(): EXISTS × n in one pipeline' });
    }
    case 'redis/node-redis': {
      const redis = await import('redis');
      const client = redis.createClient({ socket: { host: '127.0.0.1', port: redisPort() } });
      client.on('error', () => undefined);
      await client.connect();
      const bin = client.withTypeMapping({ [redis.RESP_TYPES.BLOB_STRING]: Buffer });
      const k = (h: string): string => rawKey('node-redis', h);
      return {
        info: info(id, 'Redis (standalone)', `node-redis (redis) ${packageVersion('redis')}`, { write: 'SET per block, all in flight on one connection', read: 'GET per block with the BLOB_STRING → Buffer type mapping, all in flight on one connection', lookup: 'EXISTS × n in multi().execAsPipeline()' }),
        async write(keys, values) {
          const out = await Promise.all(keys.map((h, i) => client.set(k(h), values[i]!)));
          ensure(out.every((x) => x === 'OK'), 'SET failed');
        },
        async read(keys) {
          const out = await Promise.all(keys.map((h) => bin.get(k(h))));
          return out.map((v) => (v === null ? undefined : (v as unknown as Buffer)));
        },
        async exists(keys) {
          const m = client.multi();
          for (const h of keys) m.exists(k(h));
          const out = (await m.execAsPipeline()) as unknown as number[];
          return out.map((n) => n === 1);
        },
        async remove(keys) {
          if (keys.length) await client.del(keys.map(k));
        },
        async close() {
          client.destroy();
        },
      };
    }
    case 'redis/valkey-glide': {
      const glide = await import('@valkey/valkey-glide');
      const client = await glide.GlideClient.createClient({ addresses: [{ host: '127.0.0.1', port: redisPort() }], requestTimeout: 120_000 });
      const k = (h: string): string => rawKey('glide', h);
      return {
        info: info(id, 'Redis (standalone)', `@valkey/valkey-glide ${packageVersion('@valkey/valkey-glide')}`, { write: 'SET per block, all in flight on one (multiplexed) client', read: 'GET per block with Decoder.Bytes, all in flight', lookup: 'EXISTS × n in one non-atomic Batch (exec)' }),
        async write(keys, values) {
          const out = await Promise.all(keys.map((h, i) => client.set(k(h), values[i]!)));
          ensure(out.every((x) => x === 'OK'), 'SET failed');
        },
        async read(keys) {
          const out = await Promise.all(keys.map((h) => client.get(k(h), { decoder: glide.Decoder.Bytes })));
          return out.map((v) => (v === null ? undefined : (v as Buffer)));
        },
        async exists(keys) {
          const b = new glide.Batch(false);
          for (const h of keys) b.exists([k(h)]);
          const out = (await client.exec(b, true)) ?? [];
          return out.map((n) => n === 1);
        },
        async remove(keys) {
          if (keys.length) await client.del(keys.map(k));
        },
        async close() {
          client.close();
        },
      };
    }
    case 'redis-cluster/RedisClusterStore': {
      if (!servers.cluster) throw new Error('Redis Cluster did not start');
      const store = new RedisClusterStore({
        nodes: servers.cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
        namespace: 'bench-cluster',
        name: 'bench-backends-cluster',
        commandTimeout: 120_000,
        maxValueBytes: storeMax,
      });
      if (!(await store.ready())) throw new Error('RedisClusterStore could not connect');
      return storeTarget(id, store, `Redis Cluster (${servers.cluster.nodes.length} masters)`, `kvcache-lab RedisClusterStore (ioredis ${packageVersion('ioredis')} Cluster)`, { write: 'put(): SET NX per block, back to back per master, masters in parallel', read: 'get(): MGET per hash slot, one pipeline per master, masters in parallel', lookup: 'has(): EXISTS × n, one pipeline per master, masters in parallel' });
    }
    case 'memcached/memjs': {
      if (!servers.memcached) throw new Error('memcached did not start');
      const memjs = (await import('memjs')).default;
      const client = memjs.Client.create(`127.0.0.1:${servers.memcached.port}`, {
        timeout: 120,
        conntimeout: 10,
        retries: 1,
        logger: { log: () => undefined },
      });
      const k = (h: string): string => rawKey('memjs', h);
      return {
        info: info(id, memcachedLabel(servers.memcached), `memjs ${packageVersion('memjs')}`, { write: 'set per block (binary protocol), all in flight on one connection', read: 'get per block, all in flight on one connection', lookup: 'get × n in flight (memjs has no exists and no multi-get)' }),
        async write(keys, values) {
          const out = await Promise.all(keys.map((h, i) => client.set(k(h), values[i]!, { expires: 0 })));
          ensure(out.every(Boolean), 'set failed');
        },
        async read(keys) {
          const out = await Promise.all(keys.map((h) => client.get(k(h))));
          return out.map((r) => r.value ?? undefined);
        },
        async exists(keys) {
          const out = await Promise.all(keys.map((h) => client.get(k(h))));
          return out.map((r) => r.value !== null);
        },
        async remove(keys) {
          await Promise.all(keys.map((h) => client.delete(k(h))));
        },
        async close() {
          client.close();
        },
      };
    }
    case 'memcached/meta-client': {
      if (!servers.memcached) throw new Error('memcached did not start');
      const client = await MemcachedMetaClient.connect(servers.memcached.port);
      const k = (h: string): string => rawKey('meta', h);
      return {
        info: info(id, memcachedLabel(servers.memcached), 'MemcachedMetaClient (this file, bench only)', { write: 'ms per block (meta protocol), all in flight on one connection', read: 'mg … v per block, all in flight on one connection', lookup: 'mg without flags (no value returned) × n in one write' }),
        async write(keys, values) {
          const out = await Promise.all(keys.map((h, i) => client.set(k(h), values[i]!)));
          const bad = out.find((x) => x !== 'HD');
          ensure(bad === undefined, `ms: ${bad}`);
        },
        read(keys) {
          return Promise.all(keys.map((h) => client.get(k(h))));
        },
        exists(keys) {
          return client.exists(keys.map(k));
        },
        async remove(keys) {
          await Promise.all(keys.map((h) => client.delete(k(h))));
        },
        async close() {
          client.close();
        },
      };
    }
    case 'memory/MemoryStore': {
      const store = new MemoryStore({ name: 'bench-backends-memory', maxBytes: 4 * 1024 * MiB, copy: true });
      return storeTarget(id, store, 'in-process (no server)', 'kvcache-lab MemoryStore({ copy: true })', { write: 'put() copies each value into the LRU map (copy: true)', read: 'get() copies each value out (copy: true; the default copy: false shares buffers and moves no bytes)', lookup: 'has(): Map lookups' });
    }
  }
}

function memcachedLabel(m: MemcachedServer): string {
  return `memcached (${m.args.slice(4).join(' ')})`;
}

function info(id: BackendTargetId, server: string, client: string, how: BackendTargetInfo['how']): BackendTargetInfo {
  return { id, server, client, how, available: true };
}

function storeTarget(
  id: BackendTargetId,
  store: RedisStore | RedisClusterStore | MemoryStore,
  server: string,
  client: string,
  how: BackendTargetInfo['how'],
): BackendTarget {
  return {
    info: info(id, server, client, how),
    async write(keys, values) {
      const r = await store.put(keys.map((hash, i) => ({ hash, value: values[i]! })));
      ensure(r.stored === keys.length, `put stored ${r.stored} of ${keys.length} (${r.failed} failed, ${r.existing} existed)`);
    },
    read(keys) {
      return store.get(keys);
    },
    exists(keys) {
      return store.has(keys);
    },
    async remove(keys) {
      await store.delete(keys);
    },
    close() {
      return store.close();
    },
  };
}

export interface OpenBackendsOptions {
  /** Largest value the stores must accept. @default 8 MiB */
  maxValueBytes?: number;
  /** Arguments of the measured memcached. @default ['-m', '2048', '-I', '16m'] */
  memcachedArgs?: string[];
  /** Masters of the Redis Cluster. @default 3 */
  clusterMasters?: number;
  /** Called once the servers run (`'servers'`), then after each target connected or failed. */
  onTarget?: (id: BackendTargetId | 'servers') => void;
}

export interface OpenBackends {
  /** The targets that connected, in the order asked for. */
  targets: BackendTarget[];
  /** Every target asked for, with `available: false` and the reason for those that could not run. */
  infos: BackendTargetInfo[];
  memcached?: MemcachedServer;
  /** Close every client and stop every server. */
  close(): Promise<void>;
}

/**
 * Start the private servers the targets need (redis-server; a Redis Cluster; memcached) and connect
 * each target. A target whose server or client is unavailable is reported in `infos`, not thrown.
 */
export async function openBackends(ids: readonly BackendTargetId[], options: OpenBackendsOptions = {}): Promise<OpenBackends> {
  const memcachedArgs = options.memcachedArgs ?? ['-m', String(DEFAULT_BACKENDS_BENCH_OPTIONS.memcachedMemoryMiB), '-I', DEFAULT_BACKENDS_BENCH_OPTIONS.memcachedItemMax];
  const servers: Servers = {};
  const targets: BackendTarget[] = [];
  const infos: BackendTargetInfo[] = [];
  const serverErrors: Record<string, string> = {};
  const needs = (prefix: string): boolean => ids.some((t) => t.startsWith(prefix));
  const close = async (): Promise<void> => {
    for (const t of targets.splice(0)) await t.close().catch(() => undefined);
    await servers.redis?.stop();
    await servers.cluster?.stop();
    await servers.memcached?.stop();
  };
  try {
    if (needs('redis/')) {
      try {
        servers.redis = await startEmbeddedRedis({ args: [...REDIS_ARGS] });
      } catch (err) {
        serverErrors.redis = errorText(err);
      }
    }
    if (needs('redis-cluster/')) {
      try {
        servers.cluster = await LocalRedisCluster.start({ masters: options.clusterMasters ?? 3, nodeTimeoutMs: 5000, args: [...REDIS_ARGS] });
      } catch (err) {
        serverErrors['redis-cluster'] = errorText(err);
      }
    }
    if (needs('memcached/')) {
      try {
        servers.memcached = await startMemcached(memcachedArgs);
      } catch (err) {
        serverErrors.memcached = errorText(err);
      }
    }
    options.onTarget?.('servers');
    for (const id of ids) {
      const [server, client] = id.split('/') as [string, string];
      try {
        if (serverErrors[server]) throw new Error(serverErrors[server]);
        const t = await makeTarget(id, servers, options.maxValueBytes ?? 8 * MiB);
        targets.push(t);
        infos.push(t.info);
      } catch (err) {
        infos.push({ id, server, client, how: { write: '', read: '', lookup: '' }, available: false, error: errorText(err) });
      }
      options.onTarget?.(id);
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { targets, infos, memcached: servers.memcached, close };
}

/** Extra `redis-server` arguments of the measured servers (none: Redis defaults, no persistence). */
/** Extra redis-server arguments of the benchmark's servers (none: a stock server). */
export const REDIS_ARGS: readonly string[] = [];

