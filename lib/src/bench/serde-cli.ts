/**
 * `npm run bench:serde` (scripts/bench-serde.ts) and any CLI wrapper: run the serialization
 * benchmark with a terminal progress bar, print the tables, write results/serde.json.
 */
import * as path from 'node:path';
import cliProgress from 'cli-progress';
import { ConfigError } from '../runtime';
import { type SerdeBenchOptions, type SerdeBenchResult, runSerdeBench } from './serde';
import { formatSerdeReport, writeSerdeResults } from './serde-report';

export interface SerdeBenchCliOptions extends SerdeBenchOptions {
  /** Results file. @default results/serde.json under the current directory */
  out?: string;
  /** Draw the progress bar (only ever on a TTY). @default true */
  progress?: boolean;
}

export const DEFAULT_SERDE_RESULTS_FILE = path.join('results', 'serde.json');

/** Parse `--out FILE` and `--no-progress`. */
export function parseSerdeBenchArgs(argv: readonly string[]): SerdeBenchCliOptions {
  const opts: SerdeBenchCliOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--out' || a === '-o') {
      const v = argv[++i];
      if (v === undefined) throw new ConfigError(`${a} needs a file name`);
      opts.out = v;
    } else if (a.startsWith('--out=')) {
      opts.out = a.slice('--out='.length);
    } else if (a === '--no-progress') {
      opts.progress = false;
    } else {
      throw new ConfigError(`unknown argument ${JSON.stringify(a)} (use --out FILE, --no-progress; KVLAB_FAST=1 for a quick run)`);
    }
  }
  return opts;
}

/** Run, show progress on stderr, print the report on stdout, write the JSON. */
export function runSerdeBenchCli(options: SerdeBenchCliOptions = {}): { result: SerdeBenchResult; file: string } {
  const showBar = options.progress !== false && process.stderr.isTTY === true;
  const bar = showBar
    ? new cliProgress.SingleBar(
        { format: 'serde bench |{bar}| {value}/{total} {label}', hideCursor: true, clearOnComplete: true, stream: process.stderr },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  let started = false;
  const result = runSerdeBench({
    ...options,
    onProgress: (done, total, label) => {
      if (!bar) return;
      if (!started) {
        bar.start(total, done, { label });
        started = true;
      } else bar.update(done, { label });
    },
  });
  bar?.stop();
  const file = writeSerdeResults(result, options.out ?? DEFAULT_SERDE_RESULTS_FILE);
  process.stdout.write(`${formatSerdeReport(result)}\n\nResults written to ${path.relative(process.cwd(), file) || file}\n`);
  return { result, file };
}
