import { InvalidInputError, describeValue } from '../runtime/errors';
import { assertBlockSize, uncacheableTokens } from './block-size';
import { assertInt } from './checks';

/*
 * Hit accounting in TOKENS, not requests: a request that reuses 16 of 4 000 prompt tokens is not a
 * "hit" in any useful sense. Count only tokens whose KV was actually loaded — tokens that were found
 * but then recomputed (load failed, store timed out) are misses. The tail after the last full block
 * is a miss that could never have been a hit; it is reported separately as `uncacheableTokens`.
 */

/** What one lookup (one request's prompt) yielded. */
export interface LookupOutcome {
  /** Tokens in the prompt. */
  promptTokens: number;
  /** Block size the prompt was hashed with (for the uncacheable tail). Pass 1 for whole-prompt keys. */
  blockSize: number;
  /**
   * Prompt tokens whose KV was served from cache — a number, or per tier, e.g. `{ memory: 32, redis: 64 }`.
   * At most the tokens of the full blocks.
   */
  hitTokens: number | Readonly<Record<string, number>>;
  /** Tier that served a numeric `hitTokens` (counted per tier when given). @default undefined (totals only) */
  tier?: string;
}

export interface TierStats {
  hitTokens: number;
  /** Lookups in which this tier served at least one token. */
  lookupsWithHit: number;
  /** This tier's hit tokens ÷ all prompt tokens: tier ratios add up to the overall `hitRatio`. */
  hitRatio: number;
}

/**
 * A {@link HitCounter}'s totals: token hits and misses, the uncacheable tail, and the hit ratios
 * (overall, cacheable, per request, per tier).
 */
export interface HitStats {
  lookups: number;
  /** Lookups with at least one hit token — only to show how request counts flatter a cache. */
  lookupsWithHit: number;
  promptTokens: number;
  hitTokens: number;
  /** promptTokens − hitTokens: tokens that were prefilled, including `uncacheableTokens`. */
  missTokens: number;
  /** Part of `missTokens`: tokens after the last full block, which no store content could have served. */
  uncacheableTokens: number;
  /** hitTokens ÷ promptTokens (0 when nothing was looked up). */
  hitRatio: number;
  /** hitTokens ÷ (promptTokens − uncacheableTokens): how well the cache did on what it could serve. */
  cacheableHitRatio: number;
  /** lookupsWithHit ÷ lookups, for contrast with the token ratio. */
  requestHitRatio: number;
  tiers: Record<string, TierStats>;
}

const TIER_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

function assertTier(tier: unknown, what: string): asserts tier is string {
  if (typeof tier !== 'string' || !TIER_RE.test(tier)) throw InvalidInputError.at(what, 'a tier name of 1–64 characters [A-Za-z0-9._:-]', tier);
}

/** Token-level hit counter, optionally per tier. Deterministic; tiers are listed in first-seen order. */
export class HitCounter {
  private lookups = 0;
  private lookupsWithHit = 0;
  private promptTokens = 0;
  private hitTokens = 0;
  private uncacheable = 0;
  private readonly tiers = new Map<string, { hitTokens: number; lookupsWithHit: number }>();

