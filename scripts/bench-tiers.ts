/**
 * `npm run bench:tiers` — one seeded multi-session stream served through the three cache layers
 * (device → host memory → Redis) with small capacities, and through fewer layers for comparison;
 * hits counted in tokens per layer. Writes results/tiers.json (out/results/ with KVLAB_FAST=1),
 * which docs/04's tiers table is generated from (`npm run docs`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { defaultTiersBenchOptions, runTiersBench } from '../lib/src/bench/tiers';
import { isFastMode } from '../lib/src/runtime/env';
import { tableToText } from '../lib/src/notebook/table';

const HELP = `usage: npm run bench:tiers [-- --out FILE] [-- --requests N]

  Serves a seeded chat stream (a shared system prompt, sessions that grow turn by turn) through
  three layer sets — Redis alone, host memory + Redis, device + host memory + Redis — each layer
  sized to a fraction of the stream's distinct blocks (device 10 %, host 30 %, Redis 60 %), on a
  private redis-server (maxmemory = the Redis layer's capacity, allkeys-lru). Reports the prompt
  tokens each layer supplied, TTFT and evictions.

  --out FILE     results file (default results/tiers.json; out/results/ with KVLAB_FAST=1)
  --requests N   requests in the stream (default 72; 24 with KVLAB_FAST=1)`;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { help: { type: 'boolean', short: 'h' }, out: { type: 'string' }, requests: { type: 'string' } } });
  if (values.help) return console.log(HELP);
  const out = values.out ? path.resolve(values.out) : path.resolve(__dirname, '..', isFastMode() ? 'out/results' : 'results', 'tiers.json');
  const options = defaultTiersBenchOptions();
  if (values.requests !== undefined) options.workloadOptions.requests = Number(values.requests);
  const result = await runTiersBench(options);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(
    tableToText(
      result.runs.map((r) => ({
        layers: r.setup,
        'device %': r.shares.device * 100,
        'host %': r.shares.host * 100,
        'Redis %': r.shares.remote * 100,
        'computed %': r.shares.computed * 100,
        'TTFT p50 ms': r.ttftP50Ms,
        'evicted (device/host/Redis)': `${r.evictions.device}/${r.evictions.host}/${r.evictions.remote}`,
      })),
    ),
  );
  console.log(`${result.stream.requests} requests, ${result.stream.distinctBlocks} distinct blocks of ${result.stream.blockValueBytes} bytes; results written to ${path.relative(process.cwd(), out)}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
