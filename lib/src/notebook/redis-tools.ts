import { execFile } from 'node:child_process';

/** Whether this machine can start its own Redis servers (the eviction and cluster demos need to). */
export interface RedisTools {
  available: boolean;
  /** Executables that were not found or did not run. */
  missing: string[];
  /** Their versions, or what to install: a sentence for `say()`. */
  message: string;
}

function version(command: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(command, ['--version'], { timeout: 5000 }, (err, stdout) => resolve(err ? undefined : /v=(\S+)|(\d+\.\d+\.\d+)/.exec(String(stdout))?.slice(1).find(Boolean) ?? 'found'));
  });
}

/**
 * Look for `redis-server` and `redis-cli`. A learner who only has an external Redis (`REDIS_URL`, e.g.
 * in Docker) lacks them: the demos that launch private servers then say what to install and skip.
 */
export async function redisTools(commands: { server?: string; cli?: string } = {}): Promise<RedisTools> {
  const server = commands.server ?? 'redis-server';
  const cli = commands.cli ?? 'redis-cli';
  const [sv, cv] = await Promise.all([version(server), version(cli)]);
  const missing = [sv === undefined ? server : '', cv === undefined ? cli : ''].filter(Boolean);
  const message = missing.length
    ? `**Skipped:** this demo starts its own Redis servers on this machine and needs \`${server}\` and \`${cli}\`; ` +
      `not found: ${missing.map((m) => `\`${m}\``).join(', ')}. Install Redis 7 (Debian/Ubuntu: \`sudo apt-get install redis-server\`, ` +
      'macOS: `brew install redis`; a Redis in Docker is not enough, the demo launches the programs itself), restart the kernel and run the notebook again.'
    : `Found \`${server}\` ${sv} and \`${cli}\` ${cv}: the demos below start private servers on free loopback ports.`;
  return { available: missing.length === 0, missing, message };
}
