import { Cluster, type ClusterOptions } from 'ioredis';
import type { BlockHash } from '../hashing/types';
import { ConfigError, InvalidInputError, StoreUnavailableError, describeValue } from '../runtime/errors';
import { keySlot } from './cluster-slot';
import { memoryWarnings, nodeHealthFromInfo, parseInfo } from './health';
import {
  DEFAULT_REDIS_COMMON_OPTIONS,
  RedisStoreBase,
  connectionName,
  resolveCommon,
  withDeadline,
  type NodeGroup,
  type RedisCommonOptions,
} from './redis-base';
import { optionsFromUrl } from './redis-store';
import type { RedisNodeHealth, StoreHealth } from './types';
import { DEFAULT_REDIS_PORT, parseStoreUrl, type RedisEndpoint } from './url';

/** Options of a {@link RedisClusterStore}: the startup nodes, plus every option Redis stores share. */
export interface RedisClusterStoreOptions extends RedisCommonOptions {
  /** Startup nodes (`{ host, port }` or `'host:port'`); any subset of the cluster will do. */
  nodes?: (RedisEndpoint | string)[];
  /** Use this ioredis Cluster client instead of creating one (not closed by the store). */
  client?: Cluster;
  /** Extra ioredis Cluster options, applied last (escape hatch). @default undefined */
  clusterOptions?: ClusterOptions;
}

/** The defaults of {@link RedisClusterStoreOptions}. */
export const DEFAULT_REDIS_CLUSTER_STORE_OPTIONS = {
  ...DEFAULT_REDIS_COMMON_OPTIONS,
} as const satisfies RedisClusterStoreOptions;

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function toEndpoint(n: RedisEndpoint | string, i: number): RedisEndpoint {
  if (typeof n === 'string') {
    const m = /^(.+?)(?::(\d{1,5}))?$/.exec(n.trim());
    if (!m) throw new InvalidInputError(`nodes[${i}] must be "host:port", got ${describeValue(n)}`);
    return { host: m[1]!, port: m[2] ? Number(m[2]) : DEFAULT_REDIS_PORT };
  }
  if (!n || typeof n.host !== 'string' || !Number.isInteger(n.port)) {
    throw new InvalidInputError(`nodes[${i}] must be { host, port }, got ${describeValue(n)}`);
  }
  return { host: n.host, port: n.port };
}

/** Merge `host: warning` lines that differ only in the host into `h1, h2: warning`. */
function mergeByText(lines: string[]): string[] {
  const byText = new Map<string, string[]>();
  for (const l of lines) {
    const i = l.indexOf(': ');
    const [addr, text] = i > 0 ? [l.slice(0, i), l.slice(i + 2)] : ['', l];
    const list = byText.get(text) ?? [];
    list.push(addr);
    byText.set(text, list);
  }
  return [...byText].map(([text, addrs]) => (addrs[0] ? `${addrs.join(', ')}: ${text}` : text));
}

/**
 * The same store on a Redis Cluster (ioredis `Cluster`). Keys carry no `{hashtag}`, so blocks spread
 * over every master by hash slot. Each operation groups its keys by master (and multi-key commands
 * such as `MGET`/`DEL` by slot, since they cannot cross slots) and sends one pipeline per master, all
 * in parallel: a lookup costs one round trip of latency whatever the number of masters.
 * A master that fails or times out turns only its own blocks into misses.
 */
export class RedisClusterStore extends RedisStoreBase {
  readonly tier: string = 'redis-cluster';
  readonly client: Cluster;
  readonly startupNodes: RedisEndpoint[];
  private readonly ownsClient: boolean;

  constructor(options: RedisClusterStoreOptions = {}) {
    let o = options;
    let urlNodes: RedisEndpoint[] = [];
    if (options.url !== undefined) {
      const parsed = parseStoreUrl(options.url);
      if (parsed.kind === 'memory') throw new ConfigError(`RedisClusterStore needs a Redis URL, got "${parsed.redacted}"`);
      if (parsed.db !== undefined && parsed.db !== 0) throw new ConfigError('Redis Cluster only has database 0');
      urlNodes = parsed.nodes;
      const { host: _h, port: _p, db: _d, ...fromUrl } = optionsFromUrl(parsed);
      o = { ...fromUrl, ...definedOnly(options) };
    }
    const resolved = resolveCommon(o);
    super('redis-cluster', o, resolved);
    this.startupNodes = (o.nodes ?? urlNodes).map(toEndpoint);
    if (!o.client && this.startupNodes.length === 0) {
      throw new ConfigError('RedisClusterStore needs startup nodes (nodes: [{ host, port }] or a redis+cluster:// URL)');
    }
    this.ownsClient = !o.client;
    this.client =
      o.client ??
      new Cluster(this.startupNodes, {
        enableOfflineQueue: false,
        scaleReads: 'master',
        clusterRetryStrategy: (times) => Math.min(100 * times, resolved.maxReconnectDelayMs),
        slotsRefreshTimeout: resolved.connectTimeout,
        retryDelayOnFailover: 100,
        retryDelayOnClusterDown: 100,
        maxRedirections: 4,
        redisOptions: {
          username: o.username,
          password: o.password,
          ...(o.tls ? { tls: o.tls === true ? {} : o.tls } : {}),
          connectTimeout: resolved.connectTimeout,
          maxRetriesPerRequest: resolved.maxRetriesPerRequest,
          autoResendUnfulfilledCommands: false,
          connectionName: connectionName(this.name),
        },
        ...o.clusterOptions,
      });
    this.listen();
  }

  /** `host:port` of the master that holds a block (from the client's slot table), if known. */
  nodeFor(hash: BlockHash): string | undefined {
    return this.client.slots[keySlot(this.keyFor(hash))]?.[0];
  }

