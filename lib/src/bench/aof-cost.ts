/**
 * What Redis' append-only file costs a KV cache's writes: SET throughput of block-sized values with
 * `appendonly no`, with `appendonly yes` + `appendfsync everysec` (Redis' default once AOF is on) and
 * with `appendfsync always`, each on its own private redis-server with its data on the same disk,
 * measured in interleaved rounds so that a noisy machine affects every mode alike.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Redis } from 'ioredis';
import { InvalidInputError } from '../runtime/errors';
import { LocalRedisNode } from '../store/local-cluster';
import { median } from './stats';
import { filesystemType } from './persistence';

/** A persistence mode measured, as the `redis-server` arguments that set it. */
export interface AofMode {
  name: 'appendonly no' | 'appendonly yes, everysec' | 'appendonly yes, always';
  args: string[];
}

/** The modes measured: no AOF, AOF with an fsync a second (Redis' default once AOF is on), AOF with an fsync per write. */
export const AOF_MODES: readonly AofMode[] = [
  { name: 'appendonly no', args: ['--appendonly', 'no'] },
  { name: 'appendonly yes, everysec', args: ['--appendonly', 'yes', '--appendfsync', 'everysec'] },
  { name: 'appendonly yes, always', args: ['--appendonly', 'yes', '--appendfsync', 'always'] },
];

/** What {@link measureAofWriteCost} writes: value sizes, bytes per pass, rounds, writes in flight. */
export interface AofCostOptions {
  /** Value sizes to measure (e.g. one block of the lab's model, one block of Llama-3-8B). */
  valueBytes: number[];
  /** Bytes written per timed pass (rounded down to whole values). */
  bytesPerPass: number;
  /** Interleaved rounds: each round times one pass of every mode at every size. @default 3 */
  rounds?: number;
  /** SETs in flight on the one connection, as a connector's save pipelines them. @default 8 */
  inFlight?: number;
  /** Parent folder of the servers' data folders (the disk being measured). @default os.tmpdir() */
  dir?: string;
  /** The `redis-server` executable. @default 'redis-server' */
  command?: string;
}

/** The defaults of {@link AofCostOptions}: 3 rounds, 8 SETs in flight. */
export const DEFAULT_AOF_COST_OPTIONS = { rounds: 3, inFlight: 8 } as const;

/** One mode at one value size: the median pass, and its ratio to `appendonly no`. */
export interface AofCostRow {
  mode: AofMode['name'];
  valueBytes: number;
  /** SETs per second at the median pass. */
  setsPerS: number;
  /** Value bytes per second at the median pass, GB/s (10^9). */
  gbps: number;
  /** Median over rounds of (this mode's pass ÷ the `appendonly no` pass of the same round), by throughput. */
  ratioToNoAof: number;
  samplesMs: number[];
}

/** What {@link measureAofWriteCost} returns: a row per mode and value size, the filesystem written to, the configuration. */
export interface AofCostResult {
  rows: AofCostRow[];
  /** Type of the filesystem the servers wrote to (`ext4`, `tmpfs`, …): fsync on tmpfs costs nothing. */
  filesystem: string;
  config: Required<Omit<AofCostOptions, 'command' | 'dir'>>;
}

async function pass(client: Redis, value: Buffer, count: number, inFlight: number, tag: string): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      await client.set(`aof:${tag}:${i}`, value);
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, worker));
  const ms = performance.now() - t0;
  await client.flushall(); // keep memory flat; the AOF keeps growing until Redis rewrites it
  return ms;
}

/** SET throughput with and without AOF, on private servers (started and stopped here). */
export async function measureAofWriteCost(options: AofCostOptions): Promise<AofCostResult> {
  const o = { ...DEFAULT_AOF_COST_OPTIONS, ...options };
  if (!Array.isArray(o.valueBytes) || o.valueBytes.length === 0 || o.valueBytes.some((v) => !Number.isInteger(v) || v < 1)) {
    throw InvalidInputError.at('options.valueBytes', 'a non-empty list of positive integers', o.valueBytes);
  }
  for (const k of ['bytesPerPass', 'rounds', 'inFlight'] as const) {
    if (!Number.isInteger(o[k]) || o[k] < 1) throw InvalidInputError.at(`options.${k}`, 'a positive integer', o[k]);
  }
  const parent = fs.mkdtempSync(path.join(o.dir ?? os.tmpdir(), 'kvlab-aof-'));
  const servers: { mode: AofMode; node: LocalRedisNode; client: Redis }[] = [];
  try {
    for (const [i, mode] of AOF_MODES.entries()) {
      const node = await LocalRedisNode.start({ dir: path.join(parent, String(i)), args: mode.args, ...(o.command ? { command: o.command } : {}) });
      const client = new Redis(node.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
      await client.connect();
      servers.push({ mode, node, client });
    }
    const samples = new Map<string, number[]>();
    const key = (mode: string, size: number): string => `${mode}|${size}`;
    const values = new Map(o.valueBytes.map((n) => [n, Buffer.alloc(n, 0x5a)]));
    for (let round = 0; round < o.rounds; round++) {
      for (const size of o.valueBytes) {
        const count = Math.max(1, Math.floor(o.bytesPerPass / size));
        for (const s of servers) {
          const ms = await pass(s.client, values.get(size)!, count, o.inFlight, `${round}`);
          (samples.get(key(s.mode.name, size)) ?? samples.set(key(s.mode.name, size), []).get(key(s.mode.name, size))!).push(ms);
        }
      }
    }
    const rows: AofCostRow[] = [];
    for (const size of o.valueBytes) {
      const count = Math.max(1, Math.floor(o.bytesPerPass / size));
      const base = samples.get(key('appendonly no', size))!;
      for (const { mode } of servers) {
        const ms = samples.get(key(mode.name, size))!;
        const med = median(ms);
        rows.push({
          mode: mode.name,
          valueBytes: size,
          setsPerS: count / (med / 1000),
          gbps: (count * size) / (med / 1000) / 1e9,
          ratioToNoAof: median(ms.map((m, i) => base[i]! / m)),
          samplesMs: ms.map((m) => Math.round(m * 10) / 10),
        });
      }
    }
    return { rows, filesystem: filesystemType(parent), config: { valueBytes: o.valueBytes, bytesPerPass: o.bytesPerPass, rounds: o.rounds, inFlight: o.inFlight } };
  } finally {
    for (const s of servers) s.client.disconnect();
    await Promise.all(servers.map((s) => s.node.stop()));
    fs.rmSync(parent, { recursive: true, force: true });
  }
}
