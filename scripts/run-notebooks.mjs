#!/usr/bin/env node
// `npm run notebooks [files…]`: execute notebooks headless on the tslab kernel (full mode unless
// KVLAB_FAST=1), with an embedded Redis unless REDIS_URL is set. Executed copies and HTML go to out/.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT, setup, findPython, jupyterEnv } from './setup.mjs';
import { startRedis } from './lab.mjs';

export function listNotebooks() {
  const dir = path.join(ROOT, 'notebooks');
  return fs.readdirSync(dir).filter((f) => f.endsWith('.ipynb')).sort().map((f) => path.join('notebooks', f));
}

export async function runNotebooks(files = listNotebooks(), { outDir = 'out', env = {}, solutions } = {}) {
  const redis = await startRedis({ quiet: true });
  try {
    const r = spawnSync(findPython(), [path.join(ROOT, 'scripts', 'run_notebooks.py'), '--out', outDir, ...(solutions ? ['--solutions', solutions] : []), ...files], {
      cwd: ROOT,
      stdio: 'inherit',
      env: jupyterEnv({ ...env, REDIS_URL: redis.url }),
    });
    const results = JSON.parse(fs.readFileSync(path.join(ROOT, outDir, 'notebooks', 'results.json'), 'utf8'));
    return { status: r.status ?? 1, results };
  } finally {
    await redis.stop();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.join(ROOT, 'scripts', 'run-notebooks.mjs')) {
  try {
    await setup({ redis: !process.env.REDIS_URL });
    // --solutions: run with the reference solutions of the exercises filled in (what CI does).
    // --record: keep the run times in results/notebooks.json (the workshop plan is generated from it).
    const withSolutions = process.argv.includes('--solutions');
    const record = process.argv.includes('--record');
    const files = process.argv.slice(2).filter((a) => a !== '--solutions' && a !== '--record');
    const { status, results } = await runNotebooks(files.length ? files : undefined, withSolutions ? { solutions: path.join(ROOT, 'solutions') } : {});
    if (record) {
      const cpus = os.cpus();
      // Keep earlier timings of notebooks this run did not execute.
      const file = path.join(ROOT, 'results', 'notebooks.json');
      const earlier = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')).notebooks : [];
      const merged = [...earlier.filter((e) => !results.some((r) => r.notebook === e.notebook)), ...results].sort((a, b) => a.notebook.localeCompare(b.notebook));
      fs.writeFileSync(file, JSON.stringify({
        kind: 'kvlab-notebook-run', date: new Date().toISOString(), fast: Boolean(process.env.KVLAB_FAST && process.env.KVLAB_FAST !== '0'),
        machine: { platform: os.platform(), arch: os.arch(), cpus: cpus.length, cpuModel: cpus[0]?.model ?? '', memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version },
        notebooks: merged,
      }, null, 2) + '\n');
      process.stderr.write('[notebooks] run times written to results/notebooks.json\n');
    }
    process.exit(status);
  } catch (err) {
    process.stderr.write(`[notebooks] ${err.message}\n`);
    process.exit(err.exitCode ?? 1);
  }
}
