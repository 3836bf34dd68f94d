/**
 * `npm run bench:gpu` — the model on the webgpu backend against wasm in the same run: prefill and
 * decode speed per preset, TTFT with and without the Redis prefix cache, and the break-even load
 * bandwidth. Writes results/gpu.json. Needs a GPU and the optional packages `webgpu` and
 * `@tensorflow/tfjs-backend-webgpu` (README, "A GPU"); `scripts/gpu/` runs it on a GPU machine.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { runGpuBench, type GpuBenchOptions } from '../lib/src/bench/gpu';
import { formatGpuBench } from '../lib/src/bench/gpu-report';
import { getPreset, type RunnablePresetName } from '../lib/src/model/presets';
import type { BackendName } from '../lib/src/runtime/backend';
import { redisUrlFromEnv } from '../lib/src/runtime/env';
import { startEmbeddedRedis, type EmbeddedRedis } from '../lib/src/store/embedded-redis';

const HELP = `usage: npm run bench:gpu -- [options]

  --backend=webgpu          the backend under test
  --baseline=wasm           the backend measured beside it
  --presets=tiny,default,gpu-1b
  --baseline-presets=tiny,default
  --lengths=128,512,2000    prompt lengths for prefill, in tokens
  --repeats=3               timed prefills per length, after a warm-up
  --shared-tokens=2000      the shared document in the TTFT comparison
  --redis-url=URL           Redis for TTFT (default: $REDIS_URL, else an embedded redis-server)
  --redis-server=PATH       the redis-server to embed (default: redis-server on the PATH)
  --no-redis                leave the TTFT comparison out
  --out=results/gpu.json
  -h, --help`;

function ints(name: string, value: string | undefined): number[] | undefined {
  if (value === undefined) return undefined;
  return value.split(',').map((v) => {
    if (!/^\d+$/.test(v.trim())) throw new Error(`--${name} takes comma-separated integers, got ${value}`);
    return Number(v);
  });
}

function presets(name: string, value: string | undefined): RunnablePresetName[] | undefined {
  if (value === undefined) return undefined;
  const list = value.split(',').map((v) => v.trim()).filter(Boolean) as RunnablePresetName[];
  for (const p of list) getPreset(p); // an unknown name is a ConfigError listing the known ones
  return list;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      backend: { type: 'string' },
      baseline: { type: 'string' },
      presets: { type: 'string' },
      'baseline-presets': { type: 'string' },
      lengths: { type: 'string' },
      repeats: { type: 'string' },
      'shared-tokens': { type: 'string' },
      'redis-url': { type: 'string' },
      'redis-server': { type: 'string' },
      'no-redis': { type: 'boolean' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const options: GpuBenchOptions = {
    backend: values.backend as BackendName | undefined,
    baseline: values.baseline as BackendName | undefined,
    presets: presets('presets', values.presets),
    baselinePresets: presets('baseline-presets', values['baseline-presets']),
    promptLengths: ints('lengths', values.lengths),
    repeats: ints('repeats', values.repeats)?.[0],
    sharedTokens: ints('shared-tokens', values['shared-tokens'])?.[0],
    progressTarget: 'terminal',
  };
  let embedded: EmbeddedRedis | undefined;
  if (!values['no-redis']) {
    const url = values['redis-url'] ?? redisUrlFromEnv();
    options.redisUrl = url ?? (embedded = await startEmbeddedRedis(values['redis-server'] ? { command: values['redis-server'] } : {})).url;
  }
  const out = path.resolve(values.out ?? path.join(__dirname, '..', 'results', 'gpu.json'));
  try {
    const result = await runGpuBench(options);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
    console.log(formatGpuBench(result));
    console.log(`results written to ${path.relative(process.cwd(), out) || out}`);
  } finally {
    await embedded?.stop();
  }
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exitCode = 1;
});
