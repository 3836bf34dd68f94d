#!/usr/bin/env node
// `npm run reproduce`: every benchmark and every notebook in full mode, with progress. Writes under
// out/reproduce/: results JSON and chart HTML of each benchmark, executed notebooks, an HTML site of
// them (index.html), and prints how long it took and on what machine. Nothing in the repository is
// overwritten: compare out/reproduce/results with the committed results/.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT, setup } from './setup.mjs';
import { parseArgs } from 'node:util';
import { runNotebooks, listNotebooks } from './run-notebooks.mjs';
import { runChild } from './children.mjs';

const { values: opts } = parseArgs({ options: { help: { type: 'boolean', short: 'h' }, fast: { type: 'boolean' } } });
if (opts.help) {
  console.log(`usage: npm run reproduce [-- --fast]

  Every benchmark (bench:serde, bench:store, bench, bench:sizing, bench:backends, bench:tiers,
  bench:restart, soak) and every notebook in full mode, into
  out/reproduce/ (results JSON, chart HTML, executed notebooks, an index.html). Nothing in the
  repository is overwritten: compare out/reproduce/results with the committed results/.

  --fast       a quick rehearsal of the whole pipeline with small sizes (KVLAB_FAST=1)`);
  process.exit(0);
}
// Full mode unless --fast (a quick rehearsal of the whole pipeline with small sizes).
if (opts.fast) process.env.KVLAB_FAST = '1';
else delete process.env.KVLAB_FAST;
const OUT = path.join('out', 'reproduce');
const started = Date.now();
const steps = [];
const say = (s) => process.stdout.write(`${s}\n`);

async function step(name, cmd, args, env = {}) {
  say(`\n▶ [${steps.length + 1}] ${name}`);
  const t0 = Date.now();
  const r = await runChild(cmd, args, { cwd: ROOT, env: { ...process.env, ...env } });
  steps.push({ name, ok: r.status === 0, seconds: (Date.now() - t0) / 1000 });
}

await setup();
fs.mkdirSync(path.join(ROOT, OUT, 'results'), { recursive: true });
const tsx = (script) => [process.execPath, ['--import', 'tsx', script]];
const ts = (script, ...args) => [tsx(script)[0], [...tsx(script)[1], ...args]];
await step('tensor encodings and codecs (bench:serde)', ...ts('scripts/bench-serde.ts', '--out', path.join(OUT, 'results', 'serde.json')));
await step('Redis load throughput and lookup round trips (bench:store)', ...ts('scripts/bench-store.ts', '--out', path.join(OUT, 'results', 'store.json')));
await step('workloads × strategies, multi-worker, cost (bench)', process.execPath, ['lib/dist/cli/main.js', 'bench', '--out', path.join(OUT, 'results')]);
await step('model prefill on one and two threads against a BLAS (bench:prefill)', ...ts('scripts/bench-prefill.ts', '--out', path.join(OUT, 'results', 'prefill.json')));
await step('what a block costs Redis (bench:sizing)', ...ts('scripts/bench-sizing.ts', '--out', path.join(OUT, 'results', 'sizing.json')));
await step('Redis, Redis Cluster, memcached, memory; three clients (bench:backends)', ...ts('scripts/bench-backends.ts', '--out', path.join(OUT, 'results', 'backends.json')));
await step('three cache layers (bench:tiers)', ...ts('scripts/bench-tiers.ts', '--out', path.join(OUT, 'results', 'tiers.json')));
await step('warm restart from RDB / AOF (bench:restart)', ...ts('scripts/bench-restart.ts', '--out', path.join(OUT, 'results', 'restart.json')));
await step('faults and soak (soak)', ...ts('scripts/soak.ts', '--out', path.join(OUT, 'results', 'soak.json'), '--docs', path.join(OUT, 'soak.md')));

say(`\n▶ [${steps.length + 1}] notebooks in full mode`);
const t0 = Date.now();
const { results } = await runNotebooks(listNotebooks(), { outDir: OUT });
steps.push({ name: 'notebooks (full mode)', ok: results.every((r) => r.status === 'passed'), seconds: (Date.now() - t0) / 1000 });

const links = results.map((r) => `<li><a href="html/${r.notebook.replace(/\.ipynb$/, '.html')}">${r.notebook}</a> — ${r.status}, ${r.seconds} s</li>`).join('\n');
fs.writeFileSync(path.join(ROOT, OUT, 'index.html'), `<!doctype html><meta charset="utf-8"><title>kvcache-lab: reproduced</title>
<h1>kvcache-lab, reproduced</h1><p>${new Date().toISOString()} on ${os.cpus().length} × ${os.cpus()[0]?.model}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}</p>
<h2>Notebooks</h2><ul>${links}</ul><h2>Results</h2><ul>${fs.readdirSync(path.join(ROOT, OUT, 'results')).map((f) => `<li><a href="results/${f}">${f}</a></li>`).join('\n')}</ul>\n`);

say('\n── reproduce summary ──');
for (const s of steps) say(`${s.ok ? '✓' : '✗'} ${s.name} (${s.seconds.toFixed(0)} s)`);
say(`took ${((Date.now() - started) / 60000).toFixed(1)} min on ${os.cpus().length} × ${os.cpus()[0]?.model}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.release()}, Node ${process.version}`);
say(`open ${path.join(OUT, 'index.html')}; the book of this run: npm run book (→ out/book/index.html)`);
process.exit(steps.every((s) => s.ok) ? 0 : 1);
