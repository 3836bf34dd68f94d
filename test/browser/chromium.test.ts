import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CHROMIUM_COMMANDS, chromiumLocations, findChromium } from '../../lib/src/notebook/png';

interface ChromiumModule {
  CHROMIUM_COMMANDS: string[];
  chromiumLocations(home?: string): string[];
  findChromium(o?: { env?: NodeJS.ProcessEnv; home?: string }): string | undefined;
}
const ROOT = path.resolve(__dirname, '..', '..');

describe('Chromium lookup (scripts/chromium.mjs and lib png.ts)', () => {
  let scripts: ChromiumModule;
  let tmp: string;
  before(async () => {
    scripts = (await import(pathToFileURL(path.join(ROOT, 'scripts', 'chromium.mjs')).href)) as ChromiumModule;
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kvlab-chromium-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('the scripts and the library look in the same places', () => {
    assert.deepEqual([...CHROMIUM_COMMANDS], scripts.CHROMIUM_COMMANDS);
    assert.deepEqual(chromiumLocations('/home/u'), scripts.chromiumLocations('/home/u'));
    assert.ok(scripts.chromiumLocations('/Users/u').includes('/Applications/Google Chrome.app/Contents/MacOS/Google Chrome'));
  });

  it('KVLAB_CHROMIUM wins, as given', () => {
    assert.equal(scripts.findChromium({ env: { KVLAB_CHROMIUM: '/opt/x/chrome' } }), '/opt/x/chrome');
    assert.equal(findChromium({ KVLAB_CHROMIUM: '/opt/x/chrome' }), '/opt/x/chrome');
  });

  it('then Chrome or Chromium on PATH, under any of the usual names', () => {
    const bin = path.join(tmp, 'bin');
    fs.mkdirSync(bin, { recursive: true });
    fs.writeFileSync(path.join(bin, 'google-chrome-stable'), '#!/bin/sh\n', { mode: 0o755 });
    assert.equal(scripts.findChromium({ env: { PATH: bin }, home: tmp }), path.join(bin, 'google-chrome-stable'));
    assert.equal(findChromium({ PATH: bin }, tmp), path.join(bin, 'google-chrome-stable'));
  });

  it('finds this machine\'s Chromium', () => {
    const found = scripts.findChromium();
    assert.ok(found && fs.existsSync(found), `found ${found}`);
  });
});
