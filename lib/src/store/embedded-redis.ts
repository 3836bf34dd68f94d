import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { StoreUnavailableError } from '../runtime/errors';

export interface EmbeddedRedisOptions {
  /** Port to listen on (loopback only). @default a free port chosen by the OS */
  port?: number;
  /** Data folder. @default a new temporary folder, removed by `stop()` */
  dir?: string;
  /** Extra `redis-server` arguments, e.g. `['--maxmemory', '2gb', '--maxmemory-policy', 'allkeys-lru']`. @default [] */
  args?: string[];
  /** The `redis-server` executable. @default 'redis-server' (from PATH) */
  command?: string;
  /** Milliseconds to wait for the server to accept connections. @default 10000 */
  startTimeoutMs?: number;
}

export const DEFAULT_EMBEDDED_REDIS_OPTIONS = {
  args: [] as string[],
  command: 'redis-server',
  startTimeoutMs: 10_000,
} satisfies EmbeddedRedisOptions;

export interface EmbeddedRedis {
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  readonly pid: number | undefined;
  /** Stop the server (SIGTERM, then SIGKILL after 3 s) and remove a temporary data folder. */
  stop(): Promise<void>;
}

/** A free TCP port on loopback (bind port 0, read it back, release it). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/**
 * Start a private `redis-server` on loopback (no persistence) for the lab, benchmarks and demos when
 * no `REDIS_URL` is given. Needs `redis-server` on the PATH (`apt-get install redis-server`,
 * `brew install redis`).
 */
export async function startEmbeddedRedis(options: EmbeddedRedisOptions = {}): Promise<EmbeddedRedis> {
  const port = options.port ?? (await freeLoopbackPort());
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'kvlab-redis-'));
  const command = options.command ?? DEFAULT_EMBEDDED_REDIS_OPTIONS.command;
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--save', '',
    '--appendonly', 'no',
    '--protected-mode', 'yes',
    ...(options.args ?? DEFAULT_EMBEDDED_REDIS_OPTIONS.args),
  ];
  const proc: ChildProcess = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const cleanup = (): void => {
    if (ownDir) fs.rmSync(dir, { recursive: true, force: true });
  };
  const exited = new Promise<never>((_, reject) => {
    proc.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new StoreUnavailableError(
          err.code === 'ENOENT'
            ? `'${command}' not found: install Redis (apt-get install redis-server / brew install redis) or set REDIS_URL`
            : `could not start ${command}: ${err.message}`,
          { cause: err },
        ),
      ),
    );
    proc.once('exit', (code) => reject(new StoreUnavailableError(`${command} exited (code ${code}) on start: ${stderr.trim().slice(0, 500)}`)));
  });
  exited.catch(() => undefined);
  const deadline = Date.now() + (options.startTimeoutMs ?? DEFAULT_EMBEDDED_REDIS_OPTIONS.startTimeoutMs);
  const up = (async (): Promise<void> => {
    for (;;) {
      if (await canConnect(port)) return;
      if (Date.now() > deadline) throw new StoreUnavailableError(`${command} did not accept connections on port ${port} in time`);
      await new Promise((r) => setTimeout(r, 30));
    }
  })();
  try {
    await Promise.race([up, exited]);
  } catch (err) {
    proc.kill('SIGKILL');
    cleanup();
    throw err;
  }
  proc.removeAllListeners('exit');
  proc.removeAllListeners('error');
  proc.on('error', () => undefined);
  // Do not keep the parent alive just for this child; stop() is still expected.
  proc.unref();
  (proc.stderr as { unref?: () => void } | null)?.unref?.();

  // Never leave an orphan server behind if the process exits without stop().
  const killOnExit = (): void => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    cleanup();
  };
  process.once('exit', killOnExit);

  let stopped: Promise<void> | undefined;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    pid: proc.pid,
    stop(): Promise<void> {
      process.off('exit', killOnExit);
      stopped ??= new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) {
          cleanup();
          resolve();
          return;
        }
        const killer = setTimeout(() => proc.kill('SIGKILL'), 3000);
        proc.once('exit', () => {
          clearTimeout(killer);
          cleanup();
          resolve();
        });
        proc.kill('SIGTERM');
      });
      return stopped;
    },
  };
}
