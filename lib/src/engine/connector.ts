/**
 * KV connectors, split the way vLLM's KV-connector API splits them:
 * - scheduler side: `getMatchedTokens` — how many leading prompt tokens can be loaded;
 * - worker side: `load` the matched KV, `save` new full blocks after prefill.
 * A connector never throws into a request: any store or decode failure becomes "fewer tokens
 * loaded" (recompute) plus a counted fallback.
 */
import type { KVCache, KVCacheArrays } from '../model/kv-cache';
import { ModelMismatchError } from '../runtime/errors';
import { KVCache as KVCacheClass } from '../model/kv-cache';
import type { LlamaModel } from '../model/transformer';
import { createNamespace, type Namespace } from '../hashing/namespace';
import { hashBlocks } from '../hashing/block-hash';
import { longestPrefix } from '../hashing/lookup';
import { assertBlockSize } from '../hashing/block-size';
import { exactPromptKey } from '../hashing/exact-prompt';
import type { KVStore } from '../store/types';
import type { ServeRequest } from './types';
import { type BlockCodec, joinArrays, sliceArrays } from './codec';

export interface MatchResult {
  /** Leading prompt tokens the worker can load instead of computing. */
  matchedTokens: number;
  /** Connector-specific data passed on to `load` and `save`. */
  handle: unknown;
  /** Round trips the lookup took. */
  roundTrips: number;
  /** Whether the lookup failed and was treated as a miss. */
  fallback: boolean;
}

export interface LoadResult {
  /** KV of the first `tokens` prompt tokens, or undefined when nothing could be loaded. */
  kv?: KVCache;
  tokens: number;
  bytes: number;
  /** Loads that failed (missing / corrupt block): the request recomputes those tokens. */
  fallbacks: number;
}

export interface SaveResult {
  blocks: number;
  bytes: number;
  failed: number;
}

export interface KVConnector {
  readonly name: string;
  getMatchedTokens(request: ServeRequest): Promise<MatchResult>;
  load(request: ServeRequest, match: MatchResult): Promise<LoadResult>;
  /** Save what the cache does not hold yet. `kv` covers the whole prompt and stays the caller's. */
  save(request: ServeRequest, kv: KVCache, match: MatchResult): Promise<SaveResult>;
  close(): Promise<void>;
}

const NO_LOAD: LoadResult = { tokens: 0, bytes: 0, fallbacks: 0 };
const NO_SAVE: SaveResult = { blocks: 0, bytes: 0, failed: 0 };

/** No cache: every request computes its whole prompt. The baseline. */
export class NoCacheConnector implements KVConnector {
  readonly name = 'no-cache';
  async getMatchedTokens(): Promise<MatchResult> {
    return { matchedTokens: 0, handle: undefined, roundTrips: 0, fallback: false };
  }
  async load(): Promise<LoadResult> {
    return NO_LOAD;
  }
  async save(): Promise<SaveResult> {
    return NO_SAVE;
  }
  async close(): Promise<void> {}
}

export interface PrefixConnectorOptions {
  /**
   * Tokens per block.
   * @default 16
   */
  blockSize?: number;
  /**
   * Tenant salts, by tenant name: requests of a tenant hash under its own namespace. A tenant without
   * an entry is salted with its own name, so tenants never share entries by accident (fail closed).
   */
  salts?: Record<string, string>;
  /** Name shown in results. */
  name?: string;
}

export const DEFAULT_PREFIX_CONNECTOR_OPTIONS = { blockSize: 16 } as const;

