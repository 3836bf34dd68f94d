import * as os from 'node:os';
import Redis from 'ioredis';
import { initBackend, tf, type BackendReport } from '../runtime/backend';
import { redactStoreUrl } from '../store/url';
import { packageVersion } from '../runtime/versions';
import { redisUrlFromEnv } from '../runtime/env';
import { halfPrecisionPaths } from '../serde/half-paths';

export interface EnvironmentCheck {
  check: string;
  ok: boolean;
  detail: string;
}


/** PING a Redis and read its version, with a short timeout; never throws. */
export async function probeRedis(url: string | undefined, timeoutMs = 2000): Promise<EnvironmentCheck> {
  if (!url) return { check: 'Redis', ok: false, detail: 'REDIS_URL is not set (start the lab with `npm start`)' };
  const client = new Redis(url, { lazyConnect: true, connectTimeout: timeoutMs, commandTimeout: timeoutMs, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    await client.connect();
    const started = performance.now();
    await client.ping();
    const rtt = performance.now() - started;
    const info = await client.info('server');
    const version = /redis_version:(\S+)/.exec(info)?.[1] ?? '?';
    return { check: 'Redis', ok: true, detail: `${redactStoreUrl(url)} — Redis ${version}, PING ${rtt.toFixed(2)} ms` };
  } catch (err) {
    return { check: 'Redis', ok: false, detail: `${redactStoreUrl(url)} unreachable: ${(err as Error).message}` };
  } finally {
    client.disconnect();
  }
}

/** The backend line: which one runs, on which GPU, and why each one before it was not used. */
export function backendDetail(backend: BackendReport): string {
  const gpu = backend.gpu ? `, GPU ${[backend.gpu.vendor, backend.gpu.architecture, backend.gpu.description || backend.gpu.device].filter(Boolean).join(' ')}` : '';
  const threads = backend.wasmThreads !== undefined ? `, ${backend.wasmThreads} thread${backend.wasmThreads === 1 ? '' : 's'}` : '';
  const skipped = backend.skipped.length ? `; not available: ${backend.skipped.map((s) => `${s.backend} (${s.why})`).join('; ')}` : '';
  return `${backend.backend}${gpu}${threads} (${backend.reason}; tfjs ${backend.tfjsVersion})${skipped}`;
}

/** What the course runs on: Node, CPU, tfjs backend, Redis, package versions. */
export async function checkEnvironment(): Promise<EnvironmentCheck[]> {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  const backend = await initBackend();
  const cpus = os.cpus();
  return [
    { check: 'Node.js', ok: major > 20 || (major === 20 && minor >= 19), detail: `${process.version} (needs ≥ 20.19)` },
    { check: 'Machine', ok: true, detail: `${os.platform()} ${os.arch()}, ${cpus.length} × ${cpus[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB` },
    { check: 'TensorFlow.js backend', ok: true, detail: backendDetail(backend) },
    { check: 'Half precision', ok: true, detail: `chosen by timing each path here: ${Object.entries(halfPrecisionPaths()).map(([c, p]) => `${c} ${p}`).join(', ')}` },
    await probeRedis(redisUrlFromEnv()),
    { check: 'Packages', ok: true, detail: ['kvcache-lab', 'tslab', 'ioredis', 'plotly.js-dist-min'].map((p) => `${p} ${packageVersion(p)}`).join(', ') },
  ];
}

/**
 * Measured matrix-multiply speed of the current backend for square sizes: the arithmetic that
 * prefill is made of. Returns GFLOP/s per size (median of `repeats` timed runs after a warm-up).
 */
export async function measureMatmul(sizes: number[], repeats = 5): Promise<{ size: number; gflops: number; ms: number }[]> {
  await initBackend();
  const out: { size: number; gflops: number; ms: number }[] = [];
  for (const n of sizes) {
    const a = tf.randomUniform([n, n], -1, 1, 'float32', 1);
    const b = tf.randomUniform([n, n], -1, 1, 'float32', 2);
    tf.tidy(() => tf.matMul(a, b)).dataSync();
    const times: number[] = [];
    for (let i = 0; i < repeats; i++) {
      const t0 = performance.now();
      const c = tf.matMul(a, b);
      c.dataSync();
      times.push(performance.now() - t0);
      c.dispose();
    }
    a.dispose();
    b.dispose();
    times.sort((x, y) => x - y);
    const ms = times[Math.floor(times.length / 2)] ?? 0;
    out.push({ size: n, ms, gflops: (2 * n ** 3) / (ms / 1000) / 1e9 });
  }
  return out;
}
