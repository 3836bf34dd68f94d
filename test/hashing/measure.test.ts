import { strict as assert } from 'node:assert';
import { measureHashingCost } from '../../lib/src/hashing';

describe('hashing/measure', () => {
  it('measureHashingCost returns a positive ns/token for small and large blocks', () => {
    for (const blockSize of [16, 256]) {
      const r = measureHashingCost({ tokens: 8192, blockSize, repeats: 3 });
      assert.equal(r.blockSize, blockSize);
      assert.equal(r.tokens, 8192);
      assert.equal(r.samplesNsPerToken.length, 3);
      assert.ok(Number.isFinite(r.nsPerToken) && r.nsPerToken > 0);
      assert.ok(Math.abs(r.nsPerBlock - r.nsPerToken * blockSize) < 1e-6);
    }
  });
});
