/**
 * `npm run soak` — serve a seeded request stream through a prefix cache on real Redis servers (a
 * standalone server and a 3-master + 3-replica cluster, started here) while faults are injected,
 * and check that no output is ever wrong. Writes results/soak.json and regenerates docs/soak.md.
 *
 *   KVLAB_FAST=1     a run under a minute (30 s of serving)
 *   --seed=N         seed of the request order and the fault schedule (default 7)
 *   --duration=S     seconds of serving (default 360, 30 with KVLAB_FAST=1)
 *   --out=FILE       where to write the JSON (default results/soak.json)
 *   --docs=FILE      where to write the Markdown (default docs/soak.md)
 *   --render         do not run: regenerate the Markdown from the existing JSON (--out)
 *
 * Exits with code 1 if any output was wrong.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatSoakTable, renderSoakMarkdown, runSoak, type SoakOptions, type SoakResult } from '../lib/src/bench/soak';

function parseArgs(argv: string[]): { options: SoakOptions; out: string; docs: string; render: boolean } {
  const root = path.resolve(__dirname, '..');
  const options: SoakOptions = {};
  let out = path.join(root, 'results', 'soak.json');
  let docs = path.join(root, 'docs', 'soak.md');
  let render = false;
  for (const arg of argv) {
    if (arg === '--render') {
      render = true;
      continue;
    }
    const m = /^--([a-z-]+)=(.*)$/.exec(arg);
    if (!m) throw new Error(`unknown argument ${arg} (expected --name=value)`);
    const [, name, value] = m as unknown as [string, string, string];
    if (name === 'out') out = path.resolve(value);
    else if (name === 'docs') docs = path.resolve(value);
    else if (name === 'seed' || name === 'duration') {
      if (!/^\d+$/.test(value)) throw new Error(`--${name} needs a non-negative integer, got ${value}`);
      if (name === 'seed') options.seed = Number(value);
      else options.durationMs = Number(value) * 1000;
    } else throw new Error(`unknown option --${name} (known: --seed, --duration, --out, --docs, --render)`);
  }
  return { options, out, docs, render };
}

async function main(): Promise<void> {
  const { options, out, docs, render } = parseArgs(process.argv.slice(2));
  let result: SoakResult;
  if (render) {
    result = JSON.parse(fs.readFileSync(out, 'utf8')) as SoakResult;
  } else {
    result = await runSoak({ ...options, log: (line) => process.stderr.write(`${line}\n`) });
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
