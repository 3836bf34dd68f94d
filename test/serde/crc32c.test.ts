import * as assert from 'node:assert/strict';
import { SeededRng } from '../../lib/src/runtime';
import { crc32c } from '../../lib/src/serde';
import { crc32cBitwise } from './helpers';

describe('serde: CRC-32C', () => {
  it('matches the standard check value and RFC 3720 (iSCSI) vectors', () => {
    assert.equal(crc32c(Buffer.from('123456789', 'ascii')), 0xe3069283);
    assert.equal(crc32c(new Uint8Array(0)), 0);
    assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
    assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
    assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
    assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c);
  });

  it('agrees with a bitwise implementation at every length, alignment and range', () => {
    const rng = new SeededRng(7);
    const big = new Uint8Array(300);
    for (let i = 0; i < big.length; i++) big[i] = rng.int(256);
    for (let offset = 0; offset < 8; offset++) {
      for (let len = 0; len <= 80; len++) {
        const view = big.subarray(offset, offset + len);
        assert.equal(crc32c(view), crc32cBitwise(view), `offset ${offset} length ${len}`);
      }
    }
    // start/end arguments select the same bytes as a subarray.
    for (let k = 0; k < 50; k++) {
      const start = rng.int(150);
      const end = start + rng.int(150);
      assert.equal(crc32c(big, 0, start, end), crc32cBitwise(big.subarray(start, end)));
    }
  });

  it('continues a running checksum', () => {
    const data = Buffer.from('The quick brown fox jumps over the lazy dog, twice over for length.');
    for (const cut of [0, 1, 7, 16, 33, data.length]) {
      assert.equal(crc32c(data.subarray(cut), crc32c(data.subarray(0, cut))), crc32c(data), `cut ${cut}`);
    }
  });
});
