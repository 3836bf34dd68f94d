/**
 * Soak run: a stream of requests served through a block-prefix cache on real Redis servers (one
 * standalone server and a 3-master + 3-replica cluster, both started here) while a seeded schedule
 * injects every kind of fault. Every output is compared with the no-cache output of the same prompt:
 * a cache may make requests slower, never wrong.
 *
 * Fault kinds:
 * - `redis-kill`: SIGKILL the standalone server, restart it (empty) on the same port after a pause;
 * - `cluster-failover`: SIGKILL a cluster master; its replica is promoted; the old master then
 *   rejoins as a replica (same data folder) and re-syncs;
 * - `eviction`: lower `maxmemory` under the data set (allkeys-lru) for a while: Redis evicts;
 * - `corruption`: overwrite stored blocks with damaged bytes (flipped byte, truncation, garbage,
 *   trailing bytes, zeroed payload, a header field changed under a valid header checksum, a valid
 *   entry of another shape);
 * - `misplaced-entry`: swap the values of two stored blocks: each key now holds another block's
 *   perfectly valid entry (what a namespace mix-up, a bad restore or a malicious writer does);
 * - `forged-entry`: overwrite blocks with entries written without the cache's secret (same block
 *   identity, altered values, valid checksums, no valid MAC);
 * - `slow-server`: `DEBUG SLEEP` longer than the store's timeout;
 * - `connection-drop`: `CLIENT KILL TYPE normal`: every client connection is cut.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LlamaModel } from '../model/transformer';
import { Tokenizer } from '../model/tokenizer';
import { ServingEngine, type RequestRecord } from '../engine/engine';
import { NoCacheConnector, PrefixCacheConnector } from '../engine/connector';
import { serdeBlockCodec } from '../engine/codec';
import type { ServeRequest } from '../engine/types';
import { hashBlocks } from '../hashing/block-hash';
import { verifyKV } from '../serde/container';
import { EntryKey } from '../serde/mac';
import { createStore } from '../store/factory';
import { LocalRedisCluster, LocalRedisNode } from '../store/local-cluster';
import type { RedisStoreBase } from '../store/redis-base';
import type { KVStore, StoreStats } from '../store/types';
import { InvalidInputError, describeValue } from '../runtime/errors';
import { isFastMode } from '../runtime/env';
import { libVersion, packageVersion } from '../runtime/versions';
import { SeededRng } from '../runtime/rng';
import { progress as makeProgress, type ProgressReporter } from '../runtime/progress';
import { makeWorkload } from './workloads';
import { quantile } from './stats';
import { MUTATIONS, forgeEntry, mutateEntry, usableUnder, type MutationKind } from './soak-damage';

export { MUTATIONS, mutateEntry, forgeEntry, type MutationKind } from './soak-damage';
export { soakTableRows, formatSoakTable, renderSoakMarkdown } from './soak-report';
import { round } from '../runtime/units';


export const FAULT_KINDS = ['redis-kill', 'cluster-failover', 'eviction', 'corruption', 'misplaced-entry', 'forged-entry', 'slow-server', 'connection-drop'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];


export type SoakTarget = 'standalone' | 'cluster';

export interface SoakOptions {
  /** Seed of the request order and of the fault schedule. @default 7 */
  seed?: number;
  /** Length of the serving phase, ms. @default 30 000 with KVLAB_FAST=1, else 360 000 */
  durationMs?: number;
  /** Pause between the end of one fault and the start of the next: uniform in [min, max] ms. @default fast [800, 2000], full [3000, 8000] */
  faultGapMs?: [number, number];
  /** Fault kinds to inject (each appears once per shuffled round). @default every kind */
  faults?: readonly FaultKind[];
  /** Distinct prompts in the request pool (three workloads, two salted tenants). @default fast 48, full 120 */
  poolSize?: number;
  /** Store `commandTimeout`, ms. @default 300 */
  commandTimeout?: number;
  /** Progress display, or false for none. @default a `progress()` bar */
  progress?: boolean | ((total: number, label: string) => ProgressReporter);
  /** Log lines (fault start/end). @default none */
  log?: (line: string) => void;
}

