import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BlockHash, BlockPresence, NamespaceSpec } from '../../lib/src/hashing';

/** A BlockPresence over an in-memory Set that counts its calls (lookup must make exactly one). */
export class SetPresence implements BlockPresence {
  readonly keys = new Set<BlockHash>();
  calls = 0;
  asked: (readonly BlockHash[])[] = [];
  constructor(hashes: Iterable<BlockHash> = []) {
    for (const h of hashes) this.keys.add(h);
  }
  async has(hashes: readonly BlockHash[]): Promise<boolean[]> {
    this.calls++;
    this.asked.push([...hashes]);
    return hashes.map((h) => this.keys.has(h));
  }
}

export const FINGERPRINT = 'ab'.repeat(32);

export const BASE_SPEC: NamespaceSpec = { modelFingerprint: FINGERPRINT, kvDtype: 'fp16', kvFormatVersion: 1 };

export interface Fixture {
  namespaceEncodingVersion: number;
  namespaces: Record<string, { spec: NamespaceSpec; encodingHex: string; hash: string; id: string; blockSize: number }>;
  sequences: Record<string, number[]>;
  chains: { namespace: string; sequence: string; hashes: string[] }[];
  exactPrompt: { prompt: string; namespace: string | null; key: string }[];
  minhash: {
    name: string;
    tokens: number[];
    options?: { numHashes: number; bands: number; shingleSize: number; seed: number };
    shingles: number[];
    signature: number[];
  }[];
}

export const FIXTURE_DIR = path.join(__dirname, '..', 'fixtures', 'hashing');

export function loadFixture(): Fixture {
  return JSON.parse(fs.readFileSync(path.join(FIXTURE_DIR, 'block-hashes.json'), 'utf8')) as Fixture;
}

/** Deterministic token ids for tests (an LCG: no dependence on the library under test). */
export function tokensFrom(seed: number, n: number, vocab = 50_000): number[] {
  const out: number[] = [];
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out.push(x % vocab);
  }
  return out;
}
