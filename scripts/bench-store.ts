/**
 * `npm run bench:store` — raw ioredis vs RedisStore on the same bytes, and the cost of a
 * longest-prefix lookup. Writes results/store.json (out/results/store.json in fast mode).
 * `npm run bench:store -- --help` lists the options.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_STORE_BENCH_OPTIONS, formatStoreBench, runStoreBenchmark, type StoreBenchOptions } from '../lib/src/bench/store';
import { decodeKV, encodeKV, syntheticKV, type KVArrays, type TokenSpan } from '../lib/src/serde';
import { EntryKey } from '../lib/src/serde/mac';
import { isFastMode } from '../lib/src/runtime/env';
import { progress, type ProgressReporter } from '../lib/src/runtime/progress';

const HELP = `usage: npm run bench:store -- [options]

  Reads a prefix of serialized fp16 KV blocks from Redis: raw ioredis, RedisStore.get, and the
  connector's lookup + get + decode, side by side; and the cost of a longest-prefix lookup.

  REDIS_URL=redis://host:6379   use this server (default: a private redis-server on a free port)
  KVLAB_FAST=1                  small blocks, 2 iterations, results in out/results/

  --tokens N              prompt tokens (default 2000)
  --tokens-per-block N    tokens per block (default 16)
  --kv-bytes-per-token N  KV bytes per token (default 131072, Llama-3-8B in fp16)
  --block-bytes N         bytes per stored value (overrides the two above)
  --iterations N          timed repetitions (default 7, fast 2)
  --mget-batch N          keys per MGET on the ioredis path
  --lookup-blocks N       blocks in the lookup test
  --lookup-present N      of which present
  --windows 1,2,4,8       blocks in flight to try (plain socket and load path; default 1,2,3,4,6,8,12,16)
  --out FILE              results file (default results/store.json, fast: out/results/store.json)
  -h, --help              this text`;

/**
 * Real input for the decode step: each stored value is a serialized fp16 KV block of Llama-3-8B's
 * shape (32 layers × 8 KV heads × 128 channels × 16 tokens = 2 MiB; 4 layers in fast mode), and
 * "decode" checks it and fills block i's rows of the prefix's Float32Arrays, as the engine's connector
 * does (the arrays are allocated once and reused by every iteration).
 */
function kvBlocks(tokens: number, tokensPerBlock: number): Pick<StoreBenchOptions, 'value' | 'decode' | 'decodeVerified'> {
  const shape = { layers: isFastMode() ? 4 : 32, kvHeads: 8, headDim: 128, tokens: tokensPerBlock };
  // Signed entries (a MAC with a made-up secret): the load path runs with and without checking it.
  const key = EntryKey.fromSecret(`bench-store secret ${Date.now()} ${process.pid}`);
  const blob = encodeKV(syntheticKV(shape, { seed: 1 }), { dtype: 'fp16', key });
  const total = Math.max(1, Math.floor(tokens / tokensPerBlock)) * tokensPerBlock;
  const n = shape.kvHeads * total * shape.headDim;
  // Touched once here (fill), so that no timed load pays the first-touch page faults of 0.5 GB.
  const arrays = (): Float32Array[] => Array.from({ length: shape.layers }, () => new Float32Array(n).fill(1));
  const into: KVArrays = { k: arrays(), v: arrays() };
  const span = (i: number): TokenSpan => ({ tokens: total, start: i * tokensPerBlock });
  return {
    value: () => Buffer.from(blob),
    decode: (v: Buffer, i: number) => decodeKV(v, { into, intoSpan: span(i) }),
    decodeVerified: (v: Buffer, i: number) => decodeKV(v, { into, intoSpan: span(i), key }),
  };
}

function options(argv: string[]): { options: StoreBenchOptions; out: string } | undefined {
  const ints: Record<string, keyof StoreBenchOptions> = {
    tokens: 'tokens',
    'tokens-per-block': 'tokensPerBlock',
    'kv-bytes-per-token': 'kvBytesPerToken',
    'block-bytes': 'blockBytes',
    iterations: 'iterations',
    'mget-batch': 'mgetBatchSize',
    'lookup-blocks': 'lookupBlocks',
    'lookup-present': 'lookupPresent',
  };
  const { values } = parseArgs({
    args: argv,
    options: { help: { type: 'boolean', short: 'h' }, out: { type: 'string' }, windows: { type: 'string' }, ...Object.fromEntries(Object.keys(ints).map((k) => [k, { type: 'string' as const }])) },
  });
  if (values.help) return undefined;
  const options: StoreBenchOptions = {};
  for (const [name, key] of Object.entries(ints)) {
    const v = values[name as keyof typeof values];
    if (v === undefined) continue;
    if (typeof v !== 'string' || !/^\d+$/.test(v)) throw new Error(`--${name} needs an integer, got ${String(v)}`);
    (options as Record<string, unknown>)[key] = Number(v);
  }
  if (typeof values.windows === 'string') {
    options.windows = values.windows.split(',').map((w) => {
      if (!/^\d+$/.test(w.trim())) throw new Error(`--windows takes integers like 1,2,4; got ${w}`);
      return Number(w);
    });
  }
  const fallback = path.resolve(__dirname, '..', isFastMode() ? 'out/results' : 'results', 'store.json');
  return { options, out: typeof values.out === 'string' ? path.resolve(values.out) : fallback };
}

async function main(): Promise<void> {
  const parsed = options(process.argv.slice(2));
  if (!parsed) return console.log(HELP);
  let bar: ProgressReporter | undefined;
  let last = 0;
  const result = await runStoreBenchmark({
    ...kvBlocks(parsed.options.tokens ?? DEFAULT_STORE_BENCH_OPTIONS.tokens, parsed.options.tokensPerBlock ?? DEFAULT_STORE_BENCH_OPTIONS.tokensPerBlock),
    ...parsed.options,
    onProgress: (done, total, label) => {
      bar ??= progress(total, 'bench:store');
      bar.tick(done - last, `bench:store ${label}`);
      last = done;
    },
  }).finally(() => bar?.done());
  const out = parsed.out;
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(formatStoreBench(result));
  console.log(`results written to ${path.relative(process.cwd(), out) || out}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
