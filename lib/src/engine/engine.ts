/**
 * A small serving engine around the model: for each request it asks the KV connector how many
 * leading tokens are cached, loads them, prefills only the rest, decodes greedily, and saves the
 * prompt's new full blocks. One request at a time per engine (one engine per worker process).
 */
import { argmax } from '../model/inputs';
import type { KVCache } from '../model/kv-cache';
import type { LlamaModel } from '../model/transformer';
import { InvalidInputError } from '../runtime/errors';
import type { KVConnector, LoadResult, MatchResult } from './connector';
import type { ServeRequest } from './types';

/** What happened to one request. Times in milliseconds. */
export interface RequestRecord {
  id: string;
  session?: string;
  tenant?: string;
  promptTokens: number;
  /** Prompt tokens whose KV was loaded from the cache. */
  reusedTokens: number;
  /** Prompt tokens the model computed. */
  computedTokens: number;
  /** Arrival to first generated token: lookup + load + prefill of the rest. */
  ttftMs: number;
  lookupMs: number;
  loadMs: number;
  prefillMs: number;
  decodeMs: number;
  /** Saving new blocks (after the first token, off the TTFT path). */
  saveMs: number;
  bytesLoaded: number;
  bytesSaved: number;
  /** Cache operations that failed and were served by recomputing. */
  fallbacks: number;
  /** Generated token ids. */
  output: number[];
}

export class ServingEngine {
  constructor(
    readonly model: LlamaModel,
    readonly connector: KVConnector,
  ) {}

  /** Serve one request. Cache failures never fail it: they become recompute + a counted fallback. */
  async serve(request: ServeRequest): Promise<RequestRecord> {
    if (!request || !Array.isArray(request.tokens) || request.tokens.length === 0) {
      throw new InvalidInputError('a request needs a non-empty array of prompt tokens');
    }
    if (!Number.isInteger(request.maxNewTokens) || request.maxNewTokens < 1) {
      throw new InvalidInputError(`maxNewTokens must be a positive integer, got ${request.maxNewTokens}`);
    }
    const context = this.model.config.maxContext;
    if (request.tokens.length + request.maxNewTokens - 1 > context) {
      throw new InvalidInputError(`prompt (${request.tokens.length} tokens) + maxNewTokens (${request.maxNewTokens}) exceeds the model's maxContext of ${context} tokens`);
    }
    // Yield one event-loop turn: a caller serving requests back to back would otherwise starve the
    // store client's timers (reconnects) while its circuit breaker is open.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const t0 = performance.now();
    let fallbacks = 0;
    let match: MatchResult;
    try {
      match = await this.connector.getMatchedTokens(request);
      if (match.fallback) fallbacks++;
    } catch {
      match = { matchedTokens: 0, handle: undefined, roundTrips: 0, fallback: true };
      fallbacks++;
    }
    const t1 = performance.now();
    let load: LoadResult = { tokens: 0, bytes: 0, fallbacks: 0 };
    if (match.matchedTokens > 0) {
      try {
        load = await this.connector.load(request, match);
      } catch {
        load = { tokens: 0, bytes: 0, fallbacks: 1 };
      }
      fallbacks += load.fallbacks;
    }
    const t2 = performance.now();
    const past = load.kv;
    const { logits, kv } = await this.model.prefill(request.tokens.slice(load.tokens), past);
    past?.dispose();
    const first = argmax(logits);
    const t3 = performance.now();

    // Save what the cache lacks; the match handle says which blocks those are. A partial load means
    // the blocks after it are missing from the store too.
    let bytesSaved = 0;
    try {
      const saveMatch = load.tokens === match.matchedTokens ? match : { ...match, matchedTokens: load.tokens };
      const saved = await this.connector.save(request, kv, saveMatch);
      bytesSaved = saved.bytes;
      if (saved.failed > 0) fallbacks++;
    } catch {
      fallbacks++;
    }
    const t4 = performance.now();

    const output = [first];
    let cache: KVCache = kv;
    for (let i = 1; i < request.maxNewTokens; i++) {
      const step = await this.model.decodeStep(output[output.length - 1]!, cache);
      cache.dispose();
      cache = step.kv;
      output.push(argmax(step.logits));
    }
    cache.dispose();
    const t5 = performance.now();

    return {
      id: request.id,
      ...(request.session !== undefined ? { session: request.session } : {}),
      ...(request.tenant !== undefined ? { tenant: request.tenant } : {}),
      promptTokens: request.tokens.length,
      reusedTokens: load.tokens,
      computedTokens: request.tokens.length - load.tokens,
      ttftMs: t3 - t0,
      lookupMs: t1 - t0,
      loadMs: t2 - t1,
      prefillMs: t3 - t2,
      decodeMs: t5 - t4,
      saveMs: t4 - t3,
      bytesLoaded: load.bytes,
      bytesSaved,
      fallbacks,
      output,
    };
  }
}
