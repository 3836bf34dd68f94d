/**
 * `npm run bench:tiers`: one seeded multi-session stream served through the three cache layers
 * (device → host → remote, see ./three-tier.ts) with small capacities, and through fewer layers for
 * comparison; every prompt token attributed to the layer that supplied its KV. The capacities are
 * fractions of the stream's distinct blocks, so that no layer holds everything.
 */
import * as os from 'node:os';
import { createNamespace } from '../hashing/namespace';
import { hashBlocks } from '../hashing/block-hash';
import { LlamaModel } from '../model/transformer';
import type { RunnablePresetName } from '../model/presets';
import { Tokenizer } from '../model/tokenizer';
import { encodedSize } from '../serde/container';
import type { KVDtype } from '../serde/types';
import { initBackend, backendReport } from '../runtime/backend';
import { sized, isFastMode } from '../runtime/env';
import { InvalidInputError } from '../runtime/errors';
import { progress } from '../runtime/progress';
import { libVersion } from '../runtime/versions';
import { serdeBlockCodec } from '../engine/codec';
import { NoCacheConnector } from '../engine/connector';
import { ServingEngine, type RequestRecord } from '../engine/engine';
import type { ServeRequest } from '../engine/types';
import { createStore } from '../store/factory';
import { LocalRedisNode } from '../store/local-cluster';
import type { KVStore } from '../store/types';
import { makeWorkload, type WorkloadName, type WorkloadOptions } from './workloads';
import { oracleReuse } from './strategies';
import { quantile, sum } from './stats';
import { redisEntryBytes } from './sizing';
import { ThreeTierConnector, type TierTokens } from './three-tier';

/** Layer capacities as fractions of the stream's distinct blocks. */
export interface TierCapacities {
  device: number;
  host: number;
  remote: number;
}

/** What {@link runTiersBench} serves, and through layers of which sizes. */
export interface TiersBenchOptions {
  /** @default 'default' (full mode), 'tiny' (KVLAB_FAST) */
  preset: RunnablePresetName;
  /** Seed of the model and the stream. @default 0 */
  seed: number;
  /** Stored encoding. @default 'fp16' */
  dtype: KVDtype;
  /** Tokens per block. @default 16 */
  blockSize: number;
  /** @default 'chat' (a shared system prompt + sessions that grow turn by turn) */
  workload: WorkloadName;
  /** Size of the stream (its seed is `seed + 1`). */
  workloadOptions: Omit<WorkloadOptions, 'seed'>;
  /** @default { device: 0.1, host: 0.3, remote: 0.6 } */
  capacity: TierCapacities;
  /** The `redis-server` executable. @default 'redis-server' */
  redisCommand?: string;
  /** Draw a progress bar (stderr, or the notebook). @default true */
  showProgress?: boolean;
}

/** The defaults, in fast mode (KVLAB_FAST=1) and full mode. */
export function defaultTiersBenchOptions(): TiersBenchOptions {
  return {
    preset: sized<RunnablePresetName>('tiny', 'default'),
    seed: 0,
    dtype: 'fp16',
    blockSize: 16,
    workload: 'chat',
    workloadOptions: { requests: sized(24, 72), sessions: sized(6, 8), sharedTokens: sized(256, 768), turnTokens: sized(48, 96), maxNewTokens: sized(2, 4) },
    capacity: { device: 0.1, host: 0.3, remote: 0.6 },
  };
}

/** The layer sets compared: the remote store alone, host memory in front of it, and all three. */
export type TierSetup = 'remote' | 'host+remote' | 'device+host+remote';
/** Every layer set, in the order the bench runs them. */
export const TIER_SETUPS: readonly TierSetup[] = ['remote', 'host+remote', 'device+host+remote'];

/** One layer set's run of the stream. */
export interface TierSetupResult {
  setup: TierSetup;
  /** Prompt tokens by the layer that supplied them (computed: none had them). */
  tokens: TierTokens;
  /** tokens ÷ prompt tokens, per layer: the shares add up to 1. */
  shares: TierTokens;
  /** Of the prompt tokens that reached a layer (not served by a layer above it), the fraction it served; null when it is not in this set. */
  hitRateOfReached: { device: number | null; host: number | null; remote: number };
  ttftP50Ms: number;
  ttftP95Ms: number;
  loadMsMean: number;
  bytesLoaded: number;
  /** Blocks each layer dropped to make room (Redis: `evicted_keys`). */
  evictions: { device: number; host: number; remote: number };
  /** Blocks each layer held at the end. */
  heldBlocks: { device: number; host: number; remote: number };
  wallMs: number;
  /** Per request, in stream order. */
  perRequest: TierTokens[];
}

