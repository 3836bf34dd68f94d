#!/usr/bin/env node
// `npm run test:node-versions`: the mocha suite on other Node.js versions than the installed one
// (by default 22 and 24, the maintained LTS lines; CI runs the installed Node). Each Node comes from
// the npm registry (`npx -p node@N`), so nothing is installed system-wide.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { ROOT } from './setup.mjs';
import { runChild } from './children.mjs';

const { values: opts, positionals } = parseArgs({
  options: { help: { type: 'boolean', short: 'h' }, versions: { type: 'string', default: '22,24' } },
  allowPositionals: true,
});
if (opts.help) {
  console.log(`usage: npm run test:node-versions [-- --versions 22,24] [test files…]

  Runs the mocha suite (or the given test files) on each Node.js major version, fetched with
  npx -p node@<version>, and prints one summary line per version. Exit code 1 if any failed.`);
  process.exit(0);
}
const versions = opts.versions.split(',').map((v) => v.trim()).filter(Boolean);
const files = positionals.length ? positionals : ['test/**/*.test.ts'];
const rows = [];
for (const v of versions) {
  const probe = spawnSync('npx', ['-y', '-p', `node@${v}`, 'node', '--version'], { cwd: ROOT, encoding: 'utf8' });
  const actual = probe.stdout.trim();
  if (probe.status !== 0 || !actual.startsWith(`v${v}.`)) {
    rows.push({ version: v, actual: actual || 'unavailable', passed: 0, failed: 1, note: (probe.stderr || '').trim().split('\n').pop() });
    continue;
  }
  process.stdout.write(`\n━━ Node ${actual}: mocha ━━\n`);
  const summary = path.join(ROOT, 'out', `mocha-summary-node${v}.json`);
  fs.mkdirSync(path.dirname(summary), { recursive: true });
  fs.rmSync(summary, { force: true });
  const r = await runChild('npx', ['-y', '-p', `node@${v}`, 'node', 'node_modules/mocha/bin/mocha.js', '--reporter', 'test/harness/summary-reporter.cjs', ...files], {
    cwd: ROOT,
    env: { ...process.env, KVLAB_FAST: process.env.KVLAB_FAST ?? '1', KVLAB_MOCHA_SUMMARY: summary },
  });
  const s = fs.existsSync(summary) ? JSON.parse(fs.readFileSync(summary, 'utf8')) : { passes: 0, failures: 1, pending: 0 };
  rows.push({ version: v, actual, passed: s.passes, failed: s.failures, note: r.status === 0 ? (s.pending ? `${s.pending} pending` : '') : `exit ${r.status}` });
}
process.stdout.write('\n━━ summary ━━\n');
for (const r of rows) console.log(`${r.failed ? '✗' : '✓'} Node ${r.actual.padEnd(9)} ${String(r.passed).padStart(4)} passed ${String(r.failed).padStart(3)} failed ${r.note ?? ''}`);
process.exit(rows.every((r) => r.failed === 0) ? 0 : 1);
