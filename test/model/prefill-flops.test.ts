import { strict as assert } from 'node:assert';
import { getPreset } from '../../lib/src/model';
import { matmulFlops, prefillFlops } from '../../lib/src/bench/prefill-flops';
import { smallConfig } from './helpers';

describe('prefill FLOP count (bench:prefill)', () => {
  it('equals a token-by-token count of the products a causal prefill needs', () => {
    const c = smallConfig();
    const tokens = 37;
    let flops = 0;
    for (let p = 0; p < tokens; p++) {
      for (let l = 0; l < c.numLayers; l++) {
        flops += matmulFlops({ m: 1, k: c.hiddenSize, n: c.numHeads * c.headDim }); // q
        flops += 2 * matmulFlops({ m: 1, k: c.hiddenSize, n: c.numKvHeads * c.headDim }); // k, v
        flops += matmulFlops({ m: 1, k: c.numHeads * c.headDim, n: c.hiddenSize }); // o
        flops += c.numHeads * (matmulFlops({ m: 1, k: c.headDim, n: p + 1 }) + matmulFlops({ m: 1, k: p + 1, n: c.headDim })); // scores, mix
        flops += 2 * matmulFlops({ m: 1, k: c.hiddenSize, n: c.intermediateSize }) + matmulFlops({ m: 1, k: c.intermediateSize, n: c.hiddenSize });
      }
    }
    flops += matmulFlops({ m: 1, k: c.hiddenSize, n: c.vocabSize });
    assert.equal(prefillFlops(c, tokens), flops);
  });

  it('the default preset at 2 000 tokens is 55.6 GFLOP (the convention of the 21.8 GFLOP/s in the performance notes)', () => {
    assert.equal(Math.round(prefillFlops(getPreset('default'), 2000) / 1e8) / 10, 55.6);
  });
});
