/**
 * KV connectors, split the way vLLM's KV-connector API splits them:
 * - scheduler side: `getMatchedTokens` — how many leading prompt tokens can be loaded;
 * - worker side: `load` the matched KV, `save` new full blocks after prefill.
 * A connector never throws into a request: any store or decode failure becomes "fewer tokens
 * loaded" (recompute) plus a counted fallback.
 */
import type { KVCache, KVCacheArrays } from '../model/kv-cache';
import { createHmac } from 'node:crypto';
import { ConfigError, ModelMismatchError } from '../runtime/errors';
import { KVCache as KVCacheClass } from '../model/kv-cache';
import type { LlamaModel } from '../model/transformer';
import { createNamespace, type Namespace } from '../hashing/namespace';
import { hashBlocks } from '../hashing/block-hash';
import { longestPrefix } from '../hashing/lookup';
import { assertBlockSize, loadableBlocks } from '../hashing/block-size';
import type { BlockHash } from '../hashing/types';
import { exactPromptKey } from '../hashing/exact-prompt';
import { newCallReport, rejectReasonOf, type KVStore, type StoreHealth } from '../store/types';

/** The secret tenant salts are derived from (`KVLAB_TENANT_SALT_SECRET`), if set. */
export function tenantSaltSecretFromEnv(): string | undefined {
  const s = process.env.KVLAB_TENANT_SALT_SECRET;
  return s === undefined || s === '' ? undefined : s;
}
import type { ServeRequest } from './types';
import { type BlockCodec, sliceArrays } from './codec';
import type { KVArrays } from '../serde/types';

/**
 * The scheduler side's answer for one request: how many leading prompt tokens the worker can load,
 * and the connector's own record of what it found (`handle`), handed back to `load` and `save`.
 */
export interface MatchResult<Handle> {
  /** Leading prompt tokens the worker can load instead of computing. */
  matchedTokens: number;
  /** What the lookup found, in the connector's own terms (e.g. the block hashes of the prompt). */
  handle: Handle;
  /** Round trips the lookup took. */
  roundTrips: number;
  /** Store calls of this lookup that failed and were answered as misses. */
  fallbacks: number;
}

/** What the worker side loaded for one request: the KV of its first `tokens` prompt tokens. */
export interface LoadResult {
  /** KV of the first `tokens` prompt tokens, or undefined when nothing could be loaded. */
  kv?: KVCache;
  tokens: number;
  bytes: number;
  /** Loads that failed (store error, missing or corrupt block): the request recomputes those tokens. */
  fallbacks: number;
}

/** What saving a request's new blocks did. */
export interface SaveResult {
  blocks: number;
  bytes: number;
  /** Blocks that could not be written. */
  failed: number;
  /** Store calls of this save that failed (the blocks stay uncached; nothing is thrown). */
  fallbacks: number;
}

/**
 * Moves KV between a serving engine and a cache, split the way vLLM's KV-connector API splits it.
 * `Handle` is what `getMatchedTokens` learned about a request, handed back to `load` and `save`.
 */
export interface KVConnector<Handle = unknown> {
  readonly name: string;
  /** Scheduler side: how many leading tokens of the prompt the cache holds. Never throws for store failures. */
  getMatchedTokens(request: ServeRequest): Promise<MatchResult<Handle>>;
  /** Worker side: the KV of the matched tokens (or fewer, if blocks vanished or were corrupt). */
  load(request: ServeRequest, match: MatchResult<Handle>): Promise<LoadResult>;
  /**
   * Save what the cache does not hold yet: the prompt's blocks after the first `loadedTokens`.
   * `kv` covers the whole prompt and stays the caller's.
   */
  save(request: ServeRequest, kv: KVCache, match: MatchResult<Handle>, loadedTokens: number): Promise<SaveResult>;
  close(): Promise<void>;
}

/** What a {@link PrefixCacheConnector} found: the prompt's chained block hashes under its tenant's namespace. */
export interface PrefixMatchHandle {
  readonly namespace: Namespace;
  /** One hash per full block of the prompt (the last, partial block has none). */
  readonly hashes: readonly BlockHash[];
}

/** What an {@link ExactPromptConnector} found: the key of the whole prompt. */
export interface ExactMatchHandle {
  readonly key: string;
}

const NO_LOAD: LoadResult = { tokens: 0, bytes: 0, fallbacks: 0 };
const NO_SAVE: SaveResult = { blocks: 0, bytes: 0, failed: 0, fallbacks: 0 };

