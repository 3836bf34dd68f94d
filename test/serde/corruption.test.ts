import * as assert from 'node:assert/strict';
import * as zlib from 'node:zlib';
import {
  CODECS,
  DTYPES,
  HEADER_BYTES,
  type KVCodec,
  type KVDtype,
  xxh64,
  decodeKV,
  encodeKV,
  syntheticKV,
  verifyKV,
} from '../../lib/src/serde';
import { expectKVError, reseal } from './helpers';

const SHAPE = { layers: 2, kvHeads: 2, headDim: 6, tokens: 5 };
const TYPED = ['CORRUPT_ENTRY', 'UNSUPPORTED_FORMAT'] as const;

function blobOf(dtype: KVDtype, codec: KVCodec = 'none'): Buffer {
  return encodeKV(syntheticKV(SHAPE, { seed: 2 }), { dtype, codec });
}

/** A copy with `edit` applied and the checksums recomputed. */
function edited(blob: Buffer, edit: (b: Buffer) => void, resealIt = true): Buffer {
  const b = Buffer.from(blob);
  edit(b);
  return resealIt ? reseal(b) : b;
}

describe('serde: corrupt entries are rejected with typed errors', () => {
  for (const codec of CODECS) {
    for (const dtype of ['fp16', 'int8', 'kivi2'] as const) {
      it(`truncation at every length and trailing bytes (${dtype}, ${codec})`, () => {
        const blob = blobOf(dtype, codec);
        for (let len = 0; len < blob.length; len++) {
          expectKVError(() => decodeKV(blob.subarray(0, len)), [...TYPED], `length ${len}/${blob.length}`);
        }
        for (const extra of [1, 2, 7]) {
          expectKVError(() => decodeKV(Buffer.concat([blob, Buffer.alloc(extra)])), 'CORRUPT_ENTRY', `${extra} trailing`);
        }
      });

      it(`every byte flipped, three ways (${dtype}, ${codec})`, () => {
        const blob = blobOf(dtype, codec);
        for (let i = 0; i < blob.length; i++) {
          for (const mask of [0x01, 0x80, 0xff]) {
            const b = Buffer.from(blob);
            b[i]! ^= mask;
            expectKVError(() => decodeKV(b), [...TYPED], `byte ${i} ^ ${mask}`);
          }
        }
      });
    }
  }

  it('wrong header fields (with valid checksums): the right error for each', () => {
    const blob = blobOf('fp16');
    const int8 = blobOf('int8');
    const kivi = blobOf('kivi4');
    // Each case: the edit, the error code, and the header field its details name (details.path).
    const cases: [string, Buffer, 'CORRUPT_ENTRY' | 'UNSUPPORTED_FORMAT', string?][] = [
      ['magic', edited(blob, (b) => (b[1] = 0x4c)), 'CORRUPT_ENTRY', 'header.magic'],
      ['version 1 (the 56-byte CRC-32C layout)', edited(blob, (b) => b.writeUInt16LE(1, 4)), 'UNSUPPORTED_FORMAT', 'header.version'],
      ['version 2 (the 64-byte layout without identity)', edited(blob, (b) => b.writeUInt16LE(2, 4)), 'UNSUPPORTED_FORMAT', 'header.version'],
      ['version 4', edited(blob, (b) => b.writeUInt16LE(4, 4)), 'UNSUPPORTED_FORMAT', 'header.version'],
      ['version 0', edited(blob, (b) => b.writeUInt16LE(0, 4)), 'UNSUPPORTED_FORMAT', 'header.version'],
      ['dtype id 0', edited(blob, (b) => (b[6] = 0)), 'UNSUPPORTED_FORMAT', 'header.dtype'],
      ['dtype id 7', edited(blob, (b) => (b[6] = 7)), 'UNSUPPORTED_FORMAT', 'header.dtype'],
      ['dtype id 255', edited(blob, (b) => (b[6] = 255)), 'UNSUPPORTED_FORMAT', 'header.dtype'],
      ['codec id 5', edited(blob, (b) => (b[7] = 5)), 'UNSUPPORTED_FORMAT', 'header.codec'],
      ['scale dtype id 3', edited(blob, (b) => (b[28] = 3)), 'UNSUPPORTED_FORMAT', 'header.scaleDtype'],
      ['unknown flag (bit 1 of byte 29)', edited(blob, (b) => (b[29] = 2)), 'UNSUPPORTED_FORMAT', 'header.flags'],
      ['reserved byte 31', edited(blob, (b) => (b[31] = 0x80)), 'UNSUPPORTED_FORMAT', 'header bytes 30–31'],
      ['reserved byte 60', edited(blob, (b) => (b[60] = 1)), 'UNSUPPORTED_FORMAT', 'header bytes 60–63'],
      ['reserved byte 127', edited(blob, (b) => (b[127] = 1)), 'UNSUPPORTED_FORMAT', 'header bytes 124–127'],
      ['reserved byte 150', edited(blob, (b) => (b[150] = 1)), 'UNSUPPORTED_FORMAT', 'header bytes 144–151'],
      ['MAC nonce set without the MAC flag', edited(blob, (b) => (b[112] = 1)), 'CORRUPT_ENTRY', 'header.mac'],
      ['MAC tag set without the MAC flag', edited(blob, (b) => (b[143] = 1)), 'CORRUPT_ENTRY', 'header.mac'],
      ['unbound entry with a start position', edited(blob, (b) => b.writeUInt32LE(16, 56)), 'CORRUPT_ENTRY', 'header.blockKey'],
      ['unbound entry with a model fingerprint', edited(blob, (b) => (b[100] = 7)), 'CORRUPT_ENTRY', 'header.blockKey'],
      ['MAC flag set, read without a key: checks pass (a reader without the secret does not verify)', edited(blob, (b) => (b[29] = 1)), 'CORRUPT_ENTRY'],
      ['fp16 → bf16: same size, checks pass, different meaning', edited(blob, (b) => (b[6] = 3)), 'CORRUPT_ENTRY'],
      ['fp16 → fp32 (payload size mismatch)', edited(blob, (b) => (b[6] = 1)), 'CORRUPT_ENTRY', 'header.rawLength'],
      ['layers 0', edited(blob, (b) => b.writeUInt32LE(0, 8)), 'CORRUPT_ENTRY', 'header.layers'],
      ['layers + 1', edited(blob, (b) => b.writeUInt32LE(3, 8)), 'CORRUPT_ENTRY', 'header.rawLength'],
      ['kvHeads 1', edited(blob, (b) => b.writeUInt32LE(1, 12)), 'CORRUPT_ENTRY', 'header.rawLength'],
      ['headDim 0', edited(blob, (b) => b.writeUInt32LE(0, 16)), 'CORRUPT_ENTRY', 'header.headDim'],
      ['tokens + 1', edited(blob, (b) => b.writeUInt32LE(6, 20)), 'CORRUPT_ENTRY', 'header.rawLength'],
      ['tokens and headDim swapped: same size, checks pass', edited(blob, (b) => (b.writeUInt32LE(5, 16), b.writeUInt32LE(6, 20))), 'CORRUPT_ENTRY'],
      ['huge shape (over maxDecodedBytes)', edited(blob, (b) => (b.writeUInt32LE(0xffffffff, 8), b.writeUInt32LE(0xffffffff, 20))), 'CORRUPT_ENTRY', 'header.shape'],
      ['fp16 with a group size', edited(blob, (b) => b.writeUInt32LE(8, 24)), 'CORRUPT_ENTRY', 'header.groupSize'],
      ['fp16 with a scale dtype', edited(blob, (b) => (b[28] = 1)), 'CORRUPT_ENTRY', 'header.scaleDtype'],
      ['int8 with group size 0', edited(int8, (b) => b.writeUInt32LE(0, 24)), 'CORRUPT_ENTRY', 'header.groupSize'],
      ['int8 with fp16 scales', edited(int8, (b) => (b[28] = 2)), 'CORRUPT_ENTRY', 'header.scaleDtype'],
      ['int8 with no scales', edited(int8, (b) => (b[28] = 0)), 'CORRUPT_ENTRY', 'header.scaleDtype'],
      ['int8 group size changed', edited(int8, (b) => b.writeUInt32LE(3, 24)), 'CORRUPT_ENTRY', 'header.rawLength'],
      ['kivi fp16 → fp32 scales', edited(kivi, (b) => (b[28] = 1)), 'CORRUPT_ENTRY', 'header.rawLength'],
      ['raw length + 1', edited(blob, (b) => b.writeUInt32LE(b.readUInt32LE(32) + 1, 32)), 'CORRUPT_ENTRY', 'header.rawLength'],
      ['raw length high word', edited(blob, (b) => b.writeUInt32LE(1, 36)), 'CORRUPT_ENTRY', 'header.rawLength'],
      ['payload length − 1', edited(blob, (b) => b.writeUInt32LE(b.readUInt32LE(40) - 1, 40)), 'CORRUPT_ENTRY', 'header.payloadLength'],
      ['payload length high word', edited(blob, (b) => b.writeUInt32LE(1, 44)), 'CORRUPT_ENTRY', 'header.payloadLength'],
      ['payload checksum', edited(blob, (b) => (b[48]! ^= 1, b.writeBigUInt64LE(xxh64(b, 0n, 0, 152), 152)), false), 'CORRUPT_ENTRY', 'header.payloadChecksum'],
      ['payload checksum, high byte', edited(blob, (b) => (b[55]! ^= 0x80, b.writeBigUInt64LE(xxh64(b, 0n, 0, 152), 152)), false), 'CORRUPT_ENTRY', 'header.payloadChecksum'],
      ['header checksum', edited(blob, (b) => (b[152]! ^= 1), false), 'CORRUPT_ENTRY', 'header.headerChecksum'],
      ['header checksum, high byte', edited(blob, (b) => (b[159]! ^= 0x80), false), 'CORRUPT_ENTRY', 'header.headerChecksum'],
    ];
    for (const [name, b, code, path] of cases) {
      if (name.includes('checks pass')) {
        // Not detectable by design: a deliberate edit with recomputed checksums that keeps every
        // size consistent. Checksums guard against damage, not forgery; the hashing namespace
        // (formatId, model shape) keeps different formats apart. It must decode without crashing.
        decodeKV(b);
        continue;
      }
      const err = expectKVError(() => decodeKV(b), code, name);
      assert.equal(err.details.path, path, `${name}: details.path`);
      expectKVError(() => verifyKV(b), code, `${name} (verifyKV)`);
    }
    // The numbers behind a few of them, as data.
    const detailsOf = (b: Buffer) => expectKVError(() => decodeKV(b), [...TYPED]).details;
    const rawLength = blob.readUInt32LE(32);
    assert.deepEqual(detailsOf(edited(blob, (b) => b.writeUInt32LE(rawLength + 1, 32))), {
      path: 'header.rawLength',
      expected: `${rawLength} (what the shape and dtype need)`,
      received: String(rawLength + 1),
    });
    assert.deepEqual(detailsOf(edited(blob, (b) => (b[6] = 7))), { path: 'header.dtype', expected: 'a dtype id this build knows (1–6)', received: '7' });
    const huge = detailsOf(edited(blob, (b) => (b.writeUInt32LE(0xffffffff, 8), b.writeUInt32LE(0xffffffff, 20))));
    assert.equal(huge.limit, 2 ** 30);
    assert.ok(Math.abs(huge.actual! / (2 * 0xffffffff * 2 * 0xffffffff * 6 * 4) - 1) < 1e-9, `actual ${huge.actual}`);
    // Checksums: the value computed from the bytes is expected, the stored one received.
    const badPayload = edited(blob, (b) => (b[48]! ^= 1, b.writeBigUInt64LE(xxh64(b, 0n, 0, 152), 152)), false);
    const hex = (n: bigint): string => `0x${n.toString(16).padStart(16, '0')}`;
    assert.deepEqual(detailsOf(badPayload), {
      path: 'header.payloadChecksum',
      expected: `${hex(xxh64(blob, 0n, HEADER_BYTES, blob.length))} (computed over the payload)`,
      received: `${hex(badPayload.readBigUInt64LE(48))} (stored)`,
    });
    const badHeader = edited(blob, (b) => (b[152]! ^= 1), false);
    assert.deepEqual(detailsOf(badHeader), {
      path: 'header.headerChecksum',
      expected: `${hex(blob.readBigUInt64LE(152))} (computed over bytes 0–151)`,
      received: `${hex(badHeader.readBigUInt64LE(152))} (stored)`,
    });
    // Truncated and trailing entries: the declared size is the limit, the real one the actual.
    assert.deepEqual(detailsOf(blob.subarray(0, blob.length - 1)), {
      path: 'entry',
      expected: `${blob.length} bytes (header + declared payload)`,
      received: `${blob.length - 1} bytes (truncated entry)`,
      limit: blob.length,
      actual: blob.length - 1,
    });
    assert.equal(detailsOf(Buffer.concat([blob, Buffer.alloc(3)])).received, `${blob.length + 3} bytes (3 trailing)`);
  });

  it('compressed payloads: bad streams, wrong inflated size, trailing bytes', () => {
    for (const codec of ['pako', 'shuffle-pako', 'zlib', 'shuffle-zlib'] as const) {
      const blob = blobOf('fp16', codec);
      const stored = blob.subarray(HEADER_BYTES);
      const raw = zlib.inflateSync(stored);
      const withPayload = (payload: Buffer, rawLength = raw.length): Buffer => {
        const b = Buffer.concat([blob.subarray(0, HEADER_BYTES), payload]);
        b.writeUInt32LE(rawLength, 32);
        b.writeUInt32LE(payload.length, 40);
        return reseal(b);
      };
      // A byte of the deflate stream changed (checksums recomputed): inflate or Adler-32 fails.
      for (let i = 0; i < stored.length; i += 7) {
        const p = Buffer.from(stored);
        p[i]! ^= 0x10;
        expectKVError(() => decodeKV(withPayload(p)), 'CORRUPT_ENTRY', `${codec} stream byte ${i}`);
      }
      const short = expectKVError(() => decodeKV(withPayload(zlib.deflateSync(raw.subarray(1)))), 'CORRUPT_ENTRY', `${codec} inflates short`);
      assert.deepEqual([short.details.path, short.details.limit, short.details.actual], ['payload', raw.length, raw.length - 1], `${codec} inflates short: details`);
      expectKVError(() => decodeKV(withPayload(zlib.deflateSync(Buffer.concat([raw, Buffer.alloc(9)])))), 'CORRUPT_ENTRY', `${codec} inflates long`);
      expectKVError(() => decodeKV(withPayload(zlib.deflateSync(Buffer.alloc(64 << 20)))), 'CORRUPT_ENTRY', `${codec} inflates 64 MiB`);
      expectKVError(() => decodeKV(withPayload(Buffer.concat([Buffer.from(stored), Buffer.from([1, 2, 3])]))), 'CORRUPT_ENTRY', `${codec} trailing`);
      expectKVError(() => decodeKV(withPayload(Buffer.alloc(0))), 'CORRUPT_ENTRY', `${codec} empty`);
      expectKVError(() => decodeKV(withPayload(zlib.deflateRawSync(raw))), 'CORRUPT_ENTRY', `${codec} raw deflate`);
    }
  });

  it('quantized payloads: non-finite or negative scales, non-finite mins, padding bits', () => {
    const shape = { layers: 1, kvHeads: 1, headDim: 3, tokens: 3 }; // 9 codes: kivi2 leaves 6 padding bits
    const block = syntheticKV(shape);
    const int8 = encodeKV(block, { dtype: 'int8' });
    const kivi = encodeKV(block, { dtype: 'kivi2', scaleStorage: 'fp32' });
    const kivi16 = encodeKV(block, { dtype: 'kivi2' });
    const P = HEADER_BYTES;
    const bad: [string, Buffer][] = [
      ['int8 NaN scale', edited(int8, (b) => b.writeFloatLE(NaN, P))],
      ['int8 negative scale', edited(int8, (b) => b.writeFloatLE(-1, P))],
      ['int8 infinite scale', edited(int8, (b) => b.writeFloatLE(Infinity, P))],
      ['kivi fp32 NaN scale', edited(kivi, (b) => b.writeFloatLE(NaN, P))],
      // K has 3 groups (one per channel): mins start after 3 scales.
      ['kivi fp32 infinite min', edited(kivi, (b) => b.writeFloatLE(-Infinity, P + 12))],
      ['kivi fp16 NaN scale', edited(kivi16, (b) => b.writeUInt16LE(0x7e00, P))],
      ['kivi fp16 negative scale', edited(kivi16, (b) => b.writeUInt16LE(0xbc00, P))],
      ['kivi fp16 infinite min', edited(kivi16, (b) => b.writeUInt16LE(0x7c00, P + 6))],
      // K tensor: 3 scales + 3 mins (fp16) + ⌈9·2/8⌉ = 3 code bytes; its last byte holds 1 code.
      ['kivi padding bits', edited(kivi16, (b) => (b[P + 12 + 2]! |= 0x40))],
    ];
    for (const [name, b] of bad) {
      const into = { k: [new Float32Array(9).fill(7)], v: [new Float32Array(9).fill(7)] };
      const err = expectKVError(() => decodeKV(b, { into }), 'CORRUPT_ENTRY', name);
      assert.ok(into.k[0]!.every((x) => x === 7) && into.v[0]!.every((x) => x === 7), `${name}: decode target untouched`);
      // The details name the damaged field of layer 0's K tensor.
      const field = name.includes('scale') ? 'scales[0]' : name.includes('min') ? 'mins[0]' : 'codes';
      assert.equal(err.details.path, `payload.layers[0].k.${field}`, `${name}: details.path`);
    }
  });
});

