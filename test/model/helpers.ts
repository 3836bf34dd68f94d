import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import type { LlamaModel, ModelConfig } from '../../lib/src/model';
import type { ErrorDetails } from '../../lib/src/runtime/errors';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const FIXTURE_DIR = path.join(REPO_ROOT, 'test', 'fixtures', 'model', 'tiny');

/**
 * Tolerances, as max |a - b| over all logits (logits here are O(1), at most ~5 in magnitude):
 * - SAME_MODEL_TOLERANCE: one float32 model computing the same thing two ways (with or without the
 *   KV cache, prefix + suffix vs whole, different prefill chunking). Only summation order differs;
 *   observed differences are 2–5e-6 (tiny and default presets).
 * - REFERENCE_TOLERANCE: float32 TensorFlow.js vs the float64 numpy reference. Observed ~2e-6.
 */
export const SAME_MODEL_TOLERANCE = 1e-4;
export const REFERENCE_TOLERANCE = 1e-4;

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'arrays differ in length');
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs((a[i] as number) - (b[i] as number));
    if (!(d <= m)) m = d; // NaN propagates as a failure
  }
  return m;
}

export function assertClose(a: ArrayLike<number>, b: ArrayLike<number>, tolerance: number, label: string): void {
  const d = maxAbsDiff(a, b);
  assert.ok(d <= tolerance, `${label}: max |diff| ${d} exceeds ${tolerance}`);
}

/** Assert that `fn` throws/rejects a KVLabError with the given stable code (and optionally a message pattern and some of its details). */
export async function expectCode(fn: () => unknown, code: string, message?: RegExp, details?: ErrorDetails): Promise<void> {
  let caught: unknown;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof Error, `expected an error with code ${code}, nothing was thrown`);
  assert.equal((caught as { code?: string }).code, code, `expected code ${code}, got ${(caught as { code?: string }).code}: ${caught.message}`);
  if (message) assert.match(caught.message, message);
  // The fields named in `details` must equal the error's structured details.
  const got = (caught as { details?: ErrorDetails }).details ?? {};
  for (const [k, v] of Object.entries(details ?? {})) assert.deepEqual(got[k as keyof ErrorDetails], v, `details.${k} of "${caught.message}"`);
}

/** A small config with a tiny vocabulary for fast variations (GQA shapes, short contexts). */
export function smallConfig(overrides: Partial<ModelConfig> = {}): ModelConfig {
  return {
    name: 'small-test',
    vocabSize: 97,
    hiddenSize: 32,
    intermediateSize: 64,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    headDim: 8,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    maxContext: 256,
    tieWordEmbeddings: false,
    ...overrides,
  };
}

/** Deterministic pseudo-random token ids (no Math.random). */
export function tokenIds(count: number, vocabSize: number, salt = 1): number[] {
  return Array.from({ length: count }, (_, i) => (i * 7919 + salt * 104729 + ((i * i) % 13)) % vocabSize);
}

/** What the numpy reference (scripts/reference/llama_reference.py) writes: logits after every prompt prefix, then greedy tokens and their logits. */
export interface Reference {
  promptTokens: number[];
  promptLogits: number[][];
  greedyTokens: number[];
  greedyLogits: number[][];
}

/** Compare a model against a reference.json: logits after every prompt prefix, then greedy tokens and their logits. */
export async function checkAgainstReference(model: LlamaModel, ref: Reference): Promise<number> {
  let worst = 0;
  for (let n = 1; n <= ref.promptTokens.length; n++) {
    const { logits, kv } = await model.prefill(ref.promptTokens.slice(0, n));
    kv.dispose();
    worst = Math.max(worst, maxAbsDiff(logits, ref.promptLogits[n - 1]!));
  }
  const generated = await model.generate(ref.promptTokens, ref.greedyTokens.length, { returnLogits: true });
  assert.deepEqual(generated.tokens, ref.greedyTokens);
  generated.logits!.forEach((l, i) => (worst = Math.max(worst, maxAbsDiff(l, ref.greedyLogits[i]!))));
  assert.ok(worst <= REFERENCE_TOLERANCE, `max |Δlogit| vs numpy reference: ${worst}`);
  return worst;
}
