/**
 * Shared pieces of the reliability suite: the tiny model, seeded request streams, no-cache reference
 * outputs, raw Redis access (to look at and damage what the store wrote), and small waiting helpers.
 * Everything runs against real redis-server processes (test/harness/redis.ts).
 */
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Redis, type RedisOptions } from 'ioredis';
import { LlamaModel, Tokenizer } from '../../lib/src/model';
import { makeWorkload, type WorkloadName, type WorkloadOptions } from '../../lib/src/bench';
import { NoCacheConnector, ServingEngine, type RequestRecord, type ServeRequest } from '../../lib/src/engine';
import type { RedisClusterHarness, RedisServer } from '../harness/redis';

const execFileP = promisify(execFile);

/** Store settings that make faults visible quickly (the defaults are 1 s / 2 s). */
export const FAST_FAILURE = {
  commandTimeout: 300,
  connectTimeout: 500,
  maxReconnectDelayMs: 100,
  circuitBreaker: { failureThreshold: 3, cooldownMs: 200 },
} as const;

const models = new Map<number, Promise<LlamaModel>>();

/** The 'tiny' model of a seed, created once per mocha process (never disposed: shared by files). */
export function tinyModel(seed = 0): Promise<LlamaModel> {
  let m = models.get(seed);
  if (!m) {
    m = LlamaModel.create('tiny', { seed });
    models.set(seed, m);
  }
  return m;
}

let tokenizer: Tokenizer | undefined;

/** A seeded request stream of real text (small sizes: the suite must stay fast). */
export function stream(name: WorkloadName, options: Partial<WorkloadOptions> & { prefix?: string } = {}): ServeRequest[] {
  tokenizer ??= new Tokenizer();
  const t = tokenizer;
  const { prefix, ...rest } = options;
  const reqs = makeWorkload(name, (s) => t.encode(s), { requests: 20, sharedTokens: 256, turnTokens: 48, sessions: 3, maxNewTokens: 4, ...rest });
  return prefix ? reqs.map((r) => ({ ...r, id: `${prefix}-${r.id}` })) : reqs;
}

const references = new Map<string, Map<string, string>>();

function promptKey(r: ServeRequest): string {
  return `${r.maxNewTokens}|${r.tokens.join(',')}`;
}

/**
 * What each request must produce: the output of the same model with no cache at all, memoized by
 * prompt (tenants do not change outputs). Returns the outputs as comma-joined strings, by request id.
 */
export async function referenceOutputs(model: LlamaModel, requests: readonly ServeRequest[]): Promise<Map<string, string>> {
  let memo = references.get(model.fingerprint);
  if (!memo) references.set(model.fingerprint, (memo = new Map()));
  const engine = new ServingEngine(model, new NoCacheConnector());
  const out = new Map<string, string>();
  for (const r of requests) {
    const key = promptKey(r);
    let o = memo.get(key);
    if (o === undefined) {
      o = (await engine.serve(r)).output.join(',');
      memo.set(key, o);
    }
    out.set(r.id, o);
  }
  return out;
}

/** Ids of records whose output differs from the reference. */
export function wrongOutputs(records: readonly RequestRecord[], reference: Map<string, string>): string[] {
  return records.filter((r) => reference.get(r.id) !== r.output.join(',')).map((r) => r.id);
}

/**
 * Serve one request the way a server receives it: after a turn of the event loop. A real server gets
 * each request through I/O, so timers (ioredis' reconnect timer among them) run between requests; a
 * bare `for … await engine.serve()` loop never yields while the store answers from its open circuit
 * breaker (no I/O), which starves the reconnect and keeps the cache off indefinitely.
 */
export async function serveArriving(engine: ServingEngine, request: ServeRequest): Promise<RequestRecord & { startedAt: number }> {
  await new Promise((r) => setImmediate(r));
  const startedAt = Date.now();
  return { ...(await engine.serve(request)), startedAt };
}

/** Milliseconds spent talking to the store in one request (lookup + load + save). */
export function storeMs(r: RequestRecord): number {
  return r.lookupMs + r.loadMs + r.saveMs;
}

/** A raw ioredis client (for inspecting and damaging what the store wrote). Close it with `quit()`. */
export function rawClient(port: number, options: RedisOptions = {}): Redis {
  return new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1, lazyConnect: false, ...options });
}

