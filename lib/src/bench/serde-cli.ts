/**
 * `npm run bench:serde` (scripts/bench-serde.ts) and any CLI wrapper: run the serialization
 * benchmark with a terminal progress bar, print the tables, write results/serde.json.
 */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { isFastMode } from '../runtime/env';
import { ConfigError } from '../runtime/errors';
import { progress, type ProgressReporter } from '../runtime/progress';
import { type SerdeBenchOptions, type SerdeBenchResult, runSerdeBench } from './serde';
import { formatSerdeReport, writeSerdeResults } from './serde-report';

export interface SerdeBenchCliOptions extends SerdeBenchOptions {
  /** Results file. @default results/serde.json (out/results/serde.json with KVLAB_FAST=1) */
  out?: string;
  /** Draw the progress bar. @default true */
  progress?: boolean;
}

export const DEFAULT_SERDE_RESULTS_FILE = path.join('results', 'serde.json');

export const SERDE_BENCH_HELP = `usage: npm run bench:serde -- [--out FILE] [--no-progress]

  Tensor encodings (fp16, bf16, int8, KIVI-style 4/2-bit) and codecs, each against a memcpy baseline
  measured in the same run; which half-precision path each conversion picked; checksums.

  KVLAB_FAST=1     a small, quick run (results in out/results/)
  --out FILE       results file (default results/serde.json)
  --no-progress    no progress bar
  -h, --help       this text`;

/** The command line of bench:serde; undefined for --help. */
export function parseSerdeBenchArgs(argv: readonly string[]): SerdeBenchCliOptions | undefined {
  let values: { help?: boolean; out?: string; 'no-progress'?: boolean };
  try {
    ({ values } = parseArgs({ args: [...argv], options: { help: { type: 'boolean', short: 'h' }, out: { type: 'string', short: 'o' }, 'no-progress': { type: 'boolean' } } }));
  } catch (err) {
    throw new ConfigError({ path: 'arguments', expected: '--out FILE, --no-progress or --help (KVLAB_FAST=1 for a quick run)', received: (err as Error).message });
  }
  if (values.help) return undefined;
  return { ...(values.out !== undefined ? { out: values.out } : {}), ...(values['no-progress'] ? { progress: false } : {}) };
}

/** Run, show progress on stderr, print the report on stdout, write the JSON. */
export function runSerdeBenchCli(options: SerdeBenchCliOptions = {}): { result: SerdeBenchResult; file: string } {
  let bar: ProgressReporter | undefined;
  let last = 0;
  const result = runSerdeBench({
    ...options,
    onProgress: (done, total, label) => {
      if (options.progress === false) return;
      bar ??= progress(total, 'bench:serde', { target: 'terminal' });
      bar.tick(done - last, `bench:serde ${label}`);
      last = done;
    },
  });
  bar?.done();
  const file = writeSerdeResults(result, options.out ?? (isFastMode() ? path.join('out', DEFAULT_SERDE_RESULTS_FILE) : DEFAULT_SERDE_RESULTS_FILE));
  process.stdout.write(`${formatSerdeReport(result)}\n\nResults written to ${path.relative(process.cwd(), file) || file}\n`);
  return { result, file };
}
