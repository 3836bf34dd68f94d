/**
 * A private server process on a loopback port (redis-server, memcached, …): spawn it, wait until it
 * accepts TCP connections, and stop it — never leaving an orphan behind if the parent exits first or
 * is stopped by a signal (SIGINT, SIGTERM, SIGHUP). One implementation for every server the lab, the
 * benchmarks and the tests start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';

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

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

export interface LoopbackServerSpec {
  command: string;
  args: string[];
  /** The port the arguments make it listen on. */
  port: number;
  /** Milliseconds to wait for it to accept connections. */
  startTimeoutMs: number;
  /** Message when the executable is not installed (spawn fails with ENOENT). */
  notInstalled: string;
  /** The error type callers expect (e.g. StoreUnavailableError). */
  makeError: (message: string, cause?: unknown) => Error;
  /** Run once the process is gone (or failed to start), e.g. to remove its data folder. */
  cleanup?: () => void;
  /** Text written to the process's standard input (e.g. configuration with a secret, kept out of `ps`). */
  stdin?: string;
}

export interface LoopbackServer {
  readonly port: number;
  readonly pid: number | undefined;
  /** SIGTERM, then SIGKILL after 3 s; resolves once the process has exited. Idempotent. */
  stop(): Promise<void>;
}

/** Cleanups of the servers still running in this process: kill the child, remove its folder. */
const live = new Set<() => void>();
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
let signalsHooked = false; // the signal and exit listeners, installed once

/**
 * On a terminating signal, end every server this process started (synchronously: SIGKILL, remove its
 * folder). If nothing else in the process handles the signal, re-raise it so that the process ends
 * as it would have without us; a program with its own handler (e.g. a graceful shutdown) goes on.
 */
function onSignal(signal: NodeJS.Signals): void {
  for (const cleanup of [...live]) cleanup();
  if (process.listenerCount(signal) === 1) {
    process.removeListener(signal, onSignal);
    process.kill(process.pid, signal);
  }
}

function hookSignals(): void {
  if (signalsHooked) return;
  signalsHooked = true;
  for (const sig of SIGNALS) process.on(sig, onSignal);
  // One 'exit' listener for all servers, not one each: a test run or a cluster starts more than
  // Node's 10-listener warning threshold.
  process.on('exit', onExit);
}

function onExit(): void {
  for (const cleanup of [...live]) cleanup();
}

/**
 * Run `cleanup` (synchronous: kill, remove a folder) when this process exits or is stopped by SIGINT,
 * SIGTERM or SIGHUP, unless the returned function is called first (the normal, orderly stop).
 */
export function atProcessEnd(cleanup: () => void): () => void {
  let done = false;
  const run = (): void => {
    if (done) return;
    done = true;
    live.delete(run);
    cleanup();
  };
  live.add(run);
  hookSignals();
  return () => {
    done = true;
    live.delete(run);
  };
}

export async function startLoopbackServer(spec: LoopbackServerSpec): Promise<LoopbackServer> {
  const { command, port, makeError } = spec;
  const cleanup = spec.cleanup ?? ((): void => undefined);
  const proc: ChildProcess = spawn(command, spec.args, { stdio: [spec.stdin === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'] });
  if (spec.stdin !== undefined) {
    proc.stdin?.on('error', () => undefined); // a process that failed to start closes it early
    proc.stdin?.end(spec.stdin);
  }
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<never>((_, reject) => {
    proc.once('error', (err: NodeJS.ErrnoException) =>
      reject(makeError(err.code === 'ENOENT' ? spec.notInstalled : `could not start ${command}: ${err.message}`, err)),
    );
    proc.once('exit', (code) => reject(makeError(`${command} exited (code ${code}) on start: ${stderr.trim().slice(0, 500)}`)));
  });
  exited.catch(() => undefined);
  const deadline = Date.now() + spec.startTimeoutMs;
  const up = (async (): Promise<void> => {
    for (;;) {
      if (await canConnect(port)) return;
      if (Date.now() > deadline) throw makeError(`${command} did not accept connections on port ${port} in time`);
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

  // Never leave an orphan server behind if the process exits without stop(), or is signalled.
  const forget = atProcessEnd(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    cleanup();
  });

  let stopped: Promise<void> | undefined;
  return {
    port,
    pid: proc.pid,
    stop(): Promise<void> {
      forget();
      stopped ??= new Promise<void>((resolve) => {
        const done = (): void => {
          cleanup();
          resolve();
        };
        if (proc.exitCode !== null || proc.signalCode !== null) return done();
        const killer = setTimeout(() => proc.kill('SIGKILL'), 3000);
        proc.once('exit', () => {
          clearTimeout(killer);
          done();
        });
        proc.kill('SIGTERM');
      });
      return stopped;
    },
  };
}
