// Child processes that end with their parent. Each child runs in its own process group, so a signal
// to this process (Ctrl-C, SIGTERM from a supervisor, SIGHUP when the terminal closes) can be passed
// on to the child's whole subtree — servers and kernels included — before this process ends.
import { spawn } from 'node:child_process';
import * as os from 'node:os';

const running = new Set();
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'];
let hooked = false;

function signalGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    /* already gone */
  }
}

/** Wait for every running child to exit (at most `ms`, then SIGKILL its group). */
async function drain(ms) {
  await Promise.all([...running].map((child) => new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  })));
}

function hook() {
  if (hooked) return;
  hooked = true;
  for (const signal of SIGNALS) {
    process.on(signal, async () => {
      for (const child of running) signalGroup(child, signal);
      await drain(8000);
      process.exit(128 + (os.constants.signals[signal] ?? 1));
    });
  }
}

/**
 * Run a command to completion, like spawnSync, but in its own process group that receives any
 * terminating signal this process gets. Resolves to `{ status }` (the exit code, 1 if killed).
 */
export function runChild(command, args, options = {}) {
  hook();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'inherit', ...options, detached: true });
    running.add(child);
    child.once('error', (err) => {
      running.delete(child);
      reject(err);
    });
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve({ status: code ?? (signal ? 1 : 0), signal });
    });
  });
}
