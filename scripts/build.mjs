#!/usr/bin/env node
// `npm run build`: compile lib/src to lib/dist with the project's own TypeScript (tslab ships an
// older tsc that can win the node_modules/.bin/tsc link), from a clean folder: tsc never deletes
// the output of a source file that was removed or moved, and a stale `x.js` next to a new `x/`
// folder would shadow it.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function buildLib() {
  fs.rmSync(path.join(ROOT, 'lib', 'dist'), { recursive: true, force: true });
  const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'lib/tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) throw Object.assign(new Error('lib build failed (tsc)'), { exitCode: r.status ?? 1 });
  linkLibCommands();
}

/** Make lib's commands (`kvlab`) runnable through node_modules/.bin once lib/dist exists. */
export function linkLibCommands() {
  // npm marks a package's bin files executable when it links them at install time, before lib/dist
  // exists in a fresh clone; tsc writes them without the bit, so `npx kvlab` would be refused.
  const { bin = {} } = JSON.parse(fs.readFileSync(path.join(ROOT, 'lib', 'package.json'), 'utf8'));
  for (const file of Object.values(bin)) fs.chmodSync(path.join(ROOT, 'lib', file), 0o755);
  // For the same reason a fresh clone's `npm install` made no node_modules/.bin link for them (their
  // target did not exist yet): `npm rebuild` of our own package links them now.
  const shim = process.platform === 'win32' ? '.cmd' : '';
  const unlinked = Object.keys(bin).some((name) => !fs.existsSync(path.join(ROOT, 'node_modules', '.bin', name + shim)));
  if (unlinked) {
    const npm = spawnSync('npm', ['rebuild', 'kvcache-lab', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: ROOT, encoding: 'utf8', shell: process.platform === 'win32' });
    if (npm.status !== 0) process.stderr.write(`[build] could not link lib's commands into node_modules/.bin (npm rebuild): ${(npm.stderr || '').trim()}\n`);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--help')) {
    console.log('usage: npm run build   compile lib/src into a clean lib/dist with the project TypeScript');
    process.exit(0);
  }
  try {
    buildLib();
  } catch (err) {
    process.stderr.write(`[build] ${err.message}\n`);
    process.exit(err.exitCode ?? 1);
  }
}
