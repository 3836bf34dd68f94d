#!/usr/bin/env node
/**
 * `npm run book`: the course as a static site in out/book/ — every notebook executed, with its outputs
 * and interactive charts (plotly.js bundled once, no CDN: it works offline), the docs, a table of
 * contents, study times, previous/next links. Built from executed notebooks that a run left in out/:
 * `npm run reproduce` (full mode, what the published book shows) or `npm run notebooks`; `--run`
 * executes them first. `npm test` builds it from its fast-mode run and checks every page in Chromium.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { buildBook } from './book/build';
import { repoBlobUrl } from './book/links';
import { formatMinutes } from './book/layout';

const ROOT = path.resolve(__dirname, '..');
const USAGE = `usage: npm run book [-- --from DIR] [--out DIR] [--run] [--require-full] [--repo-url URL]

  The course as a static site: executed notebooks with their outputs and charts, the docs, a table of
  contents with study times. Open out/book/index.html (no server needed), or publish the folder.

  --from DIR       executed notebooks (default: out/reproduce/notebooks from \`npm run reproduce\`,
                   else out/notebooks from \`npm run notebooks\`)
  --out DIR        where the site goes (default: out/book; replaced)
  --run            execute the notebooks first (\`npm run notebooks\`; full mode unless KVLAB_FAST=1)
  --require-full   fail unless every notebook comes from a full-mode run (for publishing)
  --repo-url URL   link other repository files to URL/blob/<commit>/… (GitHub Actions: automatic)`;

const hasNotebooks = (dir: string): boolean => fs.existsSync(dir) && fs.readdirSync(dir).some((f) => f.endsWith('.ipynb'));

/** The executed notebooks to build from: the full run of `npm run reproduce` if there is one, else `npm run notebooks`' copies. */
export function defaultSource(root: string): string | undefined {
  return [path.join(root, 'out', 'reproduce', 'notebooks'), path.join(root, 'out', 'notebooks')].find(hasNotebooks);
}

async function main(): Promise<number> {
  const { values: opts } = parseArgs({
    options: {
      help: { type: 'boolean', short: 'h' }, from: { type: 'string' }, out: { type: 'string' }, run: { type: 'boolean' },
      'require-full': { type: 'boolean' }, 'repo-url': { type: 'string' },
    },
  });
  if (opts.help) {
    console.log(USAGE);
    return 0;
  }
  if (opts.run) {
    const runner = (await import(pathToFileURL(path.join(ROOT, 'scripts', 'run-notebooks.mjs')).href)) as { runNotebooks(files?: string[], o?: { outDir?: string }): Promise<{ status: number }> };
    const setup = (await import(pathToFileURL(path.join(ROOT, 'scripts', 'setup.mjs')).href)) as { setup(): Promise<void> };
    await setup.setup();
    const { status } = await runner.runNotebooks(undefined, { outDir: 'out' });
    if (status !== 0) process.stderr.write('[book] some notebooks failed: their pages say where they stopped\n');
  }
  const from = opts.from ? path.resolve(opts.from) : opts.run ? path.join(ROOT, 'out', 'notebooks') : defaultSource(ROOT);
  if (!from || !hasNotebooks(from)) {
    process.stderr.write(`[book] no executed notebooks${from ? ` in ${path.relative(ROOT, from)}` : ' in out/'}: run \`npm run reproduce\` (full mode, as published) or \`npm run notebooks\` first, or \`npm run book -- --run\`\n`);
    return 2;
  }
  const out = path.resolve(opts.out ?? path.join(ROOT, 'out', 'book'));
  const started = Date.now();
  const result = buildBook({ root: ROOT, from, out, repoBlobUrl: repoBlobUrl(opts['repo-url']) });
  for (const w of result.warnings) process.stderr.write(`[book] warning: ${w}\n`);
  const { pages, info } = result.manifest;
  const total = pages.reduce((a, p) => a + p.studyMinutes, 0);
  process.stdout.write(`[book] ${pages.length} pages (${pages.filter((p) => p.kind === 'notebook').length} notebooks from ${path.relative(ROOT, from)}, ${info.mode} mode), ` +
    `${pages.reduce((a, p) => a + p.charts, 0)} charts, study time about ${formatMinutes(total)}, in ${((Date.now() - started) / 1000).toFixed(1)} s → ${path.relative(ROOT, out)}/index.html\n`);
  if (result.dropped) process.stdout.write(`[book] ${result.dropped} link(s) to repository files shown as text (no repository address: pass --repo-url)\n`);
  let failed = false;
  if (result.broken.length) {
    failed = true;
    for (const b of result.broken) process.stderr.write(`[book] broken link in ${b.from}: ${b.href} (${b.why})\n`);
  }
  if (opts['require-full'] && info.mode !== 'full') {
    failed = true;
    process.stderr.write(`[book] --require-full: the notebooks come from a ${info.mode}-mode run (or one that did not record its mode): run \`npm run reproduce\`\n`);
  }
  return failed ? 1 : 0;
}

if (require.main === module) {
  main().then((code) => process.exit(code), (err: Error) => {
    process.stderr.write(`[book] ${err.message}\n`);
    process.exit(1);
  });
}
