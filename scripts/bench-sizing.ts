/**
 * `npm run bench:sizing` — what one KV block costs Redis, measured with `MEMORY USAGE` for the block
 * sizes of the course, next to the sizing model's prediction. Writes results/sizing.json, which
 * docs/04's sizing tables are generated from (`npm run docs`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { measureEntryCost } from '../lib/src/bench/sizing-measure';
import { startEmbeddedRedis } from '../lib/src/store/embedded-redis';
import { isFastMode, redisUrlFromEnv } from '../lib/src/runtime/env';
import { tableToText } from '../lib/src/notebook/table';

const HELP = `usage: npm run bench:sizing [-- --out FILE]

  Stores one value of each course block size (tiny and default models, Llama-3-8B fp16/int8,
  Llama-3-70B, Llama-2-7B; 16 tokens + the entry header) and reads MEMORY USAGE from Redis.

  REDIS_URL=…    measure this server (default: a private redis-server)
  --out FILE     results file (default results/sizing.json; out/results/ with KVLAB_FAST=1)`;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { help: { type: 'boolean', short: 'h' }, out: { type: 'string' } } });
  if (values.help) return console.log(HELP);
  const out = values.out ? path.resolve(values.out) : path.resolve(__dirname, '..', isFastMode() ? 'out/results' : 'results', 'sizing.json');
  const given = redisUrlFromEnv();
  const embedded = given ? undefined : await startEmbeddedRedis();
  try {
    const result = await measureEntryCost(given ?? embedded!.url);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
    console.log(tableToText(result.rows.map((r) => ({ block: r.block, 'value bytes': r.valueBytes, 'MEMORY USAGE': r.memoryUsageBytes, model: r.modelBytes, overhead: `${(r.overhead * 100).toFixed(1)} %` }))));
    console.log(`Redis ${result.redis.version} (${result.redis.allocator}); results written to ${path.relative(process.cwd(), out)}`);
  } finally {
    await embedded?.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
