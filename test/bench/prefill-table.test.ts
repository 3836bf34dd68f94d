/** scripts/measure-prefill-gpu.py writes the table the cost model reads, in the format it reads. */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadPrefillTable } from '../../lib/src/bench/cost';
import { kvBytesPerToken } from '../../lib/src/model/config';
import { getPreset, type PresetName } from '../../lib/src/model/presets';

const SCRIPT = path.resolve(__dirname, '..', '..', 'scripts', 'measure-prefill-gpu.py');

describe('the H100 prefill table script (scripts/measure-prefill-gpu.py)', () => {
  it('writes a TSV that loadPrefillTable reads, with the model shapes the library uses', () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kvlab-prefill-')), 'table.tsv');
    execFileSync('python3', [SCRIPT, '--self-test', '--lengths', '1024,4096', '--out', out]);
    const { rows, provenance } = loadPrefillTable(out);
    assert.match(provenance[0] ?? '', /made-up timings/);
    assert.equal(rows.length, 6);
    for (const r of rows) {
      assert.equal(r.kvBytesPerToken, kvBytesPerToken(getPreset(r.model as PresetName), 2), `${r.model}: the script's shape and MODEL_PRESETS agree`);
      assert.equal(r.kvBytesTotal, r.kvBytesPerToken * r.promptTokens);
      assert.ok(Math.abs(r.breakevenGBps - r.kvBytesTotal / (r.prefillMs * 1e6)) < 0.01);
      assert.ok(Math.abs(r.prefillTokensPerS - (r.promptTokens * 1000) / r.prefillMs) <= 1);
    }
    fs.rmSync(path.dirname(out), { recursive: true, force: true });
  });

  it('refuses a model it does not know', () => {
    assert.throws(() => execFileSync('python3', [SCRIPT, '--self-test', '--models', 'gpt5'], { stdio: 'pipe' }), /unknown model 'gpt5'/);
  });
});
