import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { SeededRng } from '../../lib/src/runtime';
import { CODECS, DTYPES, HEADER_BYTES, type KVBlockData, decodeKV, encodeKV, syntheticKV } from '../../lib/src/serde';
import { expectKVError, reseal } from './helpers';

const TYPED = ['CORRUPT_ENTRY', 'UNSUPPORTED_FORMAT'] as const;
const MAGIC = [0x89, 0x4b, 0x56, 0x42];

function randomBytes(rng: SeededRng, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = rng.int(256);
  return b;
}

/** A decoded block must at least be internally consistent. */
function assertWellFormed(block: KVBlockData): void {
  const n = block.kvHeads * block.tokens * block.headDim;
  assert.equal(block.k.length, block.layers);
  assert.equal(block.v.length, block.layers);
  for (const a of [...block.k, ...block.v]) assert.equal(a.length, n);
}

describe('serde: fuzz', () => {
  it('random byte strings never crash and never decode (seeded, 6000 inputs)', () => {
    const rng = new SeededRng(1234);
    for (let i = 0; i < 6000; i++) {
      const len = rng.int(i < 3000 ? 120 : 600);
      const b = randomBytes(rng, len);
      const mode = i % 4;
      // Most random strings die at the magic bytes; give the deeper checks a chance too.
      if (mode >= 1) MAGIC.forEach((m, j) => j < len && (b[j] = m));
      if (mode >= 2 && len >= 6) b.writeUInt16LE(1, 4);
      if (mode === 3 && len >= HEADER_BYTES) {
        b[6] = 1 + rng.int(6);
        b[7] = rng.int(5);
        b[28] = rng.int(3);
        b.fill(0, 29, 32);
        reseal(b);
      }
      expectKVError(() => decodeKV(b), [...TYPED], `input ${i} (length ${len}, mode ${mode})`);
    }
  });

  it('random headers with valid checksums and plausible fields never crash', () => {
    const rng = new SeededRng(99);
    for (let i = 0; i < 3000; i++) {
      const payloadLength = rng.int(200);
      const b = randomBytes(rng, HEADER_BYTES + payloadLength);
      MAGIC.forEach((m, j) => (b[j] = m));
      b.writeUInt16LE(1, 4);
      b[6] = 1 + rng.int(6);
      b[7] = rng.int(5);
      for (const at of [8, 12, 16, 20]) b.writeUInt32LE(1 + rng.int(6), at);
      b.writeUInt32LE(rng.int(4), 24);
      b[28] = rng.int(3);
      b.fill(0, 29, 32);
      b.writeUInt32LE(rng.int(3) === 0 ? payloadLength : rng.int(400), 32);
      b.writeUInt32LE(0, 36);
      b.writeUInt32LE(payloadLength, 40);
      b.writeUInt32LE(0, 44);
      reseal(b);
      try {
        // With forged checksums and consistent sizes, an uncompressed payload may legitimately
        // decode; what must never happen is an untyped error or an inconsistent block.
        assertWellFormed(decodeKV(b));
      } catch (err) {
        if (err instanceof assert.AssertionError) throw err;
        expectKVError(() => {
          throw err;
        }, [...TYPED], `input ${i}`);
      }
    }
  });

  it('mutated valid entries are rejected (every dtype × codec)', () => {
    const rng = new SeededRng(77);
    const block = syntheticKV({ layers: 2, kvHeads: 2, headDim: 8, tokens: 6 });
    for (const dtype of DTYPES) {
      for (const codec of CODECS) {
        const blob = encodeKV(block, { dtype, codec });
        for (let k = 0; k < 60; k++) {
          let b = Buffer.from(blob);
          const ops = 1 + rng.int(3);
          for (let o = 0; o < ops; o++) {
            const at = rng.int(b.length);
            switch (rng.int(5)) {
              case 0:
                b[at] = (b[at]! + 1 + rng.int(255)) & 0xff; // always a change
                break;
              case 1:
                b = b.subarray(0, at);
                break;
              case 2:
                b = Buffer.concat([b.subarray(0, at), randomBytes(rng, 1 + rng.int(4)), b.subarray(at)]);
                break;
              case 3:
                b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + rng.int(4)))]);
                break;
              default:
                b = Buffer.concat([b, b.subarray(at, at + 1 + rng.int(8))]);
            }
          }
          if (b.equals(blob)) continue;
          expectKVError(() => decodeKV(b), [...TYPED], `${dtype}/${codec} mutation ${k}`);
        }
      }
    }
  });

  it('property: mutated entries with recomputed checksums decode consistently or fail typed', () => {
    const block = syntheticKV({ layers: 1, kvHeads: 2, headDim: 4, tokens: 3 });
    const blobs = DTYPES.flatMap((dtype) => CODECS.map((codec) => encodeKV(block, { dtype, codec })));
    fc.assert(
      fc.property(
        fc.nat(blobs.length - 1),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
        (which, flips) => {
          const b = Buffer.from(blobs[which]!);
          for (const [pos, mask] of flips) b[pos % b.length]! ^= mask;
          reseal(b);
          try {
            assertWellFormed(decodeKV(b));
          } catch (err) {
            if (err instanceof assert.AssertionError) throw err;
            expectKVError(() => {
              throw err;
            }, [...TYPED]);
          }
        },
      ),
      { seed: 2024, numRuns: 2000 },
    );
  });
});
