/**
 * `npm run bench:prefill` — the model's prefill on the tfjs wasm backend with 1 and N threads, and
 * matmuls on wasm and on numpy's BLAS (scripts/blas_reference.py) at 1 and N threads, side by side
 * in one run. Writes results/prefill.json. Without numpy the BLAS columns are empty and it says why.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { formatPrefillBench, runPrefillBenchmark, type PrefillBenchOptions } from '../lib/src/bench/prefill';
import type { MatmulShape } from '../lib/src/bench/prefill-flops';
import { isPresetName, isSizeOnlyPreset } from '../lib/src/model/presets';

const HELP = `usage: npm run bench:prefill -- [options]

  --preset=default        model preset to prefill (tiny, default)
  --lengths=500,1000,2000 prompt lengths in tokens
  --threads=1,2           wasm thread counts (default: 1 and one per CPU, at most 8)
  --blas-threads=1,2      BLAS thread counts (default: the wasm ones)
  --shapes=1024,512x384x1024
                          matmul shapes: N for N×N×N, or MxKxN
  --repeats=2             timed repetitions per measurement and process
  --rounds=3              rounds; every engine runs once per round, in alternating order
  --python=/usr/bin/python3
                          python with numpy (Debian: apt-get install python3-numpy libopenblas0-pthread)
  --out=results/prefill.json
  -h, --help

KVLAB_FAST=1 runs a small version (lengths 128,256, one round).`;

function ints(name: string, value: string | undefined): number[] | undefined {
  if (value === undefined) return undefined;
  return value.split(',').map((v) => {
    if (!/^\d+$/.test(v.trim())) throw new Error(`--${name} takes comma-separated integers, got ${value}`);
    return Number(v);
  });
}

function shapes(value: string | undefined): MatmulShape[] | undefined {
  if (value === undefined) return undefined;
  return value.split(',').map((v) => {
    const parts = v.trim().toLowerCase().split('x');
    if (!parts.every((p) => /^\d+$/.test(p)) || (parts.length !== 1 && parts.length !== 3)) throw new Error(`--shapes takes N or MxKxN, got ${v}`);
    const [m, k, n] = parts.length === 1 ? [parts[0], parts[0], parts[0]] : parts;
    return { m: Number(m), k: Number(k), n: Number(n) };
  });
}

function options(): { bench: PrefillBenchOptions; out: string } | undefined {
  const { values } = parseArgs({
    options: {
      preset: { type: 'string' },
      lengths: { type: 'string' },
      threads: { type: 'string' },
      'blas-threads': { type: 'string' },
      shapes: { type: 'string' },
      repeats: { type: 'string' },
      rounds: { type: 'string' },
      python: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return undefined;
  }
  const bench: PrefillBenchOptions = { progressTarget: 'terminal' };
  if (values.preset !== undefined) {
    if (!isPresetName(values.preset) || isSizeOnlyPreset(values.preset) || values.preset === 'gpu-1b') throw new Error(`--preset must be tiny or default (gpu-1b needs a GPU: npm run bench:gpu), got ${values.preset}`);
    bench.preset = values.preset;
  }
  const set = <K extends keyof PrefillBenchOptions>(key: K, value: PrefillBenchOptions[K] | undefined): void => {
    if (value !== undefined) bench[key] = value;
  };
  set('promptLengths', ints('lengths', values.lengths));
  set('threadCounts', ints('threads', values.threads));
  set('blasThreadCounts', ints('blas-threads', values['blas-threads']));
  set('shapes', shapes(values.shapes));
  set('repeats', ints('repeats', values.repeats)?.[0]);
  set('rounds', ints('rounds', values.rounds)?.[0]);
  set('python', values.python);
  return { bench, out: path.resolve(values.out ?? path.join(__dirname, '..', 'results', 'prefill.json')) };
}

async function main(): Promise<void> {
  const parsed = options();
  if (parsed === undefined) return;
  const result = await runPrefillBenchmark(parsed.bench);
  fs.mkdirSync(path.dirname(parsed.out), { recursive: true });
  fs.writeFileSync(parsed.out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(formatPrefillBench(result));
  if (result.blasUnavailable !== null) console.log(`\nno BLAS reference: ${result.blasUnavailable}`);
  console.log(`results written to ${path.relative(process.cwd(), parsed.out) || parsed.out}`);
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exitCode = 1;
});
