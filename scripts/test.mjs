#!/usr/bin/env node
// `npm test`: set-up, then type-check, lint, clean-notebook check, the mocha suite, headless
// execution of every notebook, the book built from them and checked in Chromium, and the notebooks
// against an external Redis, all in fast mode (KVLAB_FAST=1). The last line totals everything:
// "N passed, M failed" (static checks count one each, mocha tests and notebooks one each).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT, setup } from './setup.mjs';
import { dirtyNotebooks } from './check-notebooks-clean.mjs';
import { runNotebooks } from './run-notebooks.mjs';
import { runChild } from './children.mjs';

const { values: opts, positionals } = parseArgs({
  options: { help: { type: 'boolean', short: 'h' }, 'mocha-only': { type: 'boolean' } },
  allowPositionals: true,
});
if (opts.help) {
  console.log(`usage: npm test [-- --mocha-only [test files…]]

  Set-up, type-check, lint, clean-notebook check, docs check, the mocha suite, every notebook
  executed headless, the book built from them and opened in headless Chromium, and the notebooks
  against an external Redis (REDIS_URL), in fast mode (KVLAB_FAST=1). The last line is
  "N passed, M failed"; a skipped test counts as failed (set-up installs what every test needs).

  --mocha-only   run only the mocha suite (or the test files given), without set-up or notebooks`);
  process.exit(0);
}
const mochaFiles = positionals.length ? positionals : ['test/**/*.test.ts'];

process.env.KVLAB_FAST ??= '1';
const started = Date.now();
const stages = [];
const record = (name, passed, failed, note = '') => stages.push({ name, passed, failed, note });
const banner = (s) => process.stdout.write(`\n━━ ${s} ${'━'.repeat(Math.max(0, 70 - s.length))}\n`);
// Each stage runs as a child in its own process group: a signal to `npm test` ends it, and whatever it
// started (redis-server, Jupyter kernels), before the runner exits (scripts/children.mjs).
const node = (script, args, opts = {}) => runChild(process.execPath, [path.join(ROOT, script), ...args], { cwd: ROOT, ...opts });

if (!opts['mocha-only']) try {
  banner('set-up');
  await setup({ browser: true });
} catch (err) {
  process.stderr.write(`[test] set-up failed: ${err.message}\n`);
  process.stdout.write('0 passed, 1 failed\n');
  process.exit(1);
}

if (!opts['mocha-only']) {
banner('type-check (tsc --strict)');
const tsc = await node('node_modules/typescript/bin/tsc', ['-p', 'tsconfig.json', '--noEmit']);
record('type-check', tsc.status === 0 ? 1 : 0, tsc.status === 0 ? 0 : 1);

banner('lint (eslint)');
const lint = await node('node_modules/eslint/bin/eslint.js', ['.']);
record('lint', lint.status === 0 ? 1 : 0, lint.status === 0 ? 0 : 1);

banner('committed notebooks carry no outputs');
const dirty = dirtyNotebooks();
for (const d of dirty) console.error(d);
record('clean notebooks', dirty.length ? 0 : 1, dirty.length ? 1 : 0, dirty.length ? `${dirty.length} problem(s)` : '');

banner('docs in sync with results/');
const docs = await runChild(process.execPath, ['--import', 'tsx', 'scripts/docs.ts', '--check'], { cwd: ROOT });
record('docs sync', docs.status === 0 ? 1 : 0, docs.status === 0 ? 0 : 1);
}

/**
 * Run mocha on `files` with the summary reporter and record its passes and failures. A skipped test
 * counts as failed: set-up installs everything every test needs, so a skip means something is missing.
 */
async function mochaStage(name, files, env = {}) {
  const summaryFile = path.join(ROOT, 'out', `mocha-summary-${name.replace(/\W+/g, '-')}.json`);
  fs.mkdirSync(path.dirname(summaryFile), { recursive: true });
  fs.rmSync(summaryFile, { force: true });
  const r = await node('node_modules/mocha/bin/mocha.js', ['--reporter', path.join(ROOT, 'test', 'harness', 'summary-reporter.cjs'), ...files], {
    env: { ...process.env, ...env, KVLAB_MOCHA_SUMMARY: summaryFile },
  });
  if (fs.existsSync(summaryFile)) {
    const s = JSON.parse(fs.readFileSync(summaryFile, 'utf8'));
    record(name, s.passes, s.failures + s.pending, s.pending ? `${s.pending} skipped (counted as failed)` : '');
  } else {
    record(name, 0, 1, `mocha exited ${r.status} without a summary`);
  }
}

banner('mocha');
await mochaStage('mocha tests', mochaFiles);

if (!opts['mocha-only']) {
banner('notebooks (tslab kernel, nbclient), exercises filled with the reference solutions');
try {
  const { results } = await runNotebooks(undefined, { solutions: path.join(ROOT, 'solutions') });
  const passed = results.filter((r) => r.status === 'passed').length;
  record('notebooks', passed, results.length - passed);
} catch (err) {
  process.stderr.write(`[test] notebook runner failed: ${err.message}\n`);
  record('notebooks', 0, 1, err.message);
}

banner('book: the notebooks just executed and the docs as a site (npm run book), every page in headless Chromium');
const book = await runChild(process.execPath, ['--import', 'tsx', 'scripts/book.ts', '--from', 'out/notebooks', '--out', 'out/book'], { cwd: ROOT });
record('book build', book.status === 0 ? 1 : 0, book.status === 0 ? 0 : 1);
if (book.status === 0) await mochaStage('book in Chromium', ['test/browser/book-site.check.ts'], { KVLAB_BOOK_DIR: path.join(ROOT, 'out', 'book') });

banner('notebooks against an external Redis (REDIS_URL set, as with Docker), and without redis-server');
await mochaStage('external Redis', ['test/harness/external-redis.check.ts']);
}

banner('summary');
for (const s of stages) {
  console.log(`${s.failed ? '✗' : '✓'} ${s.name.padEnd(18)} ${String(s.passed).padStart(4)} passed ${String(s.failed).padStart(3)} failed ${s.note}`);
}
console.log(`took ${((Date.now() - started) / 1000).toFixed(0)} s`);
const passed = stages.reduce((a, s) => a + s.passed, 0);
const failed = stages.reduce((a, s) => a + s.failed, 0);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
