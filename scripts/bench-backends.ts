/**
 * `npm run bench:backends` — our KV-block workload against Redis (ioredis, node-redis, valkey-glide,
 * RedisStore), a 3-master Redis Cluster (RedisClusterStore), memcached (memjs and a minimal meta-protocol
 * client) and the in-process MemoryStore, side by side in one run. Every server is private (loopback,
 * free ports) and stopped at the end. Writes results/backends.json; `npm run docs` renders it into
 * docs/03_redis_vs_alternatives.md. `npm run bench:backends -- --help` lists the options.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { BACKEND_TARGETS, formatBackendsBench, runBackendsBenchmark, type BackendTargetId, type BackendsBenchOptions } from '../lib/src/bench/backends';
import { isFastMode } from '../lib/src/runtime/env';
import { MiB } from '../lib/src/runtime/units';

const HELP = `usage: npm run bench:backends -- [options]

  The same KV-block workload against every server and client that runs here, side by side.

  KVLAB_FAST=1                  0.5 / 2 / 8 MiB blocks, 16 MiB per pass, 3 passes; results in out/results/
  --sizes 0.5,1,2,4,8           block sizes in MiB
  --mib-per-pass 128            bytes moved by one timed pass, in MiB
  --iterations 9                timed passes per target and size (medians are reported)
  --lookup-iterations 31        timed 128-key lookups per target
  --targets redis/ioredis,…     subset of targets (the baseline redis/ioredis always runs); known:
                                ${BACKEND_TARGETS.join(', ')}
  --out FILE                    results file (default results/backends.json)
  -h, --help                    this text`;

function options(argv: string[]): { options: BackendsBenchOptions; out: string } | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      help: { type: 'boolean', short: 'h' },
      out: { type: 'string' },
      sizes: { type: 'string' },
      'mib-per-pass': { type: 'string' },
      iterations: { type: 'string' },
      'lookup-iterations': { type: 'string' },
      targets: { type: 'string' },
    },
  });
  if (values.help) return undefined;
  const int = (name: string, value: string): number => {
    if (!/^\d+$/.test(value)) throw new Error(`--${name} needs an integer, got ${value}`);
    return Number(value);
  };
  const o: BackendsBenchOptions = {};
  if (values.sizes !== undefined) {
    o.blockSizes = values.sizes.split(',').map((v) => {
      const x = Number(v);
      if (!(x > 0)) throw new Error(`--sizes takes MiB values like 0.5,2,8; got ${v}`);
      return Math.round(x * MiB);
    });
  }
  if (values['mib-per-pass'] !== undefined) o.bytesPerPass = int('mib-per-pass', values['mib-per-pass']) * MiB;
  if (values.iterations !== undefined) o.iterations = int('iterations', values.iterations);
  if (values['lookup-iterations'] !== undefined) o.lookupIterations = int('lookup-iterations', values['lookup-iterations']);
  if (values.targets !== undefined) {
    o.targets = values.targets.split(',').map((t) => {
      if (!(BACKEND_TARGETS as readonly string[]).includes(t)) throw new Error(`unknown target ${t} (known: ${BACKEND_TARGETS.join(', ')})`);
      return t as BackendTargetId;
    });
  }
  const fallback = path.resolve(__dirname, '..', isFastMode() ? 'out/results' : 'results', 'backends.json');
  return { options: o, out: values.out !== undefined ? path.resolve(values.out) : fallback };
}

async function main(): Promise<void> {
  const parsed = options(process.argv.slice(2));
  if (!parsed) return console.log(HELP);
  const out = parsed.out;
  // No onProgress: the library draws its own progress bar (lib/src/runtime/progress.ts) on stderr.
  const result = await runBackendsBenchmark({ ...parsed.options, progressTarget: 'terminal' });
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(formatBackendsBench(result));
  console.log(`results written to ${path.relative(process.cwd(), out) || out}`);
  const bad = [
    ...result.measurements.transfer.flatMap((t) => t.rows.filter((r) => !r.verified).map((r) => `${r.target} at ${t.blockBytes} bytes`)),
    ...result.measurements.lookup.rows.filter((r) => !r.correct).map((r) => `${r.target} lookup`),
  ];
  if (bad.length) {
    console.error(`wrong or failed results: ${bad.join(', ')}`);
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
