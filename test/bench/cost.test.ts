import { strict as assert } from 'node:assert';
import { loadPrefillTable, prefillSpeed, projectCost } from '../../lib/src/bench/cost';
import { sizeRedis } from '../../lib/src/bench/sizing';
import { getPreset } from '../../lib/src/model/presets';

describe('cost model', () => {
  const { rows, provenance } = loadPrefillTable();

  it('reads the measured H100 table with its provenance', () => {
    assert.equal(rows.length, 9);
    assert.ok(provenance.some((l) => /H100/.test(l)));
    for (const r of rows) {
      // The table's own columns must agree with each other: total = per token × tokens, break-even = bytes / time.
      assert.equal(r.kvBytesTotal, r.kvBytesPerToken * r.promptTokens);
      assert.ok(Math.abs(r.kvBytesTotal / (r.prefillMs / 1000) / 1e9 - r.breakevenGBps) / r.breakevenGBps < 0.02);
    }
  });

  it('interpolates prefill speed between measured prompt lengths and clamps outside', () => {
    const at1k = prefillSpeed(rows, 'llama3-8b', 1024).tokensPerS;
    const at4k = prefillSpeed(rows, 'llama3-8b', 4096).tokensPerS;
    const mid = prefillSpeed(rows, 'llama3-8b', 2048).tokensPerS;
    assert.ok(mid > Math.min(at1k, at4k) && mid < Math.max(at1k, at4k));
    assert.equal(prefillSpeed(rows, 'llama3-8b', 10).tokensPerS, at1k);
    assert.throws(() => prefillSpeed(rows, 'gpt-5', 1024), { code: 'INVALID_INPUT' });
  });

  it('saves nothing at zero reuse and most of the cost at high reuse with a fast store', () => {
    const base = { model: 'llama3-8b', promptTokens: 4096, dollarsPerGpuHour: 3, storeGBps: 50 };
    const none = projectCost({ ...base, reuseFraction: 0 });
    assert.equal(none.saving, 0);
    assert.equal(none.dollarsPerMillionNoCache, none.dollarsPerMillionWithCache);
    const high = projectCost({ ...base, reuseFraction: 0.9 });
    assert.ok(high.saving > 0.8 && high.saving < 0.9, `saving ${high.saving}`);
  });

  it('loses money when the store is slower than the break-even bandwidth', () => {
    const p = projectCost({ model: 'llama2-7b', promptTokens: 4096, reuseFraction: 0.9, dollarsPerGpuHour: 3, storeGBps: 1 });
    assert.ok(p.breakevenGBps > 10);
    assert.ok(p.saving < 0, `a 1 GB/s store cannot beat a ${p.breakevenGBps.toFixed(1)} GB/s break-even`);
  });

  it('rejects bad inputs with a typed error', () => {
    assert.throws(() => projectCost({ model: 'llama3-8b', promptTokens: 4096, reuseFraction: 1.5, dollarsPerGpuHour: 3, storeGBps: 10 }), { code: 'INVALID_INPUT' });
    assert.throws(() => projectCost({ model: 'llama3-8b', promptTokens: -1, reuseFraction: 0.5, dollarsPerGpuHour: 3, storeGBps: 10 }), { code: 'INVALID_INPUT' });
    assert.throws(() => projectCost({ model: 'llama3-8b', promptTokens: 4096, reuseFraction: 0.5, dollarsPerGpuHour: NaN, storeGBps: 10 }), { code: 'INVALID_INPUT' });
  });
});

describe('Redis sizing calculator', () => {
  it('follows the KV-size formula and rounds keys up to whole blocks', () => {
    const r = sizeRedis({ model: getPreset('llama3-8b'), bytesPerValue: 2, cachedTokens: 1_000_001, perKeyOverheadBytes: 0, headroom: 0 });
    assert.equal(r.kvBytesPerToken, 2 * 32 * 8 * 128 * 2);
    assert.equal(r.blockValueBytes, 16 * r.kvBytesPerToken);
    assert.equal(r.keys, 62_501);
    assert.equal(r.workingSetBytes, r.keys * r.blockValueBytes);
    assert.equal(r.masters, Math.ceil(r.maxmemoryBytes / (25 * 2 ** 30)));
    assert.equal(r.totalMemoryBytes, 2 * r.maxmemoryBytes, 'one replica per master by default');
  });
  it('rejects nonsense inputs', () => {
    assert.throws(() => sizeRedis({ model: getPreset('llama3-8b'), bytesPerValue: 0, cachedTokens: 10 }), { code: 'INVALID_INPUT' });
    assert.throws(() => sizeRedis({ model: getPreset('llama3-8b'), bytesPerValue: 2, cachedTokens: NaN }), { code: 'INVALID_INPUT' });
  });
});