export const DEFAULT_SOAK_OPTIONS = {
  seed: 7,
  fastDurationMs: 30_000,
  fullDurationMs: 360_000,
  fastFaultGapMs: [800, 2000] as [number, number],
  fullFaultGapMs: [3000, 8000] as [number, number],
  fastPoolSize: 48,
  fullPoolSize: 120,
  commandTimeout: 300,
  blockSize: 16,
  dtype: 'fp32',
  model: 'tiny',
} as const;

/** One injected fault. Times are ms since the start of the serving phase. */
export interface FaultEvent {
  kind: FaultKind;
  target: SoakTarget;
  atMs: number;
  /** Until the fault is over: server back / replica promoted / window closed. */
  durationMs: number;
  /** Blocks that disappeared or were damaged because of this fault. */
  keysLost: number;
  /** From the end of the fault to the start of the first request on that target that reused tokens. */
  firstHitAfterMs?: number;
  detail: string;
}

export interface FaultSummary {
  injected: number;
  /** Requests that started while a fault of this kind was active (on any target). */
  requests: number;
  wrongOutputs: number;
  fallbacks: number;
  maxLatencyMs: number;
  keysLost: number;
  /** Mean time from the end of the fault to the first hit on its target. */
  meanFirstHitAfterMs?: number;
}

export interface SoakTotals {
  requests: number;
  wrongOutputs: number;
  fallbacks: number;
  promptTokens: number;
  reusedTokens: number;
  reuseRatio: number;
  maxLatencyMs: number;
  p50LatencyMs: number;
  p99LatencyMs: number;
  /** Largest time one request spent on the store (lookup + load + save). */
  maxStoreMs: number;
  keysLost: number;
}

export interface SoakResult {
  benchmark: 'soak';
  date: string;
  fast: boolean;
  config: {
    seed: number;
    durationMs: number;
    faultGapMs: [number, number];
    faults: FaultKind[];
    poolSize: number;
    model: string;
    dtype: string;
    blockSize: number;
    commandTimeout: number;
    targets: { standalone: string; cluster: string };
  };
  machine: { os: string; arch: string; cpu: string; cores: number; totalMemGiB: number; loadAverage: { start: number; end: number } };
  versions: { node: string; kvcacheLab: string; ioredis: string; redis: string };
  measurements: {
    wallMs: number;
    totals: SoakTotals;
    byTarget: Record<SoakTarget, SoakTotals>;
    /** Requests that started while no fault was active. */
    noFault: FaultSummary;
    byFault: Record<FaultKind, FaultSummary>;
    corruption: {
      mutated: number;
      byMutation: Partial<Record<MutationKind, number>>;
      /** Valid entries moved to another block's key (`misplaced-entry`). */
      misplaced: number;
      /** Entries replaced by ones written without the cache secret (`forged-entry`). */
      forged: number;
      /** Entries refused on read and removed, all kinds (connector or validate hook). */
      detectedOnRead: number;
      /** The same, by reason (corrupt, unsupported, misplaced, unauthenticated). */
      detectedByReason: Record<string, number>;
      /** Damaged entries that disappeared before anyone read them (server killed, evicted). */
      goneBeforeRead: number;
      /** Damaged entries still in Redis at the end (found by the final scan): never read again, or read as a miss but kept. */
      stillDamagedAtEnd: number;
    };
    /** A scan of every key left at the end: each must verify (MAC, checksums, identity), or be one of the tampered entries never read. */
    finalScan: { keys: number; valid: number; damaged: number };
    events: FaultEvent[];
    storeStats: Record<SoakTarget, StoreStats>;
  };
}

// ---------------------------------------------------------------------------------------------
// Servers

