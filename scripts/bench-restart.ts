/**
 * `npm run bench:restart` — disaster recovery of a KV cache: Redis filled by serving a seeded
 * stream, killed and restarted without persistence, from an RDB snapshot (fresh or stale) or from
 * the append-only file; plus what AOF costs writes. Writes results/restart.json (out/results/ with
 * KVLAB_FAST=1), which docs/04's "Disaster recovery" tables are generated from (`npm run docs`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { RESTART_SCENARIOS, defaultRestartBenchOptions, runRestartBench, type RestartScenario } from '../lib/src/bench/restart';
import { isFastMode } from '../lib/src/runtime/env';
import { tableToText } from '../lib/src/notebook/table';

const HELP = `usage: npm run bench:restart [-- --out FILE] [-- --scenarios a,b,…] [-- --no-aof-write]

  For each scenario a private redis-server is filled by serving the first part of a seeded agent
  stream through PrefixCacheConnector + ServingEngine, then killed (SIGKILL) and restarted on the
  same port and folder, and the rest of the stream is served:
    no-restart      never goes down (the reference)
    no-persistence  --save "" and no AOF (the lab's default): restarts empty
    rdb             BGSAVE right before the kill; the snapshot is loaded on restart
    rdb-stale       BGSAVE halfway through the fill: later writes are lost
    aof             appendonly yes, appendfsync everysec: the log is replayed
  Reports keys after the restart, Redis' load time, snapshot/AOF size, the token hit rate right
  after the restart, the requests until it matches the no-restart run and the prompt tokens the
  restart made the model recompute. Then times a crash and restart with 256 MiB of Llama-3-8B-sized
  blocks (16 MiB with KVLAB_FAST=1) from RDB and from the AOF, and measures SET throughput with
  appendonly no / yes (everysec) / yes (always).

  --out FILE          results file (default results/restart.json; out/results/ with KVLAB_FAST=1)
  --scenarios LIST    comma-separated subset (default: all; keep no-restart as the reference)
  --no-aof-write      skip the AOF write-cost measurement
  --no-load-time      skip the load-time measurement`;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { help: { type: 'boolean', short: 'h' }, out: { type: 'string' }, scenarios: { type: 'string' }, 'no-aof-write': { type: 'boolean' }, 'no-load-time': { type: 'boolean' } } });
  if (values.help) return console.log(HELP);
  const out = values.out ? path.resolve(values.out) : path.resolve(__dirname, '..', isFastMode() ? 'out/results' : 'results', 'restart.json');
  const options = defaultRestartBenchOptions();
  if (values.scenarios) {
    const chosen = values.scenarios.split(',').map((s) => s.trim());
    const unknown = chosen.filter((s) => !(RESTART_SCENARIOS as readonly string[]).includes(s));
    if (unknown.length) throw new Error(`unknown scenario(s) ${unknown.join(', ')} (known: ${RESTART_SCENARIOS.join(', ')})`);
    options.scenarios = chosen as RestartScenario[];
  }
  if (values['no-aof-write']) delete options.aofWrite;
  if (values['no-load-time']) delete options.loadTime;
  const result = await runRestartBench(options);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(
    tableToText(
      result.scenarios.map((s) => ({
        scenario: s.scenario,
        'keys before': s.keysBefore,
        'keys after': s.keysAfter,
        'load s': s.loadSeconds ?? '–',
        'hit before': s.hitRateBefore,
        'hit first after': s.hitRateFirstAfter,
        'requests to warm': s.requestsToWarm ?? '–',
        'extra computed tokens': s.extraComputedTokens ?? '–',
      })),
    ),
  );
  if (result.loadTime) console.log(tableToText(result.loadTime.map((r) => ({ mode: r.mode, keys: r.keys, 'file MiB': r.fileBytes / 2 ** 20, 'load s (log)': r.loadSeconds ?? '–', 'kill → PONG ms': r.restartToReadyMs, 'keys after': r.keysAfter }))));
  if (result.aofWrite) console.log(tableToText(result.aofWrite.rows.map((r) => ({ mode: r.mode, 'value bytes': r.valueBytes, 'SET/s': r.setsPerS, 'GB/s': r.gbps, '× no AOF': r.ratioToNoAof }))));
  console.log(`results written to ${path.relative(process.cwd(), out)}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