/** No cache: every request computes its whole prompt. The baseline. */
export class NoCacheConnector implements KVConnector<null> {
  readonly name = 'no-cache';
  async getMatchedTokens(): Promise<MatchResult<null>> {
    return { matchedTokens: 0, handle: null, roundTrips: 0, fallbacks: 0 };
  }
  async load(): Promise<LoadResult> {
    return NO_LOAD;
  }
  async save(): Promise<SaveResult> {
    return NO_SAVE;
  }
  async close(): Promise<void> {}
}

/** Options of a {@link PrefixCacheConnector}: block size, tenant salts, its name in results. */
export interface PrefixConnectorOptions {
  /**
   * Tokens per block.
   * @default 16
   */
  blockSize?: number;
  /**
   * Secret per-tenant salts, by tenant name (from configuration, never from the request): a
   * tenant's requests hash under its own namespace, so no tenant can find — or time — another's
   * entries. @default {}
   */
  salts?: Record<string, string>;
  /**
   * A secret from which each tenant without an entry in `salts` gets its salt (HMAC-SHA256 of the
   * tenant's name): secret salts without listing every tenant. At least 16 characters.
   * @default process.env.KVLAB_TENANT_SALT_SECRET (none when unset)
   */
  saltSecret?: string;
  /**
   * The explicit "no secrecy" choice: a tenant with no configured salt is salted with its own
   * name. Tenants then never share entries by accident, but anyone who can list the store's keys
   * can test guesses of another tenant's prompts by hashing them; `health()` warns while it is in
   * use. Off: a request of an unconfigured tenant is refused by the lookup (a fallback: computed,
   * never cached). @default false
   */
  nameDerivedSalts?: boolean;
  /** Name shown in results. */
  name?: string;
}

/** The defaults of {@link PrefixConnectorOptions}: 16-token blocks, no name-derived salts. */
export const DEFAULT_PREFIX_CONNECTOR_OPTIONS = { blockSize: 16, nameDerivedSalts: false } as const;

