import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PREFILL_TABLE_PATH, breakEvenGBps, loadPrefillTable, prefillSpeed, prefillWork, projectCost } from '../../lib/src/bench/cost';
import type { KVLabError } from '../../lib/src/runtime/errors';
import { jemallocSizeClass, sizeRedis } from '../../lib/src/bench/sizing';
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
    assert.throws(() => prefillSpeed(rows, 'gpt-5', 1024), {
      code: 'INVALID_INPUT',
      details: { path: 'model', expected: 'a model with measured prefill speeds (llama2-7b, llama3-8b, llama3-70b)', received: '"gpt-5"' },
    });
    assert.throws(() => prefillSpeed(rows, 'llama3-8b', NaN), { code: 'INVALID_INPUT', details: { path: 'promptTokens', expected: 'a positive number', received: 'NaN' } });
  });

  it('saves nothing at zero reuse and most of the cost at high reuse with a fast store', () => {
    const base = { model: 'llama3-8b', promptTokens: 4096, dollarsPerGpuHour: 3, storeGBps: 50 };
    const none = projectCost({ ...base, reuseFraction: 0 });
    assert.equal(none.saving, 0);
    assert.equal(none.dollarsPerMillionNoCache, none.dollarsPerMillionWithCache);
    const high = projectCost({ ...base, reuseFraction: 0.9 });
    assert.ok(high.saving > 0.8 && high.saving < 0.9, `saving ${high.saving}`);
  });

  it('recomputes instead of loading when the store is slower than the break-even bandwidth', () => {
    const base = { model: 'llama2-7b', promptTokens: 4096, reuseFraction: 0.9, dollarsPerGpuHour: 3 };
    const slow = projectCost({ ...base, storeGBps: 1 });
    assert.ok(slow.breakevenGBps > 10);
    assert.equal(slow.reusedKV, 'recompute', `a 1 GB/s store cannot beat a ${slow.breakevenGBps.toFixed(1)} GB/s break-even`);
    assert.equal(slow.saving, 0, 'an engine recomputes rather than wait: the cache never costs money');
    assert.equal(slow.dollarsPerMillionWithCache, slow.dollarsPerMillionNoCache);
    assert.ok(slow.gpuSecondsPerMillionLoading > slow.gpuSecondsPerMillionNoCache, 'loading would have been slower');
    const fast = projectCost({ ...base, storeGBps: slow.breakevenGBps * 1.01 });
    assert.equal(fast.reusedKV, 'load');
    assert.ok(fast.saving > 0);
    assert.equal(fast.gpuSecondsPerMillionWithCache, fast.gpuSecondsPerMillionLoading);
  });

  it('with loads overlapped, the slower of compute and load sets the time, and loading pays above reuse × break-even', () => {
    const base = { model: 'llama3-8b', promptTokens: 4096, reuseFraction: 0.9, dollarsPerGpuHour: 3 };
    const be = projectCost({ ...base, storeGBps: 1 }).breakevenGBps;
    const p = projectCost({ ...base, storeGBps: 50, overlapLoad: true });
    const compute = (0.1 * 1e6) / p.prefillTokensPerS;
    const load = (0.9 * 1e6 * p.kvBytesPerToken) / (50 * 1e9);
    assert.ok(Math.abs(p.gpuSecondsPerMillionLoading - Math.max(compute, load)) < 1e-9);
    assert.ok(Math.abs(projectCost({ ...base, storeGBps: 50 }).gpuSecondsPerMillionLoading - (compute + load)) < 1e-9);
    // Overlapped, loading 90 % beats recomputing 100 % as soon as the store is faster than 0.9 × break-even.
    assert.equal(projectCost({ ...base, storeGBps: 0.91 * be, overlapLoad: true }).reusedKV, 'load');
    assert.equal(projectCost({ ...base, storeGBps: 0.89 * be, overlapLoad: true }).reusedKV, 'recompute');
    assert.equal(projectCost({ ...base, storeGBps: 0.91 * be }).reusedKV, 'recompute', 'not overlapped: below break-even loading never pays');
  });

  it('break-even bandwidth is KV bytes per token × prefill tokens per second', () => {
    assert.equal(breakEvenGBps(131072, 32641), (131072 * 32641) / 1e9);
    for (const r of rows) assert.ok(Math.abs(breakEvenGBps(r.kvBytesPerToken, r.prefillTokensPerS) - r.breakevenGBps) / r.breakevenGBps < 0.02, r.model);
  });

  it('prefill work: linear in computed tokens, attention quadratic in position', () => {
    const cfg = getPreset('llama3-8b');
    const full = prefillWork(cfg, 1000);
    const rest = prefillWork(cfg, 1000, 900);
    assert.ok(Math.abs(rest.linearFlops / full.linearFlops - 0.1) < 1e-12);
    // The last 100 of 1 000 tokens meet 901…1 000 keys: 95 050 of 500 500 pairs, about 19 %.
    assert.ok(Math.abs(rest.attentionFlops / full.attentionFlops - 95050 / 500500) < 1e-12);
    assert.equal(full.totalFlops, full.linearFlops + full.attentionFlops);
    // Llama-3-8B: 2 FLOPs × ~6.98 G non-embedding weights per token (q, k, v, o and the MLP of 32 layers).
    assert.equal(prefillWork(cfg, 1).linearFlops, 2 * 32 * (4096 * 4096 * 2 + 2 * 4096 * 1024 + 3 * 4096 * 14336));
    assert.equal(prefillWork(cfg, 5, 5).totalFlops, 0);
    assert.throws(() => prefillWork(cfg, 10, 11), { code: 'INVALID_INPUT' });
    assert.throws(() => prefillWork(cfg, 1.5), { code: 'INVALID_INPUT' });
  });

  it('rejects bad inputs with a typed error naming the input', () => {
    const ok = { model: 'llama3-8b', promptTokens: 4096, reuseFraction: 0.5, dollarsPerGpuHour: 3, storeGBps: 10 };
    assert.throws(() => projectCost({ ...ok, reuseFraction: 1.5 }), {
      code: 'INVALID_INPUT',
      message: 'inputs.reuseFraction: expected a fraction in [0, 1], received 1.5',
      details: { path: 'inputs.reuseFraction', expected: 'a fraction in [0, 1]', received: '1.5' },
    });
    assert.throws(() => projectCost({ ...ok, promptTokens: -1 }), { code: 'INVALID_INPUT', details: { path: 'inputs.promptTokens', expected: 'a positive number', received: '-1' } });
    assert.throws(() => projectCost({ ...ok, dollarsPerGpuHour: NaN }), { code: 'INVALID_INPUT', details: { path: 'inputs.dollarsPerGpuHour', expected: 'a positive number', received: 'NaN' } });
    assert.throws(() => projectCost({ ...ok, storeGBps: 0 }), { code: 'INVALID_INPUT', details: { path: 'inputs.storeGBps', expected: 'a positive number', received: '0' } });
  });

  it('rejects a prefill table with other columns or a non-numeric cell (ConfigError naming the cell)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvlab-cost-'));
    try {
      const text = fs.readFileSync(PREFILL_TABLE_PATH, 'utf8');
      const renamed = path.join(dir, 'renamed.tsv');
      fs.writeFileSync(renamed, text.replace('prefill_ms', 'prefill_s'));
      assert.throws(() => loadPrefillTable(renamed), (err: KVLabError) => {
        assert.equal(err.code, 'CONFIG_ERROR');
        assert.equal(err.details.path, `${renamed} columns`);
        assert.match(err.details.expected ?? '', /^model, prompt_tokens, prefill_ms, /);
        assert.match(err.details.received ?? '', /^model, prompt_tokens, prefill_s, /);
        return true;
      });
      const garbled = path.join(dir, 'garbled.tsv');
      // Row 2's prefill_ms (the third column of the second data line) made a word.
      const lines = text.split('\n');
      const dataLines = lines.map((l, i) => [l, i] as const).filter(([l]) => l !== '' && !l.startsWith('#')).slice(1);
      const [line, at] = dataLines[1]!;
      lines[at] = line.split('\t').map((cell, c) => (c === 2 ? 'fast' : cell)).join('\t');
      fs.writeFileSync(garbled, lines.join('\n'));
      assert.throws(() => loadPrefillTable(garbled), {
        code: 'CONFIG_ERROR',
        details: { path: `${garbled} row 2, column prefill_ms`, expected: 'a number', received: '"fast"' },
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Redis sizing calculator', () => {
  it('follows the KV-size formula and rounds keys up to whole blocks', () => {
    const r = sizeRedis({ model: getPreset('llama3-8b'), bytesPerValue: 2, cachedTokens: 1_000_001, headroom: 0 });
    assert.equal(r.kvBytesPerToken, 2 * 32 * 8 * 128 * 2);
    assert.equal(r.blockValueBytes, 16 * r.kvBytesPerToken + 160, 'the KV of a block + the entry header');
    assert.equal(r.bytesPerKey, 2.5 * 2 ** 20 + 136, "jemalloc's 2.5 MiB size class for the value, 136 bytes for the key, object and dict entry");
    assert.equal(r.keys, 62_501);
    assert.equal(r.workingSetBytes, r.keys * r.bytesPerKey);
    assert.equal(r.masters, Math.ceil(r.maxmemoryBytes / (25 * 2 ** 30)));
    assert.equal(r.totalMemoryBytes, 2 * r.maxmemoryBytes, 'one replica per master by default');
  });
  it("jemalloc's size classes: four per doubling above 128 bytes", () => {
    assert.deepEqual([1, 8, 9, 100, 128, 129, 160, 161, 1000, 1025, 2 ** 21, 2 ** 21 + 1, 3_000_000].map(jemallocSizeClass), [8, 8, 16, 112, 128, 160, 160, 192, 1024, 1280, 2 ** 21, 2.5 * 2 ** 20, 3 * 2 ** 20]);
  });
  it('rejects nonsense inputs', () => {
    assert.throws(() => sizeRedis({ model: getPreset('llama3-8b'), bytesPerValue: 0, cachedTokens: 10 }), { code: 'INVALID_INPUT' });
    assert.throws(() => sizeRedis({ model: getPreset('llama3-8b'), bytesPerValue: 2, cachedTokens: NaN }), { code: 'INVALID_INPUT' });
  });
});
