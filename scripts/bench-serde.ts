/**
 * npm run bench:serde [-- --out FILE] [-- --no-progress]
 * Serialization benchmark: encodings, codecs, CRC, against a memcpy baseline; writes results/serde.json.
 * KVLAB_FAST=1 runs a small, quick version.
 */
import { SERDE_BENCH_HELP, parseSerdeBenchArgs, runSerdeBenchCli } from '../lib/src/bench/serde-cli';

try {
  const options = parseSerdeBenchArgs(process.argv.slice(2));
  if (options) runSerdeBenchCli(options);
  else console.log(SERDE_BENCH_HELP);
} catch (err) {
  process.stderr.write(`bench:serde failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
}