  /** Add one lookup. Validates everything before counting anything, so a bad record changes nothing. */
  record(outcome: LookupOutcome): void {
    if (outcome === null || typeof outcome !== 'object') {
      throw InvalidInputError.at('outcome', 'an object', outcome);
    }
    const { promptTokens, blockSize, hitTokens, tier } = outcome;
    assertInt(promptTokens, 'outcome.promptTokens', 0, Number.MAX_SAFE_INTEGER);
    assertBlockSize(blockSize, 'outcome.blockSize');
    const perTier: [string | undefined, number][] = [];
    if (typeof hitTokens === 'number') {
      if (tier !== undefined) assertTier(tier, 'outcome.tier');
      assertInt(hitTokens, 'outcome.hitTokens', 0, Number.MAX_SAFE_INTEGER);
      perTier.push([tier, hitTokens]);
    } else if (hitTokens !== null && typeof hitTokens === 'object' && !Array.isArray(hitTokens)) {
      if (tier !== undefined) {
        throw new InvalidInputError({
          path: 'outcome.tier',
          expected: 'undefined when hitTokens is a { tier: tokens } object',
          received: describeValue(tier),
          hint: "Give 'tier' only with a numeric hitTokens; per-tier hits name their tiers.",
        });
      }
      for (const [t, n] of Object.entries(hitTokens)) {
        assertTier(t, 'outcome.hitTokens (a key)');
        assertInt(n, `outcome.hitTokens.${t}`, 0, Number.MAX_SAFE_INTEGER);
        perTier.push([t, n]);
      }
    } else {
      throw InvalidInputError.at('outcome.hitTokens', 'a number or a { tier: tokens } object', hitTokens);
    }
    const tail = uncacheableTokens(promptTokens, blockSize);
    const hits = perTier.reduce((s, [, n]) => s + n, 0);
    if (hits > promptTokens - tail) {
      // More hits than full-block tokens means recomputed or tail tokens were counted as hits.
      throw new InvalidInputError({
        path: 'outcome.hitTokens',
        expected: `at most the ${promptTokens - tail} tokens in full blocks of a ${promptTokens}-token prompt (block size ${blockSize})`,
        received: `${hits} hit tokens`,
        limit: promptTokens - tail,
        actual: hits,
      });
    }
    this.lookups++;
    this.promptTokens += promptTokens;
    this.hitTokens += hits;
    this.uncacheable += tail;
    if (hits > 0) this.lookupsWithHit++;
    for (const [t, n] of perTier) {
      if (t === undefined) continue;
      let s = this.tiers.get(t);
      if (s === undefined) this.tiers.set(t, (s = { hitTokens: 0, lookupsWithHit: 0 }));
      s.hitTokens += n;
      if (n > 0) s.lookupsWithHit++;
    }
  }

  /** Add another counter's totals (e.g. from another worker). */
  merge(other: HitCounter): void {
    if (!(other instanceof HitCounter)) throw InvalidInputError.at('other', 'a HitCounter', other);
    this.lookups += other.lookups;
    this.lookupsWithHit += other.lookupsWithHit;
    this.promptTokens += other.promptTokens;
    this.hitTokens += other.hitTokens;
    this.uncacheable += other.uncacheable;
    for (const [t, o] of other.tiers) {
      let s = this.tiers.get(t);
      if (s === undefined) this.tiers.set(t, (s = { hitTokens: 0, lookupsWithHit: 0 }));
      s.hitTokens += o.hitTokens;
      s.lookupsWithHit += o.lookupsWithHit;
    }
  }

  reset(): void {
    this.lookups = this.lookupsWithHit = this.promptTokens = this.hitTokens = this.uncacheable = 0;
    this.tiers.clear();
  }

  /** A plain, JSON-ready copy of the counts and ratios. */
  snapshot(): HitStats {
    const ratio = (a: number, b: number): number => (b === 0 ? 0 : a / b);
    const tiers: Record<string, TierStats> = {};
    for (const [t, s] of this.tiers) {
      tiers[t] = { hitTokens: s.hitTokens, lookupsWithHit: s.lookupsWithHit, hitRatio: ratio(s.hitTokens, this.promptTokens) };
    }
    return {
      lookups: this.lookups,
      lookupsWithHit: this.lookupsWithHit,
      promptTokens: this.promptTokens,
      hitTokens: this.hitTokens,
      missTokens: this.promptTokens - this.hitTokens,
      uncacheableTokens: this.uncacheable,
      hitRatio: ratio(this.hitTokens, this.promptTokens),
      cacheableHitRatio: ratio(this.hitTokens, this.promptTokens - this.uncacheable),
      requestHitRatio: ratio(this.lookupsWithHit, this.lookups),
      tiers,
    };
  }
}
