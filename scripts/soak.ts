/**
 * `npm run soak` — serve a seeded request stream through a prefix cache on real Redis servers (a
 * standalone server and a 3-master + 3-replica cluster, started here) while faults are injected,
 * and check that no output is ever wrong. Writes results/soak.json and regenerates docs/soak.md.
 * Exits with code 1 if any output was wrong. `npm run soak -- --help` lists the options.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { formatSoakTable, renderSoakMarkdown, runSoak, type SoakOptions, type SoakResult } from '../lib/src/bench/soak';
import { isFastMode } from '../lib/src/runtime/env';

const HELP = `usage: npm run soak -- [options]

  KVLAB_FAST=1     a run under a minute (30 s of serving), written to out/results/ and out/docs/
  --seed N         seed of the request order and the fault schedule (default 7)
  --duration S     seconds of serving (default 360, 30 with KVLAB_FAST=1)
  --out FILE       where to write the JSON (default results/soak.json)
  --docs FILE      where to write the Markdown (default docs/soak.md)
  --render         do not run: regenerate the Markdown from the existing JSON (--out)
  -h, --help       this text`;

function options(argv: string[]): { options: SoakOptions; out: string; docs: string; render: boolean } | undefined {
  const root = path.resolve(__dirname, '..');
  const { values } = parseArgs({
    args: argv,
    options: { help: { type: 'boolean', short: 'h' }, render: { type: 'boolean' }, seed: { type: 'string' }, duration: { type: 'string' }, out: { type: 'string' }, docs: { type: 'string' } },
  });
  if (values.help) return undefined;
  const o: SoakOptions = {};
  for (const name of ['seed', 'duration'] as const) {
    const v = values[name];
    if (v === undefined) continue;
    if (!/^\d+$/.test(v)) throw new Error(`--${name} needs a non-negative integer, got ${v}`);
    if (name === 'seed') o.seed = Number(v);
    else o.durationMs = Number(v) * 1000;
  }
  const base = isFastMode() ? path.join(root, 'out') : root;
  return {
    options: o,
    out: values.out !== undefined ? path.resolve(values.out) : path.join(base, 'results', 'soak.json'),
    docs: values.docs !== undefined ? path.resolve(values.docs) : path.join(base, 'docs', 'soak.md'),
    render: values.render === true,
  };
}

async function main(): Promise<void> {
  const parsed = options(process.argv.slice(2));
  if (!parsed) return console.log(HELP);
  const { out, docs, render } = parsed;
  let result: SoakResult;
  if (render) {
    result = JSON.parse(fs.readFileSync(out, 'utf8')) as SoakResult;
  } else {
    result = await runSoak({ ...parsed.options, log: (line) => process.stderr.write(`${line}\n`) });
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  }
  fs.mkdirSync(path.dirname(docs), { recursive: true });
  fs.writeFileSync(docs, renderSoakMarkdown(result));
  console.log(formatSoakTable(result));
  const rel = (f: string): string => path.relative(process.cwd(), f) || f;
  console.log(render ? `${rel(docs)} regenerated from ${rel(out)}` : `results written to ${rel(out)} and ${rel(docs)}`);
  if (result.measurements.totals.wrongOutputs > 0) {
    console.error(`${result.measurements.totals.wrongOutputs} wrong outputs`);
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
