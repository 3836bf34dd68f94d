/**
 * `npm run bench:store` — raw ioredis vs RedisStore on the same bytes, and the cost of a
 * longest-prefix lookup. Writes results/store.json.
 *
 *   REDIS_URL=redis://host:6379   use this server (default: a private redis-server on a free port)
 *   KVLAB_FAST=1                  small blocks, 2 iterations
 *   --tokens=2000 --tokens-per-block=16 --kv-bytes-per-token=131072 --block-bytes=N
 *   --iterations=7 --mget-batch=32 --out=results/store.json
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SingleBar, Presets } from 'cli-progress';
import { formatStoreBench, runStoreBenchmark, type StoreBenchOptions } from '../lib/src/bench/store';
import { decodeKV, encodeKV, syntheticKV, type KVArrays } from '../lib/src/serde';
import { isFastMode } from '../lib/src/runtime/env';

/**
 * Real input for the decode step: each stored value is a serialized fp16 KV block of Llama-3-8B's
 * shape (32 layers × 8 KV heads × 128 channels × 16 tokens = 2 MiB; 4 layers in fast mode), and
 * "decode" fills the Float32Arrays that become the model's KV tensors.
 */
function kvBlocks(): Pick<StoreBenchOptions, 'value' | 'decode'> {
  const shape = { layers: isFastMode() ? 4 : 32, kvHeads: 8, headDim: 128, tokens: 16 };
  const blob = encodeKV(syntheticKV(shape, { seed: 1 }), { dtype: 'fp16' });
  const n = shape.kvHeads * shape.tokens * shape.headDim;
  const into: KVArrays = { k: Array.from({ length: shape.layers }, () => new Float32Array(n)), v: Array.from({ length: shape.layers }, () => new Float32Array(n)) };
  return { value: () => Buffer.from(blob), decode: (v: Buffer) => decodeKV(v, { into }) };
}

function parseArgs(argv: string[]): { options: StoreBenchOptions; out: string } {
  const options: StoreBenchOptions = {};
  let out = path.resolve(__dirname, '..', 'results', 'store.json');
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
  for (const arg of argv) {
    const m = /^--([a-z-]+)=(.*)$/.exec(arg);
    if (!m) throw new Error(`unknown argument ${arg} (expected --name=value)`);
    const [, name, value] = m as unknown as [string, string, string];
    if (name === 'out') out = path.resolve(value);
    else if (ints[name]) {
      if (!/^\d+$/.test(value)) throw new Error(`--${name} needs an integer, got ${value}`);
      (options as Record<string, unknown>)[ints[name]] = Number(value);
    } else throw new Error(`unknown option --${name}`);
  }
  return { options, out };
}

async function main(): Promise<void> {
  const { options, out } = parseArgs(process.argv.slice(2));
  const bar = new SingleBar({ format: 'bench:store [{bar}] {value}/{total} {label}', hideCursor: true, clearOnComplete: true }, Presets.shades_classic);
  let started = false;
  const result = await runStoreBenchmark({
    ...kvBlocks(),
    ...options,
    onProgress: (done, total, label) => {
      if (!started) {
        bar.start(total, 0, { label });
        started = true;
      }
      bar.update(done, { label });
    },
  }).finally(() => started && bar.stop());
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(formatStoreBench(result));
  console.log(`results written to ${path.relative(process.cwd(), out) || out}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
