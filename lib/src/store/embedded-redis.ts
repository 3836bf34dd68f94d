import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InvalidInputError, StoreUnavailableError } from '../runtime/errors';
import { freeLoopbackPort, startLoopbackServer } from '../runtime/loopback-server';

export { freeLoopbackPort };

/**
 * Options of {@link startEmbeddedRedis}: port, data folder, extra server arguments, the command to
 * run and how long to wait for it.
 */
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
  /**
   * `requirepass`: clients must authenticate (the URL carries it). Passed to redis-server in its
   * configuration on stdin, so it does not show in the process list. @default undefined (none)
   */
  password?: string;
}

/** The defaults of {@link EmbeddedRedisOptions}: no extra arguments, `redis-server` from the PATH, 10 s to start. */
export const DEFAULT_EMBEDDED_REDIS_OPTIONS = {
  args: [] as string[],
  command: 'redis-server',
  startTimeoutMs: 10_000,
} satisfies EmbeddedRedisOptions;

/** A redis-server started by {@link startEmbeddedRedis} on loopback: its URL, port, data folder and process id, and `stop()`. */
export interface EmbeddedRedis {
  /** `redis://127.0.0.1:<port>`, or `redis://:<password>@127.0.0.1:<port>` with a password (print it with redactStoreUrl). */
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  readonly pid: number | undefined;
  /** Stop the server (SIGTERM, then SIGKILL after 3 s) and remove a temporary data folder. */
  stop(): Promise<void>;
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
  const password = options.password;
  if (password !== undefined && (typeof password !== 'string' || password.length === 0 || /[\s"'\\]/.test(password))) {
    throw InvalidInputError.at('password', 'a non-empty string without spaces or quotes', password === undefined ? undefined : '(hidden)');
  }
  const args = [
    // With a password, the configuration (only that line) comes on stdin ("-"), not on the command line.
    ...(password !== undefined ? ['-'] : []),
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--save', '',
    '--appendonly', 'no',
    '--protected-mode', 'yes',
    ...(options.args ?? DEFAULT_EMBEDDED_REDIS_OPTIONS.args),
  ];
  const server = await startLoopbackServer({
    command,
    args,
    port,
    startTimeoutMs: options.startTimeoutMs ?? DEFAULT_EMBEDDED_REDIS_OPTIONS.startTimeoutMs,
    notInstalled: `'${command}' not found: install Redis (apt-get install redis-server / brew install redis) or set REDIS_URL`,
    makeError: (message, cause) => new StoreUnavailableError(message, cause === undefined ? undefined : { cause }),
    cleanup: () => {
      if (ownDir) fs.rmSync(dir, { recursive: true, force: true });
    },
    ...(password !== undefined ? { stdin: `requirepass ${password}\n` } : {}),
  });
  const auth = password !== undefined ? `:${encodeURIComponent(password)}@` : '';
  return { url: `redis://${auth}127.0.0.1:${port}`, port, dir, pid: server.pid, stop: () => server.stop() };
}
