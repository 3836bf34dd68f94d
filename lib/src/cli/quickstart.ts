/**
 * `kvlab quickstart`: a five-minute terminal tour. Builds the model, sends requests that share a
 * long system prompt through the engine without a cache and with a Redis block-prefix cache, and
 * prints what it measured.
 */
import { LlamaModel } from '../model/transformer';
import { Tokenizer } from '../model/tokenizer';
import { serdeBlockCodec } from '../engine/codec';
import { NoCacheConnector, PrefixCacheConnector } from '../engine/connector';
import { ServingEngine, type RequestRecord } from '../engine/engine';
import type { ServeRequest } from '../engine/types';
import { makeWorkload } from '../bench/workloads';
import { quantile } from '../bench/stats';
import { createStore } from '../store/factory';
import { startEmbeddedRedis } from '../store/embedded-redis';
import { initBackend } from '../runtime/backend';
import { sized, redisUrlFromEnv } from '../runtime/env';
import { tableToText } from '../notebook/table';
import { redactStoreUrl } from '../store/url';

export interface QuickstartReport {
  backend: string;
  preset: string;
  requests: number;
  sharedTokens: number;
  withoutCache: RequestRecord[];
  withCache: RequestRecord[];
}

const say = (s = ''): void => {
  process.stdout.write(`${s}\n`);
};

export async function quickstart(redisUrl?: string): Promise<QuickstartReport> {
  const t0 = performance.now();
  const backend = await initBackend();
  say(`1. TensorFlow.js backend: ${backend.backend}`);
  const preset = sized<'tiny' | 'default'>('tiny', 'default');
  const model = await LlamaModel.create(preset, { seed: 0 });
  say(`2. Model '${preset}': ${model.config.numLayers} layers, ${model.config.numHeads} heads (${model.config.numKvHeads} KV heads), fingerprint ${model.fingerprint.slice(0, 12)}…`);
  const tokenizer = new Tokenizer();
  const requests: ServeRequest[] = makeWorkload('chat', (t) => tokenizer.encode(t), { requests: sized(6, 12), sharedTokens: sized(256, 1536), sessions: 3, maxNewTokens: 4 });
  const shared = requests[0]!.tokens.length;
  say(`3. ${requests.length} chat requests sharing a system prompt (the first prompt has ${shared} tokens)`);

  let embedded: Awaited<ReturnType<typeof startEmbeddedRedis>> | undefined;
  const url = redisUrl ?? redisUrlFromEnv() ?? (embedded = await startEmbeddedRedis()).url;
  say(`4. Redis: ${redactStoreUrl(url)}${embedded ? ' (embedded, stopped at the end)' : ''}`);
  const store = await createStore(url, { namespace: `quickstart-${Date.now().toString(36)}` });
  try {
    const warm = new ServingEngine(model, new NoCacheConnector());
    await warm.serve(requests[0]!);
    const serveAll = async (engine: ServingEngine): Promise<RequestRecord[]> => {
      const out: RequestRecord[] = [];
      for (const r of requests) out.push(await engine.serve(r));
      return out;
    };
    say('5. Serving without a cache, then with a block-prefix cache in Redis …');
    const withoutCache = await serveAll(new ServingEngine(model, new NoCacheConnector()));
    const withCache = await serveAll(new ServingEngine(model, new PrefixCacheConnector(model, store, serdeBlockCodec())));
    say();
    say(tableToText(requests.map((r, i) => ({
      request: r.id,
      'prompt tokens': r.tokens.length,
      'TTFT no cache (ms)': withoutCache[i]!.ttftMs,
      'TTFT with cache (ms)': withCache[i]!.ttftMs,
      'tokens reused': withCache[i]!.reusedTokens,
      'same output': withoutCache[i]!.output.join() === withCache[i]!.output.join() ? 'yes' : 'NO',
    }))));
    const reused = withCache.reduce((a, r) => a + r.reusedTokens, 0);
    const prompt = withCache.reduce((a, r) => a + r.promptTokens, 0);
    const p50a = quantile(withoutCache.map((r) => r.ttftMs), 0.5);
    const p50b = quantile(withCache.map((r) => r.ttftMs), 0.5);
    say();
    say(`Hit rate in tokens: ${reused} of ${prompt} prompt tokens (${((100 * reused) / prompt).toFixed(0)} %) came from Redis.`);
    say(`Median TTFT: ${p50a.toFixed(1)} ms without the cache, ${p50b.toFixed(1)} ms with it (${(p50a / p50b).toFixed(1)}× on this machine, this run).`);
    say(`Redis now holds ${store.stats().stored} KV blocks of 16 tokens.`);
    say();
    say(`Done in ${((performance.now() - t0) / 1000).toFixed(0)} s. Next: \`npm start\` and open notebooks/00_start_here.ipynb.`);
    return { backend: backend.backend, preset, requests: requests.length, sharedTokens: shared, withoutCache, withCache };
  } finally {
    await store.close();
    model.dispose();
    await embedded?.stop();
  }
}
