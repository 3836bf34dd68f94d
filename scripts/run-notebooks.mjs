#!/usr/bin/env node
// `npm run notebooks [files…]`: execute notebooks headless on the tslab kernel (full mode unless
// KVLAB_FAST=1), with an embedded Redis unless REDIS_URL is set. Executed copies and HTML go to out/.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT, setup, findPython, jupyterEnv } from './setup.mjs';
import { parseArgs } from 'node:util';
import { startRedis } from './lab.mjs';
import { runChild } from './children.mjs';

export function listNotebooks() {
  const dir = path.join(ROOT, 'notebooks');
  return fs.readdirSync(dir).filter((f) => f.endsWith('.ipynb')).sort().map((f) => path.join('notebooks', f));
}

export async function runNotebooks(files = listNotebooks(), { outDir = 'out', env = {}, solutions } = {}) {
  const redis = await startRedis({ quiet: true });
  try {
    // In its own process group (with the kernels it starts): a signal to this process ends them too.
    const r = await runChild(findPython(), [path.join(ROOT, 'scripts', 'run_notebooks.py'), '--out', outDir, ...(solutions ? ['--solutions', solutions] : []), ...files], {
      cwd: ROOT,
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
    const { values: opts, positionals: files } = parseArgs({
      options: { help: { type: 'boolean', short: 'h' }, solutions: { type: 'boolean' }, record: { type: 'boolean' }, out: { type: 'string' } },
      allowPositionals: true,
    });
    if (opts.help) {
      console.log(`usage: npm run notebooks -- [--solutions] [--record] [--out DIR] [notebooks/NN_….ipynb …]

  Execute notebooks headless on the tslab kernel (full sizes unless KVLAB_FAST=1), with the lab's
  Redis (an embedded one unless REDIS_URL is set). Executed copies and HTML go to out/.

  --solutions   fill in the reference solutions of the exercises (what CI does); checks are strict
  --record      keep the run times in results/notebooks.json
  --out DIR     write executed copies to DIR/notebooks and HTML to DIR/html (default: out)`);
      process.exit(0);
    }
    await setup();
    const withSolutions = opts.solutions === true;
    const record = opts.record === true;
    const { status, results } = await runNotebooks(files.length ? files : undefined, {
      ...(opts.out ? { outDir: path.relative(ROOT, path.resolve(opts.out)) } : {}),
      ...(withSolutions ? { solutions: path.join(ROOT, 'solutions') } : {}),
    });
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