function asBuffer(b: Buffer | Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** A stored block must have exactly the model's KV shape; anything else is treated as corrupt. */
function checkBlockShape(part: KVCacheArrays, model: LlamaModel, tokens: number): void {
  const c = model.config;
  const got = { layers: part.layers.length, numKvHeads: part.numKvHeads, tokens: part.tokens, headDim: part.headDim };
  const want = { layers: c.numLayers, numKvHeads: c.numKvHeads, tokens, headDim: c.headDim };
  const field = (Object.keys(want) as (keyof typeof want)[]).find((f) => got[f] !== want[f]);
  if (field !== undefined) {
    const shape = (s: typeof want): string => `${s.layers}×[${s.numKvHeads}, ${s.tokens}, ${s.headDim}]`;
    throw new ModelMismatchError({ path: `block.${field}`, expected: `shape ${shape(want)} (the model's)`, received: shape(got) });
  }
}

/**
 * Block-prefix cache over any {@link KVStore}: chained block hashes, one batched lookup, load of
 * the longest cached prefix, save of the prompt's new full blocks (one store value per block).
 */
export class PrefixCacheConnector implements KVConnector<PrefixMatchHandle> {
  readonly name: string;
  private readonly blockSize: number;
  private readonly namespaces = new Map<string, Namespace>();
  /** Tenants salted with their names (the "no secrecy" choice), for the health warning. */
  private readonly nameDerived = new Set<string>();

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

  /**
   * The namespace a tenant's requests hash under: its configured salt, a salt derived from
   * `saltSecret`, or — only with `nameDerivedSalts` — its name. No tenant: the shared namespace.
   * @throws ConfigError for a tenant with no salt when name-derived salts are not allowed
   */
  namespaceFor(tenant: string | undefined): Namespace {
    const key = tenant ?? '';
    let ns = this.namespaces.get(key);
    if (!ns) {
      const salt = tenant === undefined ? undefined : this.saltOf(tenant);
      ns = createNamespace({
        modelFingerprint: this.model.fingerprint,
        kvDtype: this.codec.namespaceDtype,
        kvFormatVersion: this.codec.formatVersion,
        blockSize: this.blockSize,
        ...(salt !== undefined ? { salt } : {}),
      });
      this.namespaces.set(key, ns);
    }
    return ns;
  }

  private saltOf(tenant: string): string {
    const configured = this.options.salts?.[tenant];
    if (configured !== undefined) return configured;
    const secret = this.options.saltSecret ?? tenantSaltSecretFromEnv();
    if (secret !== undefined) {
      if (secret.length < 16) throw new ConfigError({ path: 'saltSecret', expected: 'at least 16 characters', received: `${secret.length} characters` });
      return createHmac('sha256', secret).update(`kvcache-lab tenant salt v1\0${tenant}`).digest('hex');
    }
    if (this.options.nameDerivedSalts ?? DEFAULT_PREFIX_CONNECTOR_OPTIONS.nameDerivedSalts) {
      this.nameDerived.add(tenant);
      return `tenant:${tenant}`;
    }
    throw new ConfigError({
      path: `salts[${JSON.stringify(tenant)}]`,
      expected: 'a secret salt for this tenant (salts, saltSecret or KVLAB_TENANT_SALT_SECRET)',
      received: 'none',
      hint: 'Or set nameDerivedSalts: true to salt tenants with their names (no secrecy)',
    });
  }

  /** The store's health, plus what this connector's configuration risks. */
  async health(): Promise<StoreHealth> {
    const h = await this.store.health();
    if (this.nameDerived.size === 0) return h;
    const names = [...this.nameDerived].slice(0, 5).join(', ');
    return {
      ...h,
      warnings: [
        ...h.warnings,
        `tenant salts derived from tenant names (${names}${this.nameDerived.size > 5 ? ', …' : ''}): no secrecy — anyone who can list keys can test guesses of these tenants' prompts; configure secret salts`,
      ],
    };
  }

  async getMatchedTokens(request: ServeRequest): Promise<MatchResult<PrefixMatchHandle>> {
    const namespace = this.namespaceFor(request.tenant);
    const hashes = hashBlocks(request.tokens, namespace);
    const usable = hashes.slice(0, loadableBlocks(request.tokens.length, this.blockSize));
    const report = newCallReport();
    const found = await longestPrefix(this.store, usable, { blockSize: this.blockSize, presenceOptions: { report } });
    this.store.recordTokens(this.store.tier, found.matchedTokens, request.tokens.length - found.matchedTokens);
    return { matchedTokens: found.matchedTokens, handle: { namespace, hashes }, roundTrips: found.roundTrips, fallbacks: report.fallbacks };
  }

  async load(_request: ServeRequest, match: MatchResult<PrefixMatchHandle>): Promise<LoadResult> {
    const hashes = match.handle.hashes.slice(0, match.matchedTokens / this.blockSize);
    if (hashes.length === 0) return NO_LOAD;
    const { numLayers, numKvHeads: heads, headDim: dim } = this.model.config;
    const B = this.blockSize;
    const total = hashes.length * B;
    // The prefix's KV, [heads, tokens, dim] per layer; each block is decoded (and checked) as soon as
    // it arrives — its bytes lent by the store, reused once we return — straight into its rows, while
    // the next blocks are still on the wire.
    const joined = Array.from({ length: numLayers }, () => ({ keys: new Float32Array(heads * total * dim), values: new Float32Array(heads * total * dim) }));
    const into: KVArrays = { k: joined.map((l) => l.keys), v: joined.map((l) => l.values) };
    const errors: (Error | undefined)[] = [];
    const sizes: number[] = [];
    const report = newCallReport();
    const found = await this.store.stream(
      hashes,
      (i, v) => {
        try {
          this.codec.decodeInto(v, { blockHash: hashes[i]!, startPosition: i * B, fingerprint: this.model.fingerprint }, into, { tokens: total, start: i * B, blockTokens: B });
        } catch (err) {
          errors[i] = err instanceof Error ? err : new Error(String(err));
          return;
        }
        sizes[i] = v.length;
      },
      { report },
    );
    let loaded = 0;
    let bytes = 0;
    let fallbacks = report.fallbacks;
    for (; loaded < hashes.length; loaded++) {
      if (!found[loaded]) {
        if (report.fallbacks === 0) fallbacks++; // evicted between lookup and load: recompute from here
        break;
      }
      const err = errors[loaded];
      if (err) {
        fallbacks++; // unusable entry: a miss from here on, counted by reason, and gone from the store
        this.store.recordRejected(rejectReasonOf(err) ?? 'corrupt');
        await this.store.delete([hashes[loaded]!]);
        break;
      }
      bytes += sizes[loaded]!;
    }
    if (loaded === 0) return { tokens: 0, bytes, fallbacks };
    const arrays: KVCacheArrays = { fingerprint: this.model.fingerprint, startPosition: 0, tokens: total, numKvHeads: heads, headDim: dim, layers: joined };
    const kv = KVCacheClass.fromArrays(loaded === hashes.length ? arrays : sliceArrays(arrays, 0, loaded * B));
    return { kv, tokens: kv.tokens, bytes, fallbacks };
  }

  async save(_request: ServeRequest, kv: KVCache, match: MatchResult<PrefixMatchHandle>, loadedTokens: number): Promise<SaveResult> {
    const { hashes } = match.handle;
    const firstNew = Math.floor(loadedTokens / this.blockSize);
    if (hashes.length <= firstNew) return NO_SAVE;
    const arrays = kv.toArrays();
    const entries = [];
    // Last block first: an LRU store then holds the chain's first blocks as the most recent ones,
    // and evicts a prompt's tail before the prefix that other requests share.
    for (let b = hashes.length - 1; b >= firstNew; b--) {
      entries.push({ hash: hashes[b]!, value: this.codec.encode(sliceArrays(arrays, b * this.blockSize, (b + 1) * this.blockSize), hashes[b]!) });
    }
    const report = newCallReport();
    const result = await this.store.put(entries, { report });
    return { blocks: result.stored, bytes: result.bytesWritten, failed: result.failed, fallbacks: report.fallbacks };
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
export class ExactPromptConnector implements KVConnector<ExactMatchHandle> {
  readonly name = 'exact-prompt';
  private readonly namespace: Namespace;
  constructor(
    private readonly model: LlamaModel,
    readonly store: KVStore,
    private readonly codec: BlockCodec,
  ) {
    this.namespace = createNamespace({ modelFingerprint: model.fingerprint, kvDtype: codec.namespaceDtype, kvFormatVersion: codec.formatVersion });
  }

  private key(request: ServeRequest): string {
    // exactPromptKey hashes a string; the tenant and the token ids joined by commas are an unambiguous one.
    return exactPromptKey(`${request.tenant ?? ''}|${request.tokens.join(',')}`, this.namespace);
  }

  async getMatchedTokens(request: ServeRequest): Promise<MatchResult<ExactMatchHandle>> {
    const key = this.key(request);
    const report = newCallReport();
    const [hit] = await this.store.has([key], { report });
    const matched = hit ? request.tokens.length - 1 : 0;
    this.store.recordTokens(this.store.tier, matched, request.tokens.length - matched);
    return { matchedTokens: matched, handle: { key }, roundTrips: 1, fallbacks: report.fallbacks };
  }

  async load(request: ServeRequest, match: MatchResult<ExactMatchHandle>): Promise<LoadResult> {
    if (match.matchedTokens === 0) return NO_LOAD;
    const report = newCallReport();
    const [value] = await this.store.get([match.handle.key], { report });
    if (value === undefined) return { tokens: 0, bytes: 0, fallbacks: Math.max(1, report.fallbacks) };
    try {
      const all = this.codec.decode(value, { blockHash: match.handle.key, startPosition: 0, fingerprint: this.model.fingerprint });
      checkBlockShape(all, this.model, request.tokens.length);
      const kv = KVCacheClass.fromArrays(sliceArrays(all, 0, match.matchedTokens));
      return { kv, tokens: kv.tokens, bytes: value.byteLength, fallbacks: 0 };
    } catch (err) {
      this.store.recordRejected(rejectReasonOf(err) ?? 'corrupt');
      await this.store.delete([match.handle.key]);
      return { tokens: 0, bytes: 0, fallbacks: 1 };
    }
  }

  async save(_request: ServeRequest, kv: KVCache, match: MatchResult<ExactMatchHandle>, loadedTokens: number): Promise<SaveResult> {
    if (loadedTokens > 0) return NO_SAVE;
    const value = asBuffer(this.codec.encode(kv.toArrays(), match.handle.key));
    if (value.byteLength > this.store.maxValueBytes) return { blocks: 0, bytes: 0, failed: 1, fallbacks: 0 };
    const report = newCallReport();
    const r = await this.store.put([{ hash: match.handle.key, value }], { report });
    return { blocks: r.stored, bytes: r.bytesWritten, failed: r.failed, fallbacks: report.fallbacks };
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}
