#!/usr/bin/env node
// `npm run notebooks [files…]`: execute notebooks headless on the tslab kernel (full mode unless
// KVLAB_FAST=1), with an embedded Redis unless REDIS_URL is set. Executed copies and HTML go to out/.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
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
    const withSolutions = process.argv.includes('--solutions');
    const files = process.argv.slice(2).filter((a) => a !== '--solutions');
    const { status } = await runNotebooks(files.length ? files : undefined, withSolutions ? { solutions: path.join(ROOT, 'solutions', 'exercises.json') } : {});
    process.exit(status);
  } catch (err) {
    process.stderr.write(`[notebooks] ${err.message}\n`);
    process.exit(err.exitCode ?? 1);
  }
}