/** Every key of a server with the SHA-256 of its value: compare two snapshots to see any change. */
export async function snapshot(client: Redis, pattern = '*'): Promise<Map<string, string>> {
  const keys = (await client.keys(pattern)).sort();
  const out = new Map<string, string>();
  if (keys.length === 0) return out;
  const values = await client.mgetBuffer(...keys);
  keys.forEach((k, i) => out.set(k, values[i] ? createHash('sha256').update(values[i]!).digest('hex') : 'missing'));
  return out;
}

/** `INFO` as a field → value record (the library's parser). */
export { parseInfo as parseInfoText } from '../../lib/src/store/health';
import { parseInfo as parseInfoText } from '../../lib/src/store/health';

export async function info(server: RedisServer, section = ''): Promise<Record<string, string>> {
  return parseInfoText(await server.cli('INFO', ...(section ? [section] : [])));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Poll until `fn` is true; throws with `what` after `timeoutMs`. */
export async function waitFor(what: string, fn: () => Promise<boolean>, timeoutMs: number, everyMs = 100): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await fn().catch(() => false)) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await sleep(everyMs);
  }
}

/**
 * Wait until every replica of a cluster has finished its first sync. `cluster_state:ok` alone is
 * not enough: a replica that never synced refuses to fail over ("data too old"), so a master killed
 * too early is never replaced.
 */
export async function waitForReplicas(cluster: RedisClusterHarness, replicas: number, timeoutMs = 20_000): Promise<void> {
  await waitFor(
    `${replicas} replicas in sync`,
    async () => {
      const infos = await Promise.all(cluster.nodes.map((n) => n.cli('INFO', 'replication').catch(() => '')));
      const synced = infos.filter((i) => /role:slave/.test(i) && /master_link_status:up/.test(i) && /master_sync_in_progress:0/.test(i));
      return synced.length >= replicas;
    },
    timeoutMs,
  );
}

/** Role (`master` / `slave`) of a node, or undefined when it does not answer. */
export async function role(server: RedisServer): Promise<string | undefined> {
  try {
    return parseInfoText(await server.cli('INFO', 'replication')).role;
  } catch {
    return undefined;
  }
}

export interface TlsFiles {
  dir: string;
  ca: string;
  cert: string;
  key: string;
}

/** A throwaway CA and a server certificate for 127.0.0.1 / localhost, made with the openssl CLI. */
export async function makeTlsFiles(dir: string): Promise<TlsFiles> {
  fs.mkdirSync(dir, { recursive: true });
  const p = (f: string): string => path.join(dir, f);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await execFileP('openssl', ['req', '-x509', ...ec, '-keyout', p('ca.key'), '-out', p('ca.crt'), '-days', '1', '-subj', '/CN=kvcache-lab throwaway test CA']);
  await execFileP('openssl', ['req', ...ec, '-keyout', p('server.key'), '-out', p('server.csr'), '-subj', '/CN=127.0.0.1']);
  fs.writeFileSync(p('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  await execFileP('openssl', ['x509', '-req', '-in', p('server.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial', '-out', p('server.crt'), '-days', '1', '-extfile', p('ext.cnf')]);
  return { dir, ca: p('ca.crt'), cert: p('server.crt'), key: p('server.key') };
}

/** Collects everything written to stdout/stderr and through console.* until `stop()`. */
export function captureOutput(): { text: () => string; stop: () => void } {
  const chunks: string[] = [];
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  const tap =
    (orig: typeof out) =>
    (chunk: unknown, ...rest: unknown[]): boolean => {
      chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
      return (orig as (c: unknown, ...r: unknown[]) => boolean)(chunk, ...rest);
    };
  process.stdout.write = tap(out) as typeof process.stdout.write;
  process.stderr.write = tap(err) as typeof process.stderr.write;
  const methods = ['log', 'info', 'warn', 'error', 'debug'] as const;
  const saved = methods.map((m) => console[m]);
  methods.forEach((m, i) => {
    console[m] = (...args: unknown[]) => {
      chunks.push(args.map((a) => (typeof a === 'string' ? a : (JSON.stringify(a) ?? String(a)))).join(' '));
      saved[i]!.apply(console, args);
    };
  });
  return {
    text: () => chunks.join('\n'),
    stop: () => {
      process.stdout.write = out as typeof process.stdout.write;
      process.stderr.write = err as typeof process.stderr.write;
      methods.forEach((m, i) => (console[m] = saved[i]!));
    },
  };
}
