/** Environment switches shared by the library, notebooks and benchmarks. */

/** `KVLAB_FAST=1`: small sizes so CI runs every notebook and benchmark quickly. */
export function isFastMode(): boolean {
  const v = process.env.KVLAB_FAST;
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

/** Pick the fast-mode or full-mode value of a size. */
export function sized<T>(fast: T, full: T): T {
  return isFastMode() ? fast : full;
}

/** `REDIS_URL`, trimmed; undefined when unset or empty (then the lab or a benchmark starts its own Redis). */
export function redisUrlFromEnv(): string | undefined {
  const v = process.env.REDIS_URL?.trim();
  return v ? v : undefined;
}
