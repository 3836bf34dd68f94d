/**
 * A small serving engine around the model: for each request it asks the KV connector how many
 * leading tokens are cached, loads them, prefills only the rest, decodes greedily, and saves the
 * prompt's new full blocks. One request at a time per engine (one engine per worker process).
 */
import { argmax, checkTokenId } from '../model/inputs';
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

/**
 * A serving loop over a model and a KV connector: looks the prompt up, loads the cached prefix,
 * prefills the rest, decodes, saves the new blocks, and times each stage.
 */
export class ServingEngine<Handle = unknown> {
  constructor(
    readonly model: LlamaModel,
    readonly connector: KVConnector<Handle>,
  ) {}

  /** Serve one request. Cache failures never fail it: they become recompute + a counted fallback. */
  async serve(request: ServeRequest): Promise<RequestRecord> {
    this.check(request);
    // Yield one event-loop turn: a caller serving requests back to back would otherwise starve the
    // store client's timers (reconnects) while its circuit breaker is open.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const t0 = performance.now();
    const match = await this.lookup(request);
    const t1 = performance.now();
    const load = match ? await this.load(request, match) : NO_LOAD;
    const t2 = performance.now();
    const past = load.kv;
    const { logits, kv } = await this.model.prefill(request.tokens.slice(load.tokens), past);
    past?.dispose();
    const first = argmax(logits);
    const t3 = performance.now();
    // Save what the cache lacks: the blocks after those actually loaded (a partial load means the
    // blocks after it are missing from the store too).
    const saved = match ? await this.save(request, kv, match, load.tokens) : { bytes: 0, fallbacks: 0 };
    const t4 = performance.now();
    const output = await this.decode(first, kv, request.maxNewTokens);
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
      bytesSaved: saved.bytes,
      // One per stage that fell back (lookup, load, save), however many store calls it took.
      fallbacks: (match ? Math.min(1, match.fallbacks) : 1) + Math.min(1, load.fallbacks) + saved.fallbacks,
      output,
    };
  }

  private check(request: ServeRequest): void {
    if (!request || !Array.isArray(request.tokens) || request.tokens.length === 0) {
      throw InvalidInputError.at('request.tokens', 'a non-empty array of prompt token ids', request?.tokens);
    }
    // Checked here, against the whole prompt, so that the error names the caller's index: the
    // model only sees the part after the cached prefix (and the hashing only full blocks).
    const vocabSize = this.model.config.vocabSize;
    request.tokens.forEach((t, i) => checkTokenId(t, vocabSize, `request.tokens[${i}]`));
    if (!Number.isInteger(request.maxNewTokens) || request.maxNewTokens < 1) {
      throw InvalidInputError.at('request.maxNewTokens', 'a positive integer', request.maxNewTokens);
    }
    const context = this.model.config.maxContext;
    if (request.tokens.length + request.maxNewTokens - 1 > context) {
      throw new InvalidInputError({
        path: 'request',
        expected: `prompt tokens + maxNewTokens − 1 ≤ the model's maxContext (${context})`,
        received: `${request.tokens.length} prompt tokens + maxNewTokens ${request.maxNewTokens}`,
        limit: context,
        actual: request.tokens.length + request.maxNewTokens - 1,
      });
    }
  }

  /** The connector's lookup; `undefined` when it threw (counted as one fallback: nothing is loaded or saved). */
  private async lookup(request: ServeRequest): Promise<MatchResult<Handle> | undefined> {
    try {
      return await this.connector.getMatchedTokens(request);
    } catch {
      return undefined;
    }
  }

  private async load(request: ServeRequest, match: MatchResult<Handle>): Promise<LoadResult> {
    if (match.matchedTokens === 0) return NO_LOAD;
    try {
      return await this.connector.load(request, match);
    } catch {
      return { tokens: 0, bytes: 0, fallbacks: 1 };
    }
  }

  private async save(request: ServeRequest, kv: KVCache, match: MatchResult<Handle>, loadedTokens: number): Promise<{ bytes: number; fallbacks: number }> {
    try {
      const saved = await this.connector.save(request, kv, match, loadedTokens);
      // Blocks that could not be written are one fallback for the request, however many they were.
      return { bytes: saved.bytes, fallbacks: saved.fallbacks > 0 || saved.failed > 0 ? 1 : 0 };
    } catch {
      return { bytes: 0, fallbacks: 1 };
    }
  }

  /** Greedy decoding of `maxNewTokens` tokens, the first of which is already chosen. Disposes `kv`. */
  private async decode(first: number, kv: KVCache, maxNewTokens: number): Promise<number[]> {
    const output = [first];
    let cache = kv;
    for (let i = 1; i < maxNewTokens; i++) {
      const step = await this.model.decodeStep(output[output.length - 1]!, cache);
      cache.dispose();
      cache = step.kv;
      output.push(argmax(step.logits));
    }
    cache.dispose();
    return output;
  }
}

const NO_LOAD: LoadResult = { tokens: 0, bytes: 0, fallbacks: 0 };
