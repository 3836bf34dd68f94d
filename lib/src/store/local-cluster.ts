/**
 * Redis servers on loopback that this process owns: one node that can be killed and restarted on
 * its port and folder (fault injection), and a real Redis Cluster of such nodes, created with
 * `redis-cli --cluster create`. The one recipe the tests, benchmarks, soak and notebooks share.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { InvalidInputError, StoreUnavailableError } from '../runtime/errors';
import { atProcessEnd, freeLoopbackPort } from '../runtime/loopback-server';
import { startEmbeddedRedis, type EmbeddedRedis, type EmbeddedRedisOptions } from './embedded-redis';
import { parseInfo } from './health';

const execFileP = promisify(execFile);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Options of one {@link LocalRedisNode}: those of `startEmbeddedRedis`, plus the `redis-cli` to use. */
export interface LocalRedisNodeOptions extends EmbeddedRedisOptions {
  /** The `redis-cli` executable, for {@link LocalRedisNode.cli}. @default 'redis-cli' */
  cliCommand?: string;
}

/**
 * A `redis-server` on loopback that can crash (`kill`, SIGKILL) and come back (`restart`) on the same
 * port and data folder. `stop()` ends it for good and removes a folder it created.
 */
export class LocalRedisNode {
  private handle: EmbeddedRedis | undefined;
  /** Removes a folder this node created if the process ends before `stop()`. */
  private readonly forgetDir: () => void;

  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly options: LocalRedisNodeOptions,
    private readonly ownDir: boolean,
  ) {
    this.forgetDir = ownDir ? atProcessEnd(() => fs.rmSync(dir, { recursive: true, force: true })) : () => undefined;
  }

  static async start(options: LocalRedisNodeOptions = {}): Promise<LocalRedisNode> {
    const port = options.port ?? (await freeLoopbackPort());
    const ownDir = options.dir === undefined;
    const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), `kvlab-redis-${port}-`));
    fs.mkdirSync(dir, { recursive: true });
    const node = new LocalRedisNode(port, dir, options, ownDir);
    await node.restart();
    return node;
  }

  /** `redis://127.0.0.1:<port>` */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** `127.0.0.1:<port>`, as Redis Cluster names nodes. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.handle?.pid;
  }

  /** Whether the server process is running (it was not killed or stopped). */
  get alive(): boolean {
    return this.handle !== undefined;
  }

  /** Run `redis-cli -p <port> …args` against this server; resolves to its standard output. */
  async cli(...args: string[]): Promise<string> {
    const { stdout } = await execFileP(this.options.cliCommand ?? 'redis-cli', ['-p', String(this.port), ...args], { timeout: 15_000 });
    return stdout;
  }

  /** One section of `INFO`, parsed. */
  async info(section: string): Promise<Record<string, string>> {
    return parseInfo(await this.cli('INFO', section));
  }

  /** A crash: SIGKILL, no goodbye to clients or cluster peers. The data folder stays for `restart`. */
  async kill(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    if (!h) return;
    if (h.pid !== undefined) {
      try {
        process.kill(h.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await h.stop(); // waits for the exit and releases the exit hook
  }

  /** Start the server again on its port and folder (a no-op while it runs). */
  async restart(): Promise<void> {
    if (this.handle) return;
    const { cliCommand: _cli, ...serverOptions } = this.options;
    for (let attempt = 0; ; attempt++) {
      try {
        this.handle = await startEmbeddedRedis({ ...serverOptions, port: this.port, dir: this.dir });
        return;
      } catch (err) {
        if (attempt >= 20) throw err;
        await sleep(100); // the port may take a moment to be released after a kill
      }
    }
  }

  /** Stop the server (SIGTERM) and remove the data folder if this node created it. */
  async stop(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    await h?.stop();
    this.forgetDir();
    if (this.ownDir) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Options of {@link LocalRedisCluster.start}: masters, replicas, node timeout, slot coverage, extra
 * server arguments and the commands to run.
 */
export interface LocalRedisClusterOptions {
  /** Master nodes (slots are split evenly between them). @default 3 */
  masters?: number;
  /** Replicas per master (`redis-cli --cluster create --cluster-replicas`). @default 0 */
  replicasPerMaster?: number;
  /** `cluster-node-timeout`: how long a silent node takes to be flagged failing, in ms. @default 2000 */
  nodeTimeoutMs?: number;
  /**
   * `cluster-require-full-coverage`. Redis' default, `true`, makes the whole cluster refuse queries
   * while any slot is unserved; a cache usually wants `false` (live masters keep answering).
   * @default true
   */
  requireFullCoverage?: boolean;
  /** Extra `redis-server` arguments for every node. @default [] */
  args?: string[];
  /** Folder under which each node gets its own data folder. @default a new temporary folder per node */
  dir?: string;
  /** The `redis-server` executable. @default 'redis-server' */
  command?: string;
  /** The `redis-cli` executable. @default 'redis-cli' */
  cliCommand?: string;
  /** Milliseconds to wait for `cluster_state:ok` on every node. @default 30000 */
  readyTimeoutMs?: number;
}

/**
 * The defaults of {@link LocalRedisClusterOptions}: 3 masters without replicas, a 2 s node timeout,
 * full slot coverage required.
 */
export const DEFAULT_LOCAL_REDIS_CLUSTER_OPTIONS = {
  masters: 3,
  replicasPerMaster: 0,
  nodeTimeoutMs: 2000,
  requireFullCoverage: true,
  args: [] as string[],
  command: 'redis-server',
  cliCommand: 'redis-cli',
  readyTimeoutMs: 30_000,
} satisfies LocalRedisClusterOptions;

/** A real Redis Cluster on loopback: every node its own `redis-server` with its own bus port and folder. */
export class LocalRedisCluster {
  private constructor(readonly nodes: LocalRedisNode[]) {}

  static async start(options: LocalRedisClusterOptions = {}): Promise<LocalRedisCluster> {
    const o = { ...DEFAULT_LOCAL_REDIS_CLUSTER_OPTIONS, ...options };
    if (!Number.isInteger(o.masters) || o.masters < 3) throw InvalidInputError.at('masters', 'an integer ≥ 3 (redis-cli needs three masters)', o.masters);
    if (!Number.isInteger(o.replicasPerMaster) || o.replicasPerMaster < 0) throw InvalidInputError.at('replicasPerMaster', 'an integer ≥ 0', o.replicasPerMaster);
    const count = o.masters * (1 + o.replicasPerMaster);
    const nodes: LocalRedisNode[] = [];
    const taken = new Set<number>();
    const port = async (): Promise<number> => {
      for (;;) {
        const p = await freeLoopbackPort();
        if (!taken.has(p)) return taken.add(p), p;
      }
    };
    try {
      for (let i = 0; i < count; i++) {
        const bus = await port(); // explicit: the default (port + 10000) may be taken
        nodes.push(
          await LocalRedisNode.start({
            port: await port(),
            ...(o.dir !== undefined ? { dir: path.join(o.dir, `node-${i}`) } : {}),
            command: o.command,
            cliCommand: o.cliCommand,
            args: [
              '--cluster-enabled', 'yes',
              '--cluster-config-file', 'nodes.conf',
              '--cluster-node-timeout', String(o.nodeTimeoutMs),
              '--cluster-port', String(bus),
              '--cluster-require-full-coverage', o.requireFullCoverage ? 'yes' : 'no',
              ...o.args,
            ],
          }),
        );
      }
      await execFileP(o.cliCommand, ['--cluster', 'create', ...nodes.map((n) => n.address), '--cluster-replicas', String(o.replicasPerMaster), '--cluster-yes'], { timeout: 30_000 });
      const cluster = new LocalRedisCluster(nodes);
      await cluster.waitUntilOk(o.readyTimeoutMs);
      return cluster;
    } catch (err) {
      await Promise.all(nodes.map((n) => n.stop()));
      throw err instanceof StoreUnavailableError ? err : new StoreUnavailableError({ message: `could not start a local Redis Cluster: ${(err as Error).message}` }, { cause: err });
    }
  }

  /** Every node as `redis://host:port`, comma-separated: what `createStore` takes for a cluster. */
  get url(): string {
    return this.nodes.map((n) => n.url).join(',');
  }

  /** Startup nodes for a cluster client. */
  get startupNodes(): { host: string; port: number }[] {
    return this.nodes.map((n) => ({ host: '127.0.0.1', port: n.port }));
  }

  /** Wait until every live node reports `cluster_state:ok` (throws StoreUnavailableError after `timeoutMs`). */
  async waitUntilOk(timeoutMs = DEFAULT_LOCAL_REDIS_CLUSTER_OPTIONS.readyTimeoutMs): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const live = this.nodes.filter((n) => n.alive);
      const states = await Promise.all(live.map((n) => n.cli('CLUSTER', 'INFO').then((t) => /cluster_state:ok/.test(t), () => false)));
      if (states.every(Boolean)) return;
      if (Date.now() > deadline) {
        throw new StoreUnavailableError({
          message: `the local Redis Cluster did not reach cluster_state:ok within ${timeoutMs} ms`,
          path: 'cluster_state',
          expected: 'ok on every live node',
          received: `ok on ${states.filter(Boolean).length} of ${live.length} live nodes`,
          limit: timeoutMs,
        });
      }
      await sleep(50);
    }
  }

  /** Each node's role (`master`, `slave`), `undefined` for a node that is down. */
  async roles(): Promise<(string | undefined)[]> {
    return Promise.all(this.nodes.map(async (n) => (n.alive ? (await n.info('replication').catch(() => undefined))?.role : undefined)));
  }

  /** The live nodes that are masters now (after a failover, a former replica). */
  async masters(): Promise<LocalRedisNode[]> {
    const roles = await this.roles();
    return this.nodes.filter((_, i) => roles[i] === 'master');
  }

  /** Stop every node and remove the folders they created. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
  }
}

/** Start a {@link LocalRedisCluster} (needs `redis-server` and `redis-cli` on the PATH). */
export function startLocalRedisCluster(options: LocalRedisClusterOptions = {}): Promise<LocalRedisCluster> {
  return LocalRedisCluster.start(options);
}