describe('serde: invalid arguments', () => {
  const block = syntheticKV(SHAPE);
  it('encode rejects malformed blocks and options with InvalidInputError', () => {
    // Each case: the call, and the input its error's details name.
    const bad: [string, () => unknown, string][] = [
      ['short k', () => encodeKV({ ...block, k: [block.k[0]!.subarray(1), block.k[1]!] }), 'block.k[0]'],
      ['missing layer', () => encodeKV({ ...block, v: [block.v[0]!] }), 'block.v'],
      ['not Float32Array', () => encodeKV({ ...block, k: [Array.from(block.k[0]!) as unknown as Float32Array, block.k[1]!] }), 'block.k[0]'],
      ['tokens 0', () => encodeKV({ ...block, tokens: 0 }), 'block.tokens'],
      ['fractional heads', () => encodeKV({ ...block, kvHeads: 1.5 }), 'block.kvHeads'],
      ['unknown dtype', () => encodeKV(block, { dtype: 'fp8' as KVDtype }), 'options.dtype'],
      ['unknown codec', () => encodeKV(block, { codec: 'lz4' as KVCodec }), 'options.codec'],
      ['group size 0', () => encodeKV(block, { dtype: 'int8', groupSize: 0 }), 'options.groupSize'],
      ['group size 2.5', () => encodeKV(block, { dtype: 'kivi4', groupSize: 2.5 }), 'options.groupSize'],
      ['level 10', () => encodeKV(block, { codec: 'zlib', level: 10 }), 'options.level'],
      ['int8 with fp16 scales', () => encodeKV(block, { dtype: 'int8', scaleStorage: 'fp16' }), 'options.scaleStorage'],
      ['bad scaleStorage', () => encodeKV(block, { dtype: 'kivi4', scaleStorage: 'bf16' as 'fp16' }), 'options.scaleStorage'],
    ];
    for (const [name, fn, path] of bad) assert.equal(expectKVError(fn, 'INVALID_INPUT', name).details.path, path, `${name}: details.path`);
  });

  it('decode rejects non-bytes with InvalidInputError, a mismatched target with ModelMismatchError', () => {
    const text = expectKVError(() => decodeKV('137,75,86,66' as unknown as Uint8Array), 'INVALID_INPUT', 'string').details;
    assert.deepEqual([text.path, text.received], ['blob', '"137,75,86,66"']);
    assert.match(text.hint ?? '', /getBuffer/, 'a string: the hint says how to read bytes');
    assert.equal(expectKVError(() => decodeKV(undefined as unknown as Uint8Array), 'INVALID_INPUT', 'undefined').details.received, 'undefined');
    const blob = encodeKV(block);
    const n = 2 * 5 * 6;
    const wrong = { k: [new Float32Array(n), new Float32Array(n - 1)], v: [new Float32Array(n), new Float32Array(n)] };
    assert.equal(expectKVError(() => decodeKV(blob, { into: wrong }), 'MODEL_MISMATCH').details.path, 'options.into.k[1]');
    const oneLayer = expectKVError(() => decodeKV(blob, { into: { k: [new Float32Array(n)], v: [new Float32Array(n)] } }), 'MODEL_MISMATCH');
    assert.deepEqual([oneLayer.details.path, oneLayer.details.received], ['options.into.k', 'an array of length 1']);
  });

  it('every dtype encodes the same block to a distinct, decodable entry', () => {
    const blobs = DTYPES.map((dtype) => encodeKV(block, { dtype }));
    assert.equal(new Set(blobs.map((b) => b.toString('hex'))).size, DTYPES.length);
    for (const b of blobs) decodeKV(b);
  });
});
