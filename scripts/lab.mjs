// The lab's processes: an embedded Redis (unless REDIS_URL is set) and Jupyter (Notebook 6 or 7, or
// JupyterLab; scripts/jupyter.mjs picks the flags from the installed version) with the project-local
// tslab kernel. Shared by `npm start`, the notebook runner and the browser tests.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { ROOT, STATE_DIR, jupyterEnv } from './setup.mjs';
import { findJupyter, jupyterArgs, jupyterPlan, jupyterUrls, probePython } from './jupyter.mjs';

const require = createRequire(import.meta.url);
const PID_FILE = path.join(STATE_DIR, 'lab.pids.json');

/** The built library (setup builds it first). */
export function kvlab() {
  return require(path.join(ROOT, 'lib', 'dist', 'index.js'));
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Processes from a lab that was killed without cleaning up would hold ports and files: end them. */
function killStale() {
  let pids = [];
  try {
    pids = JSON.parse(fs.readFileSync(PID_FILE, 'utf8'));
  } catch {
    return;
  }
  for (const pid of pids) {
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {
      try { process.kill(pid, 'SIGTERM'); } catch { /* already gone */ }
    }
  }
  fs.rmSync(PID_FILE, { force: true });
}

function rememberPids(pids) {
  fs.mkdirSync(STATE_DIR, { recursive: true });
  fs.writeFileSync(PID_FILE, JSON.stringify(pids));
}

/**
 * Redis for the lab: REDIS_URL when set, else an embedded `redis-server` on a free loopback port
 * with its data under .kvlab/redis (git-ignored) and a random password for this run (any local user
 * of a shared machine could otherwise read or write every tenant's KV). The URL with the password
 * goes to the kernel in REDIS_URL; what is printed is redacted.
 */
export async function startRedis({ quiet = false } = {}) {
  const given = process.env.REDIS_URL;
  if (given && given.trim() !== '') {
    if (!quiet) process.stderr.write(`[lab] using Redis at REDIS_URL=${kvlab().redactStoreUrl(given)}\n`);
    return { url: given.trim(), embedded: false, pid: undefined, stop: async () => {} };
  }
  const dir = path.join(STATE_DIR, 'redis');
  fs.mkdirSync(dir, { recursive: true });
  const redis = await kvlab().startEmbeddedRedis({ dir, password: randomBytes(24).toString('base64url') });
  if (!quiet) process.stderr.write(`[lab] embedded Redis on ${kvlab().redactStoreUrl(redis.url)}, password protected (data in ${path.relative(ROOT, dir)})\n`);
  return { url: redis.url, embedded: true, pid: redis.pid, stop: () => redis.stop() };
}

async function waitForJupyter(base, token, proc, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`Jupyter exited with code ${proc.exitCode} while starting`);
    try {
      const res = await fetch(`${base}/api/status?token=${token}`);
      if (res.ok) return;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`Jupyter did not answer at ${base} within ${timeoutMs / 1000} s`);
}

function stopProcessGroup(proc, timeoutMs = 8000) {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      try { process.kill(-proc.pid, 'SIGKILL'); } catch { /* gone */ }
    }, timeoutMs);
    proc.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    try {
      process.kill(-proc.pid, 'SIGTERM');
    } catch {
      resolve();
    }
  });
}

/**
 * Start Redis and Jupyter on localhost with notebooks/ open.
 * @param {{port?: number, quiet?: boolean, env?: object, ui?: 'notebook' | 'lab', python?: string}} options
 *   ui: the Notebook or JupyterLab (default: the Notebook when installed, else JupyterLab);
 *   python: the Python that has Jupyter (default: found by scripts/jupyter.mjs)
 * @returns {{url: string, base: string, token: string, redisUrl: string, app: string, version: string,
 *   notebookUrl: (name: string) => string, stop: () => Promise<void>}}
 */
export async function startLab({ port, quiet = false, env = {}, ui, python } = {}) {
  killStale();
  const found = python ? { python, versions: probePython(python) } : findJupyter({ root: ROOT, ui });
  if (!found?.versions) throw Object.assign(new Error('no Python with Jupyter found: run `npm run setup`'), { exitCode: 2 });
  const plan = jupyterPlan(found.versions, { ui });
  const redis = await startRedis({ quiet });
  const jupyterPort = port ?? (await freePort());
  const token = randomBytes(16).toString('hex');
  const base = `http://127.0.0.1:${jupyterPort}`;
  const logFile = path.join(STATE_DIR, 'jupyter.log');
  fs.mkdirSync(STATE_DIR, { recursive: true });
  const out = fs.openSync(logFile, 'w');
  // Own process group: a Ctrl-C in the terminal reaches only us, and we stop Jupyter cleanly
  // (Notebook would otherwise ask "Shutdown this notebook server (y/[n])?").
  // Containers and CI run as root; Jupyter refuses that unless told. It still binds loopback only.
  const args = jupyterArgs(plan, { port: jupyterPort, notebookDir: path.join(ROOT, 'notebooks'), asRoot: process.getuid?.() === 0 });
  const proc = spawn(found.python, args, {
    cwd: ROOT, env: jupyterEnv({ ...env, REDIS_URL: redis.url, JUPYTER_TOKEN: token }), stdio: ['ignore', out, out], detached: true,
  });
  fs.closeSync(out);
  rememberPids([proc.pid, ...(redis.pid ? [redis.pid] : [])]);
  if (!quiet) process.stderr.write(`[lab] ${plan.app === 'lab' ? 'JupyterLab' : 'Jupyter Notebook'} ${plan.version} (${found.python})\n`);
  try {
    await waitForJupyter(base, token, proc);
  } catch (err) {
    await stopProcessGroup(proc);
    await redis.stop();
    throw new Error(`${err.message}; see ${path.relative(ROOT, logFile)}`);
  }
  const urls = jupyterUrls(plan, base, token);
  let stopped = false;
  return {
    url: urls.home,
    base,
    token,
    redisUrl: redis.url,
    app: plan.app,
    version: plan.version,
    notebookUrl: urls.notebook,
    async stop() {
      if (stopped) return;
      stopped = true;
      await stopProcessGroup(proc);
      await redis.stop();
      fs.rmSync(PID_FILE, { force: true });
    },
  };
}
