/**
 * What the soak does to stored entries: damage them (every kind must be detected by the container
 * checks or the connector's shape check) and forge them without the cache secret.
 */
import { InvalidInputError } from '../runtime/errors';
import type { SeededRng } from '../runtime/rng';
import { HEADER_BYTES, decodeKV, encodeKV, readKVHeader } from '../serde/container';
import { EntryKey } from '../serde/mac';
import { xxh64 } from '../serde/xxh64';

/** Ways `corruption` damages a stored entry; every one must be detected on read. */
export const MUTATIONS = ['flip-byte', 'truncate', 'random-bytes', 'garbage-after-magic', 'append', 'zero-payload', 'header-field', 'other-shape'] as const;
export type MutationKind = (typeof MUTATIONS)[number];


function recomputeHeaderChecksum(buf: Buffer): void {
  buf.writeBigUInt64LE(xxh64(buf, 0n, 0, HEADER_BYTES - 8), HEADER_BYTES - 8);
}

/**
 * What someone without the cache secret can write under a block's key: an entry that names the same
 * block (identity copied from the original's header), with altered values and valid checksums, but
 * no MAC (or one made with another secret) — rejected by a reader that holds the secret.
 */
export function forgeEntry(value: Buffer, rng: SeededRng): Buffer {
  const h = readKVHeader(value);
  const d = decodeKV(value);
  const scale = (a: Float32Array): Float32Array => a.map((x) => x * 1.5 + 0.25);
  const identity = { blockHash: h.blockHash ?? '0'.repeat(64), startPosition: h.startPosition, fingerprint: (h.modelPrefix ?? '').padEnd(64, '0') };
  const withOtherKey = rng.int(2) === 1;
  return encodeKV({ ...d, k: d.k.map(scale), v: d.v.map(scale) }, { dtype: h.dtype, identity, ...(withOtherKey ? { key: EntryKey.fromSecret('a forger who lacks the real secret') } : {}) });
}

/** Whether a stored value is a usable entry for `key` under `entryKey`: MAC, checksums and identity. */
export function usableUnder(value: Buffer, key: string, entryKey: EntryKey): boolean {
  try {
    decodeKV(value, { key: entryKey });
    return readKVHeader(value).blockHash === key.slice(-64);
  } catch {
    return false;
  }
}

/**
 * A damaged copy of a stored entry (a container written by `encodeKV`). Every kind is detectable by
 * the container checks (magic, checksums, lengths) or by the connector's shape check.
 * Another block's *valid* entry of the same shape is the `misplaced-entry` fault (caught by the
 * identity each entry carries since format 3), not a mutation.
 */
export function mutateEntry(value: Buffer, kind: MutationKind, rng: SeededRng): Buffer {
  const len = value.length;
  switch (kind) {
    case 'flip-byte': {
      const out = Buffer.from(value);
      const at = rng.int(len);
      out[at] = out[at]! ^ (1 + rng.int(255));
      return out;
    }
    case 'truncate':
      return Buffer.from(value.subarray(0, rng.int(len)));
    case 'random-bytes': {
      const n = rng.int(2 * len + 1);
      const out = Buffer.alloc(n);
      for (let i = 0; i < n; i++) out[i] = rng.int(256);
      return out;
    }
    case 'garbage-after-magic': {
      const out = Buffer.from(value);
      for (let i = 4; i < len; i++) out[i] = rng.int(256);
      return out;
    }
    case 'append': {
      const extra = Buffer.alloc(1 + rng.int(64));
      for (let i = 0; i < extra.length; i++) extra[i] = rng.int(256);
      return Buffer.concat([value, extra]);
    }
    case 'zero-payload': {
      const out = Buffer.from(value);
      out.fill(0, HEADER_BYTES);
      return out;
    }
    case 'header-field': {
      // Change one shape field and re-seal the header: only the consistency checks can catch it.
      const out = Buffer.from(value);
      const field = [8, 12, 16, 20][rng.int(4)]!;
      const old = out.readUInt32LE(field);
      out.writeUInt32LE(old === 1 ? 2 : old - 1 - rng.int(Math.max(1, old - 1)), field);
      recomputeHeaderChecksum(out);
      return out;
    }
    case 'other-shape': {
      // A perfectly valid entry, but of half the tokens: a block of another size / another model shape.
      const d = decodeKV(value);
      const keep = Math.max(1, d.tokens >> 1);
      const cut = (a: Float32Array): Float32Array => {
        const o = new Float32Array(d.kvHeads * keep * d.headDim);
        for (let h = 0; h < d.kvHeads; h++) o.set(a.subarray(h * d.tokens * d.headDim, (h * d.tokens + keep) * d.headDim), h * keep * d.headDim);
        return o;
      };
      const dtype = (['fp32', 'fp16', 'bf16', 'int8', 'kivi4', 'kivi2'] as const)[value[6]! - 1] ?? 'fp32';
      return encodeKV({ layers: d.layers, kvHeads: d.kvHeads, headDim: d.headDim, tokens: keep, k: d.k.map(cut), v: d.v.map(cut) }, { dtype });
    }
    default:
      throw InvalidInputError.at('kind', `a known mutation: ${MUTATIONS.join(', ')}`, kind);
  }
}