  protected connected(): boolean {
    return this.client.status === 'ready';
  }

  protected route(keys: readonly string[]): NodeGroup[] {
    const table = this.client.slots;
    const byNode = new Map<string, Map<number, number[]>>();
    keys.forEach((k, i) => {
      const slot = keySlot(k);
      const node = table[slot]?.[0] ?? 'unknown';
      let slots = byNode.get(node);
      if (!slots) byNode.set(node, (slots = new Map()));
      const list = slots.get(slot);
      if (list) list.push(i);
      else slots.set(slot, [i]);
    });
    return [...byNode].map(([node, slots]) => ({ node, slots: [...slots.values()] }));
  }


  async health(): Promise<StoreHealth> {
    const t0 = process.hrtime.bigint();
    if (this.closed) return { name: this.name, tier: this.tier, circuit: this.circuit, ok: false, reachable: false, warnings: [], error: 'store is closed' };
    const warnings: string[] = [];
    let latencyMs: number | undefined;
    let error: string | undefined;
    let nodes: RedisNodeHealth[] = [];
    let cluster: StoreHealth['cluster'];
    try {
      if (!this.connected()) throw new StoreUnavailableError(`not connected (${this.client.status})${this.lastError ? `: ${this.lastError}` : ''}`);
      const p0 = process.hrtime.bigint();
      await withDeadline(this.client.ping(), this.commandTimeout);
      latencyMs = Number(process.hrtime.bigint() - p0) / 1e6;
      // Every master the slot table names, connected or not (a dead master drops out of the pool).
      const pool = new Map(this.client.nodes('master').map((m) => [`${m.options.host}:${m.options.port}`, m]));
      const addresses = new Set<string>(pool.keys());
      for (const owners of this.client.slots) if (owners?.[0]) addresses.add(owners[0]);
      const answers = await Promise.all(
        [...addresses].map(async (address) => {
          const m = pool.get(address);
          if (!m) return { node: { address, reachable: false, error: 'no connection (node down?)' } as RedisNodeHealth, cinfo: undefined };
          try {
            const [info, cinfo] = await Promise.all([
              withDeadline(m.info(), this.commandTimeout),
              withDeadline(m.call('CLUSTER', 'INFO') as Promise<unknown>, this.commandTimeout),
            ]);
            return { node: nodeHealthFromInfo(address, parseInfo(info)), cinfo: parseInfo(String(cinfo)) };
          } catch (err) {
            return { node: { address, reachable: false, error: (err as Error).message } as RedisNodeHealth, cinfo: undefined };
          }
        }),
      );
      nodes = answers.map((a) => a.node).sort((a, b) => a.address.localeCompare(b.address, 'en', { numeric: true }));
      const infos = answers.map((a) => a.cinfo).filter((c): c is Record<string, string> => c !== undefined);
      if (infos.length) {
        const c = infos[0]!;
        const states = new Set(infos.map((i) => i.cluster_state));
        cluster = {
          state: states.size === 1 ? (c.cluster_state ?? 'unknown') : 'inconsistent',
          slotsAssigned: Number(c.cluster_slots_assigned ?? 0),
          slotsOk: Number(c.cluster_slots_ok ?? 0),
          knownNodes: Number(c.cluster_known_nodes ?? 0),
          size: Number(c.cluster_size ?? 0),
        };
        if (cluster.state !== 'ok') warnings.push(`cluster_state is ${cluster.state}: some hash slots are not served; their blocks are misses`);
        if (cluster.slotsAssigned < 16384) warnings.push(`only ${cluster.slotsAssigned} of 16384 hash slots are assigned`);
      }
      const nodeWarnings: string[] = [];
      for (const n of nodes) {
        if (!n.reachable) nodeWarnings.push(`${n.address}: unreachable (${n.error ?? 'unknown error'})`);
        else nodeWarnings.push(...memoryWarnings(n, this.ttlSeconds));
      }
      warnings.push(...mergeByText(nodeWarnings));
    } catch (err) {
      error = (err as Error).message;
      warnings.push(`cluster unreachable (${error}) — lookups are misses and puts are skipped until it is back`);
    }
    const reachable = error === undefined && nodes.length > 0 && nodes.every((n) => n.reachable);
    this.breaker.healthCheck(reachable && cluster?.state === 'ok');
    if (this.circuit !== 'closed') warnings.push(`circuit breaker is ${this.circuit}: operations are answered with fallbacks`);
    warnings.push(...this.rejectionWarnings());
    const sum = (f: (n: RedisNodeHealth) => number | undefined): number | undefined =>
      nodes.some((n) => f(n) !== undefined) ? nodes.reduce((s, n) => s + (f(n) ?? 0), 0) : undefined;
    this.observe('health', t0);
    return {
      name: this.name,
      tier: this.tier,
      circuit: this.circuit,
      ok: reachable && cluster?.state === 'ok' && this.circuit !== 'open',
      reachable,
      latencyMs,
      usedMemoryBytes: sum((n) => n.usedMemoryBytes),
      maxMemoryBytes: sum((n) => n.maxMemoryBytes),
      maxmemoryPolicy: nodes.find((n) => n.maxmemoryPolicy)?.maxmemoryPolicy,
      nodes,
      cluster,
      warnings,
      ...(error ? { error } : {}),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.detach();
    if (!this.ownsClient) return;
    this.client.on('error', () => undefined);
    this.client.on('node error', () => undefined);
    try {
      if (this.client.status === 'ready') await withDeadline(this.client.quit(), this.commandTimeout);
    } catch {
      // fall through to a hard disconnect
    }
    this.client.disconnect();
  }
}