/** What `npm run bench:tiers` writes to results/tiers.json. */
export interface TiersBenchResult {
  benchmark: 'tiers';
  date: string;
  fast: boolean;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string; backend: string; loadAverage: { start: number; end: number } };
  versions: { kvcacheLab: string; redis: string };
  config: TiersBenchOptions;
  stream: { requests: number; promptTokens: number; distinctBlocks: number; blockValueBytes: number; oracleTokens: number };
  /** What the capacity fractions came to. */
  layers: { deviceBlocks: number; hostBlocks: number; hostBytes: number; remoteBlocks: number; remoteMaxmemoryBytes: number };
  runs: TierSetupResult[];
}

function checkCapacity(c: TierCapacities): void {
  for (const k of ['device', 'host', 'remote'] as const) {
    const v = c[k];
    if (typeof v !== 'number' || !(v > 0) || v > 1) throw InvalidInputError.at(`capacity.${k}`, 'a fraction in (0, 1]', v);
  }
}

/** Distinct full blocks the stream writes (each is one store entry). */
function distinctBlocks(requests: readonly ServeRequest[], fingerprint: string, blockSize: number): number {
  const ns = createNamespace({ modelFingerprint: fingerprint, kvDtype: 'count', kvFormatVersion: 1, blockSize });
  const seen = new Set<string>();
  for (const r of requests) for (const h of hashBlocks(r.tokens, ns)) seen.add(h);
  return seen.size;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** `maxmemory-samples` of the bench's Redis. */
export const REDIS_LRU_SAMPLES = 10;

/** Serve the stream through each layer set, on a private redis-server whose `maxmemory` is the remote layer's capacity. */
export async function runTiersBench(options: TiersBenchOptions = defaultTiersBenchOptions()): Promise<TiersBenchResult> {
  checkCapacity(options.capacity);
  await initBackend();
  const loadStart = os.loadavg()[0] ?? 0;
  const model = await LlamaModel.create(options.preset, { seed: options.seed });
  const tokenizer = new Tokenizer();
  const requests = makeWorkload(options.workload, (t) => tokenizer.encode(t), { ...options.workloadOptions, seed: options.seed + 1 });
  const codec = serdeBlockCodec({ dtype: options.dtype, secret: null });
  const B = options.blockSize;
  const c = model.config;
  const blockValueBytes = encodedSize({ layers: c.numLayers, kvHeads: c.numKvHeads, headDim: c.headDim, tokens: B }, { dtype: options.dtype });
  const distinct = distinctBlocks(requests, model.fingerprint, B);
  const deviceBlocks = Math.max(1, Math.round(options.capacity.device * distinct));
  const hostBlocks = Math.max(1, Math.round(options.capacity.host * distinct));
  const remoteBlocks = Math.max(1, Math.round(options.capacity.remote * distinct));
  const hostBytes = hostBlocks * (blockValueBytes + 128); // MemoryStore counts 128 bytes per entry on top of the value
  const redis = await LocalRedisNode.start({ ...(options.redisCommand ? { command: options.redisCommand } : {}) });
  const done: TierSetupResult[] = [];
  try {
    const namespacePart = (setup: TierSetup): string => `tiers-${TIER_SETUPS.indexOf(setup)}`;
    const keyBytes = `kvlab:${namespacePart('remote')}:`.length + 64;
    const remoteDataBytes = remoteBlocks * redisEntryBytes(blockValueBytes, keyBytes);
    let remoteMaxmemoryBytes = 0;
    await redis.cli('CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru');
    // Redis' LRU is approximate: it evicts the oldest of a few sampled keys (5 by default). Ten
    // samples track true LRU more closely, so that runs vary less; the clock still ticks once a second.
    await redis.cli('CONFIG', 'SET', 'maxmemory-samples', String(REDIS_LRU_SAMPLES));

    // Warm the backend's kernels so the first setup is not charged for them.
    const warm = new ServingEngine(model, new NoCacheConnector());
    for (const r of requests.slice(0, 2)) await warm.serve(r);

    const bar = progress(requests.length * TIER_SETUPS.length, 'tiers', { target: options.showProgress === false ? 'silent' : 'auto' });
    for (const setup of TIER_SETUPS) {
      await redis.cli('CONFIG', 'SET', 'maxmemory', '0');
      await redis.cli('FLUSHALL');
      await redis.cli('CONFIG', 'RESETSTAT');
      const store: KVStore = await createStore(redis.url, { namespace: namespacePart(setup), ...(setup === 'remote' ? {} : { l1Bytes: hostBytes }) });
      // The limit counts what the server uses with the store's connections open, plus the blocks.
      remoteMaxmemoryBytes = Number((await redis.info('memory')).used_memory) + remoteDataBytes;
      await redis.cli('CONFIG', 'SET', 'maxmemory', String(remoteMaxmemoryBytes));
      const connector = new ThreeTierConnector(model, store, codec, { blockSize: B, deviceBlocks: setup === 'device+host+remote' ? deviceBlocks : 0 });
      const engine = new ServingEngine(model, connector);
      const records: RequestRecord[] = [];
      const perRequest: TierTokens[] = [];
      const t0 = performance.now();
      for (const r of requests) {
        bar.tick(1, `tiers · ${setup}`);
        records.push(await engine.serve(r));
        perRequest.push(connector.lastRequest);
      }
      const wallMs = performance.now() - t0;
      const stats = store.stats();
      const hostStats = stats.tiers?.[0];
      const remoteInfo = await redis.info('stats');
      const remoteKeys = Number((await redis.cli('DBSIZE')).trim());
      await connector.close();
      const t = connector.tokens;
      const prompt = sum(records.map((x) => x.promptTokens));
      const reached = (served: number): number => Math.max(1, prompt - served);
      done.push({
        setup,
        tokens: { ...t },
        shares: { device: round3(t.device / prompt), host: round3(t.host / prompt), remote: round3(t.remote / prompt), computed: round3(t.computed / prompt) },
        hitRateOfReached: {
          device: setup === 'device+host+remote' ? round3(t.device / prompt) : null,
          host: setup === 'remote' ? null : round3(t.host / reached(t.device)),
          remote: round3(t.remote / reached(t.device + t.host)),
        },
        ttftP50Ms: quantile(records.map((x) => x.ttftMs), 0.5),
        ttftP95Ms: quantile(records.map((x) => x.ttftMs), 0.95),
        loadMsMean: sum(records.map((x) => x.loadMs)) / records.length,
        bytesLoaded: sum(records.map((x) => x.bytesLoaded)),
        evictions: { device: connector.device.evictions, host: hostStats?.evictions ?? 0, remote: Number(remoteInfo.evicted_keys ?? 0) },
        heldBlocks: { device: connector.device.size, host: setup === 'remote' ? 0 : (hostStats?.entries ?? 0), remote: remoteKeys },
        wallMs,
        perRequest,
      });
    }
    bar.done('tiers done');
    const cpus = os.cpus();
    return {
      benchmark: 'tiers',
      date: new Date().toISOString(),
      fast: isFastMode(),
      machine: { cpus: cpus.length, cpuModel: cpus[0]?.model ?? '', memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, backend: backendReport()?.backend ?? '?', loadAverage: { start: round3(loadStart), end: round3(os.loadavg()[0] ?? 0) } },
      versions: { kvcacheLab: libVersion(), redis: (await redis.info('server')).redis_version ?? 'unknown' },
      config: options,
      stream: { requests: requests.length, promptTokens: sum(requests.map((r) => r.tokens.length)), distinctBlocks: distinct, blockValueBytes, oracleTokens: sum(oracleReuse(requests, model.fingerprint, B)) },
      layers: { deviceBlocks, hostBlocks, hostBytes, remoteBlocks, remoteMaxmemoryBytes },
      runs: done,
    };
  } finally {
    await redis.stop();
    model.dispose();
  }
}
