/**
 * Real Redis servers for tests: `redis-server` child processes on free loopback ports, each with
 * its own temporary data folder, stopped at the end. No mocks.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { freePort, waitForPort } from './ports';

const execFileP = promisify(execFile);

export interface RedisServerOptions {
  /** Extra `redis-server` arguments, e.g. `['--maxmemory', '10mb']`. */
  args?: string[];
  /** Port to use (a free one by default). */
  port?: number;
  /** Start as a cluster node. */
  cluster?: boolean;
}

export class RedisServer {
  private proc: ChildProcess | undefined;
  readonly dir: string;

  private constructor(
    readonly port: number,
    private readonly options: RedisServerOptions,
  ) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `kvlab-redis-${port}-`));
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const server = new RedisServer(options.port ?? (await freePort()), options);
    await server.spawn();
    return server;
  }

  private async spawn(): Promise<void> {
    const args = [
      '--port', String(this.port),
      '--bind', '127.0.0.1',
      '--dir', this.dir,
      '--save', '',
      '--appendonly', 'no',
      '--protected-mode', 'no',
      ...(this.options.cluster
        ? ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000']
        : []),
      ...(this.options.args ?? []),
    ];
    const proc = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc = proc;
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<never>((_, reject) =>
      proc.once('exit', (code) => reject(new Error(`redis-server exited (${code}) on start: ${stderr}`))),
    );
    await Promise.race([waitForPort(this.port), exited]);
    proc.removeAllListeners('exit');
  }

  /** `redis-cli` against this server; returns stdout. */
  async cli(...args: string[]): Promise<string> {
    const { stdout } = await execFileP('redis-cli', ['-p', String(this.port), ...args]);
    return stdout;
  }

  /** Kill the process abruptly (SIGKILL) — a crash, for fault-injection tests. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  /** Start the server again on the same port (after kill/stop). */
  async restart(): Promise<void> {
    await this.spawn();
  }

  /** Stop the server gracefully and remove its data. */
  async stop(): Promise<void> {
    await this.signal('SIGTERM');
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private signal(sig: NodeJS.Signals): Promise<void> {
    const proc = this.proc;
    this.proc = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill(sig);
    });
  }
}

export interface RedisClusterOptions {
  masters?: number;
  replicasPerMaster?: number;
  args?: string[];
}

/** A real Redis Cluster: N masters (+ replicas), created with `redis-cli --cluster create`. */
export class RedisClusterHarness {
  private constructor(readonly nodes: RedisServer[]) {}

  /** `host:port` of every node, for a cluster client's startup list. */
  get startupNodes(): { host: string; port: number }[] {
    return this.nodes.map((n) => ({ host: '127.0.0.1', port: n.port }));
  }

  get url(): string {
    return this.nodes.map((n) => `redis://127.0.0.1:${n.port}`).join(',');
  }

  static async start(options: RedisClusterOptions = {}): Promise<RedisClusterHarness> {
    const masters = options.masters ?? 3;
    const replicas = options.replicasPerMaster ?? 0;
    const count = masters * (1 + replicas);
    const nodes: RedisServer[] = [];
    for (let i = 0; i < count; i++) nodes.push(await RedisServer.start({ cluster: true, args: options.args }));
    await execFileP('redis-cli', [
      '--cluster', 'create',
      ...nodes.map((n) => `127.0.0.1:${n.port}`),
      '--cluster-replicas', String(replicas),
      '--cluster-yes',
    ]);
    const harness = new RedisClusterHarness(nodes);
    await harness.waitUntilOk();
    return harness;
  }

  /** Wait until every node reports `cluster_state:ok`. */
  async waitUntilOk(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const states = await Promise.all(
        this.nodes.map((n) => n.cli('cluster', 'info').then((s) => /cluster_state:ok/.test(s), () => true)),
      );
      if (states.every(Boolean)) return;
      if (Date.now() > deadline) throw new Error('Redis Cluster did not reach cluster_state:ok');
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
  }
}
