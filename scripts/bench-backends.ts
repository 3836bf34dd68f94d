/**
 * `npm run bench:backends` — our KV-block workload against Redis (ioredis, node-redis, valkey-glide,
 * RedisStore), a 3-master Redis Cluster (RedisClusterStore), memcached (memjs and a minimal meta-protocol
 * client) and the in-process MemoryStore, side by side in one run. Every server is private (loopback,
 * free ports) and stopped at the end. Writes results/backends.json; `npm run docs` renders it into
 * docs/03_redis_vs_alternatives.md.
 *
 *   KVLAB_FAST=1                  0.5 / 2 / 8 MiB blocks, 16 MiB per pass, 3 passes (< 30 s)
 *   --sizes=0.5,1,2,4,8           block sizes in MiB
 *   --mib-per-pass=128            bytes moved by one timed pass, in MiB
 *   --iterations=9                timed passes per target and size (medians are reported)
 *   --lookup-iterations=31        timed 128-key lookups per target
 *   --targets=redis/ioredis,…     subset of targets (the baseline redis/ioredis always runs)
 *   --out=results/backends.json
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BACKEND_TARGETS, formatBackendsBench, runBackendsBenchmark, type BackendTargetId, type BackendsBenchOptions } from '../lib/src/bench/backends';
import { MiB } from '../lib/src/runtime/units';


function parseArgs(argv: string[]): { options: BackendsBenchOptions; out: string } {
  const options: BackendsBenchOptions = {};
  let out = path.resolve(__dirname, '..', 'results', 'backends.json');
  const int = (name: string, value: string): number => {
    if (!/^\d+$/.test(value)) throw new Error(`--${name} needs an integer, got ${value}`);
    return Number(value);
  };
  for (const arg of argv) {
    const m = /^--([a-z-]+)=(.*)$/.exec(arg);
    if (!m) throw new Error(`unknown argument ${arg} (expected --name=value)`);
    const [, name, value] = m as unknown as [string, string, string];
    switch (name) {
      case 'out':
        out = path.resolve(value);
        break;
      case 'sizes':
        options.blockSizes = value.split(',').map((v) => {
          const x = Number(v);
          if (!(x > 0)) throw new Error(`--sizes takes MiB values like 0.5,2,8; got ${v}`);
          return Math.round(x * MiB);
        });
        break;
      case 'mib-per-pass':
        options.bytesPerPass = int(name, value) * MiB;
        break;
      case 'iterations':
        options.iterations = int(name, value);
        break;
      case 'lookup-iterations':
        options.lookupIterations = int(name, value);
        break;
      case 'targets':
        options.targets = value.split(',').map((t) => {
          if (!(BACKEND_TARGETS as readonly string[]).includes(t)) throw new Error(`unknown target ${t} (known: ${BACKEND_TARGETS.join(', ')})`);
          return t as BackendTargetId;
        });
        break;
      default:
        throw new Error(`unknown option --${name}`);
    }
  }
  return { options, out };
}

async function main(): Promise<void> {
  const { options, out } = parseArgs(process.argv.slice(2));
  // No onProgress: the library draws its own progress bar (lib/src/runtime/progress.ts) on stderr.
  const result = await runBackendsBenchmark({ ...options, progressTarget: 'terminal' });
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
