/**
 * No orphans: SIGTERM, SIGINT and SIGHUP to `npm start`, to the test runner and to benchmarks leave
 * no redis-server, Jupyter or kernel process and no temporary folder behind. Each case starts the
 * real command, waits until it has started its servers, records every descendant process, signals
 * the command and checks that every one of them is gone and no /tmp/kvlab-* folder was left.
 */
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

/** Parent pid of every process, from /proc. */
function parents(): Map<number, number> {
  const out = new Map<number, number>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      out.set(Number(name), ppid);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function descendants(root: number): Map<number, string> {
  const p = parents();
  const found = new Map<number, string>();
  let frontier = [root];
  while (frontier.length) {
    const next: number[] = [];
    for (const [pid, ppid] of p) {
      if (frontier.includes(ppid) && !found.has(pid)) {
        found.set(pid, commandOf(pid));
        next.push(pid);
      }
    }
    frontier = next;
  }
  return found;
}

function commandOf(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim().slice(0, 120);
  } catch {
    return '?';
  }
}

function alive(pid: number): boolean {
  try {
    const state = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
    return state !== 'Z';
  } catch {
    return false;
  }
}

const tempFolders = (): Set<string> => new Set(fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('kvlab-')));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Case {
  name: string;
  command: string[];
  signal: NodeJS.Signals;
  /** The command has started what it will start when this matches its output. */
  ready: RegExp;
  /** Processes that must be among the descendants when it is ready (so the test means something). */
  expect: RegExp[];
  env?: Record<string, string>;
}

async function runCase(c: Case): Promise<void> {
  const before = tempFolders();
  const proc: ChildProcess = spawn(c.command[0]!, c.command.slice(1), { cwd: ROOT, env: { ...process.env, KVLAB_FAST: '1', ...c.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const deadline = Date.now() + 150_000;
  let tree = new Map<number, string>();
  for (;;) {
    tree = descendants(proc.pid!);
    const cmds = [...tree.values()];
    if (c.ready.test(output) && c.expect.every((re) => cmds.some((cmd) => re.test(cmd)))) break;
    if (proc.exitCode !== null) assert.fail(`${c.name} exited before it was ready:\n${output.slice(-2000)}`);
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      assert.fail(`${c.name} not ready in time; processes: ${cmds.join(' | ')}\n${output.slice(-2000)}`);
    }
    await sleep(200);
  }
  await sleep(300); // whatever was starting together with the last expected process
  tree = new Map([...tree, ...descendants(proc.pid!)]);
  proc.kill(c.signal);
  await Promise.race([exited, sleep(30_000)]);
  assert.notEqual(proc.exitCode === null && proc.signalCode === null, true, `${c.name} did not exit after ${c.signal}`);
  // Give processes a moment to finish dying (a SIGTERMed redis-server, an orphan noticing its parent is gone).
  let left: [number, string][] = [];
  for (let i = 0; i < 50; i++) {
    left = [...tree].filter(([pid]) => alive(pid));
    if (left.length === 0) break;
    await sleep(200);
  }
  for (const [pid] of left) {
    try {
      process.kill(pid, 'SIGKILL'); // do not leave them to the next test
    } catch {
      // gone
    }
  }
  assert.deepEqual(left.map(([pid, cmd]) => `${pid} ${cmd}`), [], `${c.name}: processes left after ${c.signal}`);
  const newFolders = [...tempFolders()].filter((f) => !before.has(f));
  assert.deepEqual(newFolders, [], `${c.name}: temporary folders left after ${c.signal}`);
}

describe('reliability: signals leave no orphans (real commands)', function () {
  this.timeout(240_000);
  const node = process.execPath;
  const lab = (signal: NodeJS.Signals): Case => ({
    name: `npm start (scripts/start.mjs) ← ${signal}`,
    command: [node, 'scripts/start.mjs'],
    signal,
    ready: /kvcache-lab is running/,
    expect: [/redis-server/, /notebook/],
  });
  const runner = (signal: NodeJS.Signals): Case => ({
    name: `npm test (scripts/test.mjs) ← ${signal}`,
    command: [node, 'scripts/test.mjs', '--mocha-only', 'test/fixtures/signals/hold-servers.fixture.ts'],
    signal,
    ready: /SERVERS-READY/,
    expect: [/redis-server/, /mocha/],
  });
  const bench = (signal: NodeJS.Signals): Case => ({
    name: `kvlab bench ← ${signal}`,
    command: [node, 'lib/dist/cli/main.js', 'bench', '--workloads', 'agent', '--strategies', 'no-cache,prefix-redis', '--requests', '400', '--workers', '2', '--out', path.join(ROOT, 'out', 'signals-bench')],
    signal,
    ready: /embedded Redis/,
    expect: [/redis-server/],
    env: { REDIS_URL: '' },
  });
  // As `npm run bench:store` runs it (node --import tsx: no wrapper process in between).
  const benchStore = (signal: NodeJS.Signals): Case => ({
    name: `npm run bench:store ← ${signal}`,
    command: [node, '--import', 'tsx', 'scripts/bench-store.ts', '--out', path.join(ROOT, 'out', 'signals-store.json')],
    signal,
    ready: /bench:store/,
    expect: [/redis-server/],
    env: { KVLAB_FAST: '0', REDIS_URL: '' },
  });

  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) it(lab(signal).name, () => runCase(lab(signal)));
  for (const signal of ['SIGTERM', 'SIGHUP'] as const) it(runner(signal).name, () => runCase(runner(signal)));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) it(bench(signal).name, () => runCase(bench(signal)));
  it(benchStore('SIGHUP').name, () => runCase(benchStore('SIGHUP')));
});
