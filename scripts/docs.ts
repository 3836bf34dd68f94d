/**
 * `npm run docs`: regenerate every measured table in docs/ and README.md from the committed results
 * files, and render the charts to PNG (plotly in headless Chromium). `--check` regenerates the
 * tables in memory and fails if a committed document differs — `npm test` runs it, so docs can
 * never drift from the results they quote.
 *
 * A generated block in a Markdown file looks like:
 *   <!-- kvlab:generated NAME -->
 *   …replaced by the generator NAME…
 *   <!-- /kvlab:generated -->
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { generators, renderCharts } from './docs-generators';

const ROOT = path.resolve(__dirname, '..');
const BLOCK = /(<!-- kvlab:generated ([\w-]+) -->\n)([\s\S]*?)(<!-- \/kvlab:generated -->)/g;

export function documents(): string[] {
  const docs = fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => path.join('docs', f));
  return ['README.md', 'GETTING_STARTED.md', ...docs].filter((f) => fs.existsSync(path.join(ROOT, f)));
}

export function regenerate(text: string, file: string): string {
  return text.replace(BLOCK, (_m, open: string, name: string, _old: string, close: string) => {
    const gen = generators[name];
    if (!gen) throw new Error(`${file}: unknown generated block ${JSON.stringify(name)} (known: ${Object.keys(generators).join(', ')})`);
    return `${open}${gen(ROOT).trimEnd()}\n${close}`;
  });
}

const HELP = `usage: npm run docs [-- --check] [-- --no-charts]

  Regenerate every generated block of README.md, GETTING_STARTED.md and docs/ from the committed
  results files and the code (docs/api.md), and render the charts to PNG.

  --check       regenerate in memory and fail if a committed document differs (npm test runs it)
  --no-charts   do not render the chart images`;

async function main(): Promise<void> {
  const { values: opts } = parseArgs({ options: { help: { type: 'boolean', short: 'h' }, check: { type: 'boolean' }, 'no-charts': { type: 'boolean' } } });
  if (opts.help) return console.log(HELP);
  const check = opts.check === true;
  const stale: string[] = [];
  let blocks = 0;
  for (const file of documents()) {
    const full = path.join(ROOT, file);
    const text = fs.readFileSync(full, 'utf8');
    blocks += [...text.matchAll(BLOCK)].length;
    const next = regenerate(text, file);
    if (next === text) continue;
    if (check) stale.push(file);
    else {
      fs.writeFileSync(full, next);
      console.log(`updated ${file}`);
    }
  }
  if (check) {
    if (stale.length) {
      console.error(`docs out of sync with results/: ${stale.join(', ')} — run \`npm run docs\` and commit`);
      process.exit(1);
    }
    console.log(`docs in sync with results/ (${blocks} generated blocks)`);
    return;
  }
  if (!opts['no-charts']) await renderCharts(ROOT);
}

if (require.main === module) {
  main().catch((err: Error) => {
    console.error(err.message);
    process.exit(1);
  });
}
