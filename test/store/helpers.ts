import { createHash, randomBytes } from 'node:crypto';

let counter = 0;

/** A fresh, valid block hash (64 lowercase hex digits). */
export function blockHash(label = ''): string {
  return createHash('sha256').update(`${process.pid}:${++counter}:${label}:${Math.random()}`).digest('hex');
}

export function hashes(n: number): string[] {
  return Array.from({ length: n }, (_, i) => blockHash(String(i)));
}

export function randomBuffer(n: number): Buffer {
  return randomBytes(n);
}

/** A unique short namespace, so stores created by different tests never see each other's keys. */
export function uniqueNamespace(prefix = 't'): string {
  return `${prefix}${process.pid}x${++counter}x${Math.floor(Math.random() * 1e6)}`;
}

/**
 * Value of a sample in a Prometheus text exposition: the first line of metric `name` whose labels
 * include all of `labels`. Undefined when absent.
 */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got: Record<string, string> = {};
    for (const pair of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) got[pair[1]!] = pair[2]!;
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[4]);
  }
  return undefined;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Poll `fn` until it returns true or `timeoutMs` passes; resolves to whether it succeeded. */
export async function eventually(fn: () => Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return true;
    if (Date.now() > deadline) return false;
    await sleep(everyMs);
  }
}

/** Calls per command from `redis-cli INFO commandstats` output. */
export function commandCalls(info: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of info.matchAll(/cmdstat_([^:]+):calls=(\d+)/g)) out[m[1]!] = Number(m[2]);
  return out;
}