const CLUSTER_ARGS = ['--repl-diskless-sync-delay', '0'];
const COMMON_ARGS = ['--enable-debug-command', 'yes', '--maxmemory-policy', 'allkeys-lru'];

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitUntil(what: string, fn: () => Promise<boolean>, timeoutMs: number, everyMs = 100): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await fn().catch(() => false)) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`soak: timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Every live node says cluster_state:ok, 3 masters, and every replica has finished its sync. */
async function clusterHealthy(cluster: LocalRedisCluster): Promise<boolean> {
  const live = cluster.nodes.filter((n) => n.alive);
  const infos = await Promise.all(live.map((n) => n.cli('CLUSTER', 'INFO')));
  if (!infos.every((s) => /cluster_state:ok/.test(s))) return false;
  const repl = await Promise.all(live.map((n) => n.info('replication')));
  if (repl.filter((r) => r.role === 'master').length !== 3) return false;
  return repl.filter((r) => r.role === 'slave').every((r) => r.master_link_status === 'up' && r.master_sync_in_progress === '0');
}

// ---------------------------------------------------------------------------------------------
// The run

interface Served {
  target: SoakTarget;
  record: RequestRecord;
  startMs: number;
  latencyMs: number;
  wrong: boolean;
  faults: FaultKind[];
}

interface TargetState {
  name: SoakTarget;
  store: KVStore;
  engine: ServingEngine;
  connector: PrefixCacheConnector;
  rng: SeededRng;
  /** Keys of blocks this target wrote (most recent last), for the corruption fault. */
  written: string[];
  writtenSet: Set<string>;
}




function totalsOf(list: readonly Served[], keysLost: number): SoakTotals {
  const lat = list.map((s) => s.latencyMs);
  const prompt = list.reduce((a, s) => a + s.record.promptTokens, 0);
  const reused = list.reduce((a, s) => a + s.record.reusedTokens, 0);
  return {
    requests: list.length,
    wrongOutputs: list.filter((s) => s.wrong).length,
    fallbacks: list.reduce((a, s) => a + s.record.fallbacks, 0),
    promptTokens: prompt,
    reusedTokens: reused,
    reuseRatio: prompt ? round(reused / prompt, 3) : 0,
    maxLatencyMs: round(lat.reduce((a, b) => Math.max(a, b), 0), 1),
    p50LatencyMs: round(lat.length ? quantile(lat, 0.5) : 0, 1),
    p99LatencyMs: round(lat.length ? quantile(lat, 0.99) : 0, 1),
    maxStoreMs: round(list.reduce((a, s) => Math.max(a, s.record.lookupMs + s.record.loadMs + s.record.saveMs), 0), 1),
    keysLost,
  };
}

function summaryOf(list: readonly Served[], events: readonly FaultEvent[]): FaultSummary {
  const hits = events.map((e) => e.firstHitAfterMs).filter((x): x is number => x !== undefined);
  return {
    injected: events.length,
    requests: list.length,
    wrongOutputs: list.filter((s) => s.wrong).length,
    fallbacks: list.reduce((a, s) => a + s.record.fallbacks, 0),
    maxLatencyMs: round(list.reduce((a, s) => Math.max(a, s.latencyMs), 0), 1),
    keysLost: events.reduce((a, e) => a + e.keysLost, 0),
    ...(hits.length ? { meanFirstHitAfterMs: round(hits.reduce((a, b) => a + b, 0) / hits.length, 1) } : {}),
  };
}

/**
 * Run the soak. Starts (and stops) its own redis-server processes: a standalone server and a
 * 3-master + 3-replica cluster on free loopback ports.
 */
export async function runSoak(options: SoakOptions = {}): Promise<SoakResult> {
  const fast = isFastMode();
  const D = DEFAULT_SOAK_OPTIONS;
  const seed = options.seed ?? D.seed;
  const durationMs = options.durationMs ?? (fast ? D.fastDurationMs : D.fullDurationMs);
  const gap = options.faultGapMs ?? (fast ? D.fastFaultGapMs : D.fullFaultGapMs);
  const kinds = [...(options.faults ?? FAULT_KINDS)];
  const poolSize = options.poolSize ?? (fast ? D.fastPoolSize : D.fullPoolSize);
  const commandTimeout = options.commandTimeout ?? D.commandTimeout;
  const log = options.log ?? ((): void => undefined);
  if (!Number.isInteger(seed) || seed < 0) throw InvalidInputError.at('options.seed', 'a non-negative integer', seed);
  if (!(durationMs > 0) || !Number.isFinite(durationMs)) throw InvalidInputError.at('options.durationMs', 'a positive number', durationMs);
  if (!Array.isArray(gap) || gap.length !== 2 || !(gap[0] >= 0) || !(gap[1] >= gap[0])) {
    throw new InvalidInputError({ path: 'options.faultGapMs', expected: '[min, max] with 0 ≤ min ≤ max', received: String(JSON.stringify(gap)).slice(0, 60) });
  }
  for (const [i, k] of kinds.entries()) {
    if (!(FAULT_KINDS as readonly string[]).includes(k)) {
      throw new InvalidInputError({ path: `options.faults[${i}]`, expected: `a known fault kind: ${FAULT_KINDS.join(', ')}`, received: `unknown fault kind ${describeValue(k)}` });
    }
  }
  if (!Number.isInteger(poolSize) || poolSize < 6) throw InvalidInputError.at('options.poolSize', 'an integer ≥ 6', poolSize);
  const bar = (total: number, label: string): ProgressReporter | undefined =>
    options.progress === false ? undefined : typeof options.progress === 'function' ? options.progress(total, label) : makeProgress(total, label);

  const loadStart = os.loadavg()[0]!;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kvlab-soak-'));
  let standalone: LocalRedisNode | undefined;
  let cluster: LocalRedisCluster | undefined;
  const stores: KVStore[] = [];
  const model = await LlamaModel.create(D.model, { seed: 0 });
  try {
    // Requests: three workloads, two of them under salted tenants.
    const tok = new Tokenizer();
    const enc = (t: string): number[] => tok.encode(t);
    const third = Math.ceil(poolSize / 3);
    const shape = { sharedTokens: 256, turnTokens: 48, sessions: 3, maxNewTokens: 4 };
    const pool: ServeRequest[] = [
      ...makeWorkload('agent', enc, { requests: third, seed: seed + 1, tenant: 'tenant-a', ...shape }),
      ...makeWorkload('chat', enc, { requests: third, seed: seed + 2, tenant: 'tenant-b', ...shape }),
      ...makeWorkload('rag', enc, { requests: poolSize - 2 * third, seed: seed + 3, ...shape }),
    ];
    const references = bar(pool.length, 'soak: no-cache reference outputs');
    const expected = new Map<string, string>();
    const plain = new ServingEngine(model, new NoCacheConnector());
    for (const r of pool) {
      expected.set(r.id, (await plain.serve(r)).output.join(','));
      references?.tick();
    }
    references?.done();

    log('soak: starting redis-server processes (standalone + 3 masters / 3 replicas)');
    standalone = await LocalRedisNode.start({ dir: path.join(root, 'standalone'), args: COMMON_ARGS });
    cluster = await LocalRedisCluster.start({ masters: 3, replicasPerMaster: 1, dir: root, args: [...CLUSTER_ARGS, ...COMMON_ARGS] });
    await waitUntil('a healthy cluster', () => clusterHealthy(cluster!), 30_000);
    const redisVersion = (await standalone.info('server')).redis_version ?? 'unknown';
    const baseMemory = Number((await standalone.info('memory')).used_memory);

    const storeOptions = {
      commandTimeout,
      connectTimeout: 500,
      maxReconnectDelayMs: 200,
      circuitBreaker: { failureThreshold: 3, cooldownMs: 200, maxCooldownMs: 2000 },
    };
    // Entries are signed with a secret the soak makes up: forged entries must be refused.
    const secret = `soak-cache-secret-${seed}-${process.pid}-${Date.now()}`;
    const entryKey = EntryKey.fromSecret(secret);
    const codec = serdeBlockCodec({ dtype: D.dtype, secret });
    const salts = { 'tenant-a': `soak-salt-a-${seed}`, 'tenant-b': `soak-salt-b-${seed}` };
    const sStore = await createStore(standalone.url, { namespace: 'soak', ...storeOptions });
    // The cluster store also checks every value it reads (header + checksum): damage is caught
    // there, one layer below the connector.
    const cStore = await createStore(cluster.url, {
      namespace: 'soak',
      ...storeOptions,
      validate: (v: Buffer) => {
        verifyKV(v);
      },
    });
    stores.push(sStore, cStore);
    const targets: Record<SoakTarget, TargetState> = {
      standalone: makeTarget('standalone', sStore, seed * 31 + 1),
      cluster: makeTarget('cluster', cStore, seed * 31 + 2),
    };
    function makeTarget(name: SoakTarget, store: KVStore, s: number): TargetState {
      const connector = new PrefixCacheConnector(model, store, codec, { blockSize: D.blockSize, salts, name });
      return { name, store, connector, engine: new ServingEngine(model, connector), rng: new SeededRng(s), written: [], writtenSet: new Set() };
    }

    // --- fault schedule (seeded): shuffled rounds of the chosen kinds, seeded parameters.
    const schedRng = new SeededRng(seed);
    const events: FaultEvent[] = [];
    const active = new Map<FaultKind, number>();
    const served: Served[] = [];
    const corruption = { mutated: 0, byMutation: {} as Partial<Record<MutationKind, number>>, misplaced: 0, forged: 0 };
    const damaged = new Set<string>();
    const start = Date.now();
    const now = (): number => Date.now() - start;
    const deadline = start + durationMs;

    const run = bar(Math.ceil(durationMs / 1000), 'soak');
    const ticker = setInterval(() => {
      const wrong = served.filter((s) => s.wrong).length;
      run?.tick(1, `soak: ${served.length} requests, ${events.length} faults, ${wrong} wrong`);
    }, 1000);

    const serveLoop = async (t: TargetState): Promise<void> => {
      while (Date.now() < deadline) {
        const req = pool[t.rng.int(pool.length)]!;
        await new Promise((r) => setImmediate(r)); // requests arrive through I/O: let timers run
        const faults = [...active.keys()];
        const t0 = Date.now();
        const record = await t.engine.serve({ ...req, id: `${t.name}-${served.length}-${req.id}` });
        const latencyMs = Date.now() - t0;
        served.push({ target: t.name, record, startMs: t0 - start, latencyMs, wrong: record.output.join(',') !== expected.get(req.id), faults });
        const hashes = hashBlocks(req.tokens, t.connector.namespaceFor(req.tenant));
        for (const h of hashes) {
          const key = (t.store as RedisStoreBase).keyFor(h);
          if (!t.writtenSet.has(key)) {
            t.writtenSet.add(key);
            t.written.push(key);
          }
        }
      }
    };

    /** Ms from `fromMs` to the start of the first request on `target` that reused tokens (polls the records served since). */
    const firstHitAfter = (target: SoakTarget, fromMs: number): Promise<number | undefined> => {
      let scanned = Math.max(0, served.length - 4); // requests already in flight may start after fromMs
      let found: Served | undefined;
      return waitUntil(
        `a hit on ${target}`,
        async () => {
          for (; scanned < served.length && !found; scanned++) {
            const s = served[scanned]!;
            if (s.target === target && s.startMs >= fromMs && s.record.reusedTokens > 0) found = s;
          }
          return found !== undefined;
        },
        Math.max(0, deadline - Date.now()),
        50,
      ).then(
        () => found!.startMs - fromMs,
        () => undefined,
      );
    };

    const nodesOf = async (target: SoakTarget): Promise<LocalRedisNode[]> => (target === 'standalone' ? [standalone!] : cluster!.masters());
    const dbsize = async (nodes: LocalRedisNode[]): Promise<number> => (await Promise.all(nodes.map(async (n) => Number(await n.cli('DBSIZE'))))).reduce((a, b) => a + b, 0);
    const evictedKeys = async (nodes: LocalRedisNode[]): Promise<number> =>
      (await Promise.all(nodes.map(async (n) => Number((await n.info('stats')).evicted_keys ?? 0)))).reduce((a, b) => a + b, 0);

    const inject = async (kind: FaultKind): Promise<void> => {
      const target: SoakTarget = kind === 'redis-kill' ? 'standalone' : kind === 'cluster-failover' ? 'cluster' : schedRng.nextFloat() < 0.5 ? 'standalone' : 'cluster';
      const atMs = now();
      const ev: FaultEvent = { kind, target, atMs, durationMs: 0, keysLost: 0, detail: '' };
      active.set(kind, (active.get(kind) ?? 0) + 1);
      log(`soak: ${(atMs / 1000).toFixed(1)} s ${kind} on ${target}`);
      try {
        switch (kind) {
          case 'redis-kill': {
            const down = Math.round(schedRng.uniform(fast ? 300 : 500, fast ? 1200 : 3000));
            ev.keysLost = await dbsize([standalone!]);
            await standalone!.kill();
            await sleep(down);
            await standalone!.restart();
            ev.detail = `down ${down} ms, restarted empty on port ${standalone!.port}`;
            break;
          }
          case 'cluster-failover': {
            const masters = await cluster!.masters();
            const victim = masters[schedRng.int(masters.length)]!;
            const keys = Number(await victim.cli('DBSIZE'));
            await victim.kill();
            const promotedMs = await waitUntil(
              'a promoted replica',
              async () => {
                const live = cluster!.nodes.filter((n) => n.alive);
                const infos = await Promise.all(live.map((n) => n.cli('CLUSTER', 'INFO')));
                if (!infos.every((s) => /cluster_state:ok/.test(s))) return false;
                return (await cluster!.masters()).length === 3;
              },
              60_000,
            );
            // What survived of the victim's slots: the keys of the replica that took its place.
            const promoted = (await cluster!.masters()).filter((m) => !masters.includes(m));
            ev.keysLost = Math.max(0, keys - (await dbsize(promoted)));
            ev.durationMs = promotedMs;
            await victim.restart(); // same folder: nodes.conf makes it rejoin, as a replica
            const rejoinMs = await waitUntil('a healthy cluster', () => clusterHealthy(cluster!), 60_000);
            ev.detail = `master :${victim.port} killed with ${keys} keys; replica promoted after ${promotedMs} ms; old master back as a replica in sync after ${rejoinMs} ms more`;
            break;
          }
          case 'eviction': {
            const nodes = await nodesOf(target);
            const before = await evictedKeys(nodes);
            const windowMs = Math.round(schedRng.uniform(fast ? 1000 : 2000, fast ? 2500 : 6000));
            for (const n of nodes) {
              const used = Number((await n.info('memory')).used_memory);
              const limit = Math.max(baseMemory + 256 * 1024, Math.round(baseMemory + (used - baseMemory) * 0.5));
              await n.cli('CONFIG', 'SET', 'maxmemory', String(limit));
            }
            await sleep(windowMs);
            for (const n of nodes) await n.cli('CONFIG', 'SET', 'maxmemory', '0');
            ev.keysLost = (await evictedKeys(nodes)) - before;
            ev.detail = `maxmemory lowered to half the data set for ${windowMs} ms on ${nodes.length} node(s)`;
            ev.durationMs = windowMs;
            break;
          }
          case 'corruption': {
            const t = targets[target];
            const count = 5 + schedRng.int(fast ? 15 : 30);
            const client = (t.store as unknown as { client: { getBuffer(k: string): Promise<Buffer | null>; set(k: string, v: Buffer, mode: 'XX'): Promise<unknown> } }).client;
            let done = 0;
            for (let tries = 0; done < count && tries < count * 5 && t.written.length > 0; tries++) {
              const key = t.written[schedRng.int(t.written.length)]!;
              const value = await client.getBuffer(key).catch(() => null);
              if (!value || damaged.has(key)) continue;
              let bad: Buffer;
              const mkind = MUTATIONS[schedRng.int(MUTATIONS.length)]!;
              try {
                verifyKV(value);
                bad = mutateEntry(value, mkind, schedRng);
              } catch {
                continue;
              }
              if ((await client.set(key, bad, 'XX').catch(() => null)) === null) continue;
              damaged.add(key);
              done++;
              corruption.mutated++;
              corruption.byMutation[mkind] = (corruption.byMutation[mkind] ?? 0) + 1;
            }
            ev.keysLost = done;
            ev.detail = `${done} stored blocks damaged`;
            break;
          }
          case 'misplaced-entry': {
            const t = targets[target];
            const client = (t.store as unknown as { client: { getBuffer(k: string): Promise<Buffer | null>; set(k: string, v: Buffer, mode: 'XX'): Promise<unknown> } }).client;
            const pairs = 2 + schedRng.int(fast ? 4 : 8);
            let moved = 0;
            for (let tries = 0; moved < 2 * pairs && tries < pairs * 6 && t.written.length > 1; tries++) {
              const a = t.written[schedRng.int(t.written.length)]!;
              const b = t.written[schedRng.int(t.written.length)]!;
              if (a === b || damaged.has(a) || damaged.has(b)) continue;
              const [va, vb] = await Promise.all([client.getBuffer(a).catch(() => null), client.getBuffer(b).catch(() => null)]);
              if (!va || !vb) continue;
              const [okA, okB] = await Promise.all([client.set(a, vb, 'XX').catch(() => null), client.set(b, va, 'XX').catch(() => null)]);
              for (const [k, ok] of [[a, okA], [b, okB]] as const) {
                if (ok === null) continue;
                damaged.add(k);
                moved++;
              }
            }
            corruption.misplaced += moved;
            ev.keysLost = moved;
            ev.detail = `${moved} valid entries moved to another block's key`;
            break;
          }
          case 'forged-entry': {
            const t = targets[target];
            const client = (t.store as unknown as { client: { getBuffer(k: string): Promise<Buffer | null>; set(k: string, v: Buffer, mode: 'XX'): Promise<unknown> } }).client;
            const count = 3 + schedRng.int(fast ? 8 : 16);
            let done = 0;
            for (let tries = 0; done < count && tries < count * 5 && t.written.length > 0; tries++) {
              const key = t.written[schedRng.int(t.written.length)]!;
              const value = await client.getBuffer(key).catch(() => null);
              if (!value || damaged.has(key)) continue;
              let forged: Buffer;
              try {
                forged = forgeEntry(value, schedRng);
              } catch {
                continue;
              }
              if ((await client.set(key, forged, 'XX').catch(() => null)) === null) continue;
              damaged.add(key);
              done++;
            }
            corruption.forged += done;
            ev.keysLost = done;
            ev.detail = `${done} entries forged without the cache secret`;
            break;
          }
          case 'slow-server': {
            const nodes = await nodesOf(target);
            const n = nodes[schedRng.int(nodes.length)]!;
            const secs = round(schedRng.uniform(1.5 * commandTimeout, 4 * commandTimeout) / 1000, 2);
            await n.cli('DEBUG', 'SLEEP', String(secs));
            ev.durationMs = secs * 1000;
            ev.detail = `DEBUG SLEEP ${secs} s on :${n.port}`;
            break;
          }
          case 'connection-drop': {
            const nodes = await nodesOf(target);
            let killed = 0;
            for (const n of nodes) killed += Number(await n.cli('CLIENT', 'KILL', 'TYPE', 'normal'));
            ev.detail = `${killed} client connections killed on ${nodes.length} node(s)`;
            break;
          }
        }
      } finally {
        active.set(kind, active.get(kind)! - 1);
        if (active.get(kind) === 0) active.delete(kind);
      }
      if (ev.durationMs === 0) ev.durationMs = now() - atMs;
      events.push(ev);
      const endedAt = now();
      void firstHitAfter(target, endedAt).then((ms) => {
        if (ms !== undefined) ev.firstHitAfterMs = ms;
      });
    };

    const faultLoop = async (): Promise<void> => {
      let bag: FaultKind[] = [];
      await sleep(Math.min(1500, durationMs / 10)); // let the caches warm up first
      while (Date.now() < deadline - 1000) {
        if (bag.length === 0) bag = schedRng.shuffle(kinds);
        await inject(bag.shift()!);
        await sleep(Math.round(schedRng.uniform(gap[0], gap[1])));
      }
    };

    await Promise.all([serveLoop(targets.standalone), serveLoop(targets.cluster), faultLoop()]);
    clearInterval(ticker);
    const wallMs = now();
    run?.done(`soak: ${served.length} requests, ${events.length} faults, ${served.filter((s) => s.wrong).length} wrong`);

    // Final scan: every key left must be usable (MAC, checksums, identity), or a tampered entry never read again.
    await waitUntil('a healthy cluster', () => clusterHealthy(cluster!), 60_000).catch(() => undefined);
    const scan = { keys: 0, valid: 0, damaged: 0 };
    for (const t of [targets.standalone, targets.cluster]) {
      const client = (t.store as unknown as { client: { getBuffer(k: string): Promise<Buffer | null> } }).client;
      for (const key of t.written) {
        const v = await client.getBuffer(key).catch(() => null);
        if (!v) continue;
        scan.keys++;
        if (usableUnder(v, key, entryKey)) scan.valid++;
        else scan.damaged++;
      }
    }

    const lostBy = (target?: SoakTarget): number => events.filter((e) => target === undefined || e.target === target).reduce((a, e) => a + e.keysLost, 0);
    const byFault = Object.fromEntries(
      FAULT_KINDS.map((k) => [k, summaryOf(served.filter((s) => s.faults.includes(k)), events.filter((e) => e.kind === k))]),
    ) as Record<FaultKind, FaultSummary>;
    const sStats = sStore.stats();
    const cStats = cStore.stats();
    const cpus = os.cpus();
    return {
      benchmark: 'soak',
      date: new Date().toISOString(),
      fast,
      config: {
        seed,
        durationMs,
        faultGapMs: gap,
        faults: kinds,
        poolSize: pool.length,
        model: D.model,
        dtype: D.dtype,
        blockSize: D.blockSize,
        commandTimeout,
        targets: { standalone: 'redis-server (1 node)', cluster: 'Redis Cluster, 3 masters + 3 replicas' },
      },
      machine: {
        os: `${os.type()} ${os.release()}`,
        arch: os.arch(),
        cpu: cpus[0]?.model.trim() ?? 'unknown',
        cores: cpus.length,
        totalMemGiB: round(os.totalmem() / 2 ** 30, 1),
        loadAverage: { start: round(loadStart, 2), end: round(os.loadavg()[0]!, 2) },
      },
      versions: { node: process.version, kvcacheLab: libVersion(), ioredis: packageVersion('ioredis'), redis: redisVersion },
      measurements: {
        wallMs,
        totals: totalsOf(served, lostBy()),
        byTarget: {
          standalone: totalsOf(served.filter((s) => s.target === 'standalone'), lostBy('standalone')),
          cluster: totalsOf(served.filter((s) => s.target === 'cluster'), lostBy('cluster')),
        },
        noFault: summaryOf(served.filter((s) => s.faults.length === 0), []),
        byFault,
        corruption: {
          ...corruption,
          detectedOnRead: sStats.corrupt + cStats.corrupt,
          detectedByReason: Object.fromEntries(Object.keys(sStats.rejected).map((r) => [r, sStats.rejected[r as keyof StoreStats['rejected']] + cStats.rejected[r as keyof StoreStats['rejected']]])),
          goneBeforeRead: Math.max(0, corruption.mutated + corruption.misplaced + corruption.forged - (sStats.corrupt + cStats.corrupt) - scan.damaged),
          stillDamagedAtEnd: scan.damaged,
        },
        finalScan: scan,
        events,
        storeStats: { standalone: sStats, cluster: cStats },
      },
    };
  } finally {
    await Promise.all(stores.map((s) => s.close().catch(() => undefined)));
    await standalone?.stop().catch(() => undefined);
    await cluster?.stop().catch(() => undefined);
    model.dispose();
    fs.rmSync(root, { recursive: true, force: true });
  }
}
