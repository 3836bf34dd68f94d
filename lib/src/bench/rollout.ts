/**
 * Turning a KV cache on in phases, as a connector around the real one:
 * - `off`: no lookups, no writes (the engine as it was);
 * - `shadow`: lookups and writes happen — the store warms up and its metrics show the hit ratio the
 *   cache *would* give — but nothing is loaded: every token is computed, outputs cannot change;
 * - `slice`: a fixed fraction of sessions is served from the cache, the others as before;
 * - `full`: every request goes through the cache.
 * Sessions (else tenants, else request ids) are assigned to the slice by a hash, so a session stays
 * on one side while the fraction grows, and the two sides can be compared on the same traffic.
 */
import { createHash } from 'node:crypto';
import { InvalidInputError } from '../runtime/errors';
import type { KVCache } from '../model/kv-cache';
import type { KVConnector, LoadResult, MatchResult, SaveResult } from '../engine/connector';
import type { ServeRequest } from '../engine/types';

/** A rollout phase: `off` (no cache), `shadow` (lookups and writes, nothing loaded), `slice` (a fraction of sessions cached), `full`. */
export type RolloutPhase = 'off' | 'shadow' | 'slice' | 'full';
/** The phases, in the order a rollout goes through them. */
export const ROLLOUT_PHASES: readonly RolloutPhase[] = ['off', 'shadow', 'slice', 'full'];

/** Options of a {@link RolloutConnector}: the phase and, for `slice`, the fraction of sessions served from the cache. */
export interface RolloutOptions {
  phase: RolloutPhase;
  /**
   * Fraction of sessions in the cached slice (phase `slice` only), in [0, 1].
   * @default 0.05
   */
  sliceFraction?: number;
}

/** The defaults of {@link RolloutOptions}: a 5 % slice. */
export const DEFAULT_ROLLOUT_OPTIONS = { sliceFraction: 0.05 } as const;

/** What the rollout connector remembers of a request: whether it used the cache, and the inner connector's match. */
export interface RolloutHandle<Inner> {
  readonly cached: boolean;
  readonly inner?: MatchResult<Inner>;
}

/** Counts a phase is judged by (the store's metrics count the same lookups, in tokens, for Prometheus). */
export interface RolloutCounts {
  requests: number;
  /** Requests served from the cache (in the slice, or every request in `full`). */
  cached: number;
  /** Prompt tokens the lookups found, loaded or not (in `shadow`: the hits the cache would have given). */
  matchedTokens: number;
  promptTokens: number;
}

/** Where a request falls in [0, 1): a hash of its session (else tenant, else id), stable across processes. */
export function sliceOf(request: ServeRequest): number {
  const key = request.session ?? request.tenant ?? request.id;
  return createHash('sha256').update(`kvcache-lab rollout v1\0${key}`).digest().readUInt32BE(0) / 2 ** 32;
}

const NO_MATCH = { matchedTokens: 0, roundTrips: 0, fallbacks: 0 } as const;

/** A connector that applies a rollout phase to another one (usually a `PrefixCacheConnector`). */
export class RolloutConnector<Inner = unknown> implements KVConnector<RolloutHandle<Inner>> {
  readonly name: string;
  readonly counts: RolloutCounts = { requests: 0, cached: 0, matchedTokens: 0, promptTokens: 0 };
  private readonly phase: RolloutPhase;
  private readonly sliceFraction: number;

  constructor(
    readonly inner: KVConnector<Inner>,
    options: RolloutOptions,
  ) {
    if (!ROLLOUT_PHASES.includes(options?.phase)) throw InvalidInputError.at('options.phase', `one of ${ROLLOUT_PHASES.join(', ')}`, options?.phase);
    const f = options.sliceFraction ?? DEFAULT_ROLLOUT_OPTIONS.sliceFraction;
    if (typeof f !== 'number' || !(f >= 0 && f <= 1)) throw InvalidInputError.at('options.sliceFraction', 'a fraction in [0, 1]', f);
    this.phase = options.phase;
    this.sliceFraction = f;
    this.name = `${inner.name} (${this.phase}${this.phase === 'slice' ? ` ${f}` : ''})`;
  }

  /** Whether this request is served from the cache in the current phase. */
  isCached(request: ServeRequest): boolean {
    return this.phase === 'full' || (this.phase === 'slice' && sliceOf(request) < this.sliceFraction);
  }

  async getMatchedTokens(request: ServeRequest): Promise<MatchResult<RolloutHandle<Inner>>> {
    this.counts.requests++;
    this.counts.promptTokens += request.tokens.length;
    const cached = this.isCached(request);
    if (!cached && this.phase !== 'shadow') return { ...NO_MATCH, handle: { cached } };
    const inner = await this.inner.getMatchedTokens(request);
    this.counts.matchedTokens += inner.matchedTokens;
    if (cached) this.counts.cached++;
    // In shadow the lookup is real (and counted by the store) but the engine is told nothing matched.
    return { matchedTokens: cached ? inner.matchedTokens : 0, handle: { cached, inner }, roundTrips: inner.roundTrips, fallbacks: inner.fallbacks };
  }

  async load(request: ServeRequest, match: MatchResult<RolloutHandle<Inner>>): Promise<LoadResult> {
    const inner = match.handle.inner;
    if (!match.handle.cached || !inner) return { tokens: 0, bytes: 0, fallbacks: 0 };
    return this.inner.load(request, inner);
  }

  async save(request: ServeRequest, kv: KVCache, match: MatchResult<RolloutHandle<Inner>>, loadedTokens: number): Promise<SaveResult> {
    const inner = match.handle.inner;
    if (!inner) return { blocks: 0, bytes: 0, failed: 0, fallbacks: 0 };
    // Shadow: write only what the store lacks (after what the lookup found), as a cached request would.
    return this.inner.save(request, kv, inner, match.handle.cached ? loadedTokens : inner.matchedTokens);
  }

  async close(): Promise<void> {
    await this.inner.close();
  }
}