function asBuffer(b: Buffer | Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** A stored block must have exactly the model's KV shape; anything else is treated as corrupt. */
function checkBlockShape(part: KVCacheArrays, model: LlamaModel, tokens: number): void {
  const c = model.config;
  if (part.layers.length !== c.numLayers || part.numKvHeads !== c.numKvHeads || part.headDim !== c.headDim || part.tokens !== tokens) {
    throw new ModelMismatchError(`stored block has shape ${part.layers.length}×[${part.numKvHeads}, ${part.tokens}, ${part.headDim}], the model needs ${c.numLayers}×[${c.numKvHeads}, ${tokens}, ${c.headDim}]`);
  }
}

/** At least one prompt token is always computed: the engine needs the logits of the last one. */
function loadableTokens(promptTokens: number, blockSize: number): number {
  return Math.floor(Math.max(0, promptTokens - 1) / blockSize) * blockSize;
}

/**
 * Block-prefix cache over any {@link KVStore}: chained block hashes, one batched lookup, load of
 * the longest cached prefix, save of the prompt's new full blocks (one store value per block).
 */
export class PrefixCacheConnector implements KVConnector {
  readonly name: string;
  private readonly blockSize: number;
  private readonly namespaces = new Map<string, Namespace>();

  constructor(
    private readonly model: LlamaModel,
    readonly store: KVStore,
    private readonly codec: BlockCodec,
    private readonly options: PrefixConnectorOptions = {},
  ) {
    this.blockSize = options.blockSize ?? DEFAULT_PREFIX_CONNECTOR_OPTIONS.blockSize;
    assertBlockSize(this.blockSize);
    this.name = options.name ?? `prefix-${store.tier}`;
  }

  namespaceFor(tenant: string | undefined): Namespace {
    const key = tenant ?? '';
    let ns = this.namespaces.get(key);
    if (!ns) {
      const salt = tenant !== undefined ? (this.options.salts?.[tenant] ?? `tenant:${tenant}`) : undefined;
      ns = createNamespace({
        modelFingerprint: this.model.fingerprint,
        kvDtype: this.codec.dtype,
        kvFormatVersion: this.codec.formatVersion,
        blockSize: this.blockSize,
        ...(salt !== undefined ? { salt } : {}),
      });
      this.namespaces.set(key, ns);
    }
    return ns;
  }

  async getMatchedTokens(request: ServeRequest): Promise<MatchResult> {
    const ns = this.namespaceFor(request.tenant);
    const hashes = hashBlocks(request.tokens, ns);
    const usable = hashes.slice(0, loadableTokens(request.tokens.length, this.blockSize) / this.blockSize);
    const fallbacksBefore = this.store.stats().fallbacks;
    const found = await longestPrefix(this.store, usable, { blockSize: this.blockSize });
    const fallback = this.store.stats().fallbacks > fallbacksBefore;
    this.store.recordTokens(this.store.tier, found.matchedTokens, request.tokens.length - found.matchedTokens);
    return { matchedTokens: found.matchedTokens, handle: hashes, roundTrips: found.roundTrips, fallback };
  }

  async load(request: ServeRequest, match: MatchResult): Promise<LoadResult> {
    const hashes = (match.handle as string[]).slice(0, match.matchedTokens / this.blockSize);
    if (hashes.length === 0) return NO_LOAD;
    // Each block is decoded as soon as it arrives, while the next ones are still on the wire.
    const decoded: (KVCacheArrays | Error | undefined)[] = [];
    const decode = (i: number, v: Buffer): KVCacheArrays | Error => {
      try {
        const part = this.codec.decode(v, this.model.fingerprint, i * this.blockSize);
        checkBlockShape(part, this.model, this.blockSize);
        return part;
      } catch (err) {
        return err as Error;
      }
    };
    const values = await this.store.get(hashes, { onValue: (i, v) => (decoded[i] = decode(i, v)) });
    const parts = [];
    let bytes = 0;
    let fallbacks = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v === undefined) {
        fallbacks++; // evicted or failed between lookup and load: recompute from here
        break;
      }
      const part = decoded[i] ?? decode(i, v);
      if (part instanceof Error) {
        fallbacks++; // corrupt entry: a miss from here on, and gone from the store
        await this.store.delete([hashes[i]!]);
        break;
      }
      parts.push(part);
      bytes += v.byteLength;
    }
    if (parts.length === 0) return { tokens: 0, bytes, fallbacks };
    const kv = KVCacheClass.fromArrays(joinArrays(parts));
    return { kv, tokens: kv.tokens, bytes, fallbacks };
  }

  async save(request: ServeRequest, kv: KVCache, match: MatchResult): Promise<SaveResult> {
    const hashes = match.handle as string[];
    const firstNew = match.matchedTokens / this.blockSize;
    if (hashes.length <= firstNew) return NO_SAVE;
    const arrays = kv.toArrays();
    const entries = [];
    for (let b = firstNew; b < hashes.length; b++) {
      entries.push({ hash: hashes[b]!, value: this.codec.encode(sliceArrays(arrays, b * this.blockSize, (b + 1) * this.blockSize)) });
    }
    const result = await this.store.put(entries);
    return { blocks: result.stored, bytes: result.bytesWritten, failed: result.failed };
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}

/**
 * The seed project's approach, kept as a baseline: one key per whole prompt (SHA-256 of its
 * tokens), one value with the prompt's whole KV. A hit needs the identical prompt; a prompt that
 * extends a cached one reuses nothing.
 */
export class ExactPromptConnector implements KVConnector {
  readonly name = 'exact-prompt';
  private readonly namespace: Namespace;
  constructor(
    private readonly model: LlamaModel,
    readonly store: KVStore,
    private readonly codec: BlockCodec,
  ) {
    this.namespace = createNamespace({ modelFingerprint: model.fingerprint, kvDtype: codec.dtype, kvFormatVersion: codec.formatVersion });
  }

  private key(request: ServeRequest): string {
    // exactPromptKey hashes a string; the tenant and the token ids joined by commas are an unambiguous one.
    return exactPromptKey(`${request.tenant ?? ''}|${request.tokens.join(',')}`, this.namespace);
  }

  async getMatchedTokens(request: ServeRequest): Promise<MatchResult> {
    const key = this.key(request);
    const fallbacksBefore = this.store.stats().fallbacks;
    const [hit] = await this.store.has([key]);
    const matched = hit ? request.tokens.length - 1 : 0;
    this.store.recordTokens(this.store.tier, matched, request.tokens.length - matched);
    return { matchedTokens: matched, handle: key, roundTrips: 1, fallback: this.store.stats().fallbacks > fallbacksBefore };
  }

  async load(request: ServeRequest, match: MatchResult): Promise<LoadResult> {
    if (match.matchedTokens === 0) return NO_LOAD;
    const [value] = await this.store.get([match.handle as string]);
    if (value === undefined) return { tokens: 0, bytes: 0, fallbacks: 1 };
    try {
      const all = this.codec.decode(value, this.model.fingerprint, 0);
      checkBlockShape(all, this.model, request.tokens.length);
      const kv = KVCacheClass.fromArrays(sliceArrays(all, 0, match.matchedTokens));
      return { kv, tokens: kv.tokens, bytes: value.byteLength, fallbacks: 0 };
    } catch {
      await this.store.delete([match.handle as string]);
      return { tokens: 0, bytes: 0, fallbacks: 1 };
    }
  }

  async save(_request: ServeRequest, kv: KVCache, match: MatchResult): Promise<SaveResult> {
    if (match.matchedTokens > 0) return NO_SAVE;
    const value = asBuffer(this.codec.encode(kv.toArrays()));
    if (value.byteLength > this.store.maxValueBytes) return { blocks: 0, bytes: 0, failed: 1 };
    const r = await this.store.put([{ hash: match.handle as string, value }]);
    return { blocks: r.stored, bytes: r.bytesWritten, failed: r.failed };
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}
