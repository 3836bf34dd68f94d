/**
 * What set-up asks of each platform: the instructions it prints where it cannot install by itself,
 * and which missing packages stop it.
 */
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

interface Requirement { what: string; apt: string[]; brew: string; forTest?: boolean; optional?: () => boolean }
interface SetupModule {
  REQUIREMENTS: Requirement[];
  manualInstructions(missing: Requirement[], o?: { root?: boolean; platform?: string; debian?: boolean }): string;
}

const ROOT = path.resolve(__dirname, '..', '..');

describe('set-up: platforms', () => {
  let S: SetupModule;
  const saved = process.env.REDIS_URL;
  before(async () => {
    S = (await import(pathToFileURL(path.join(ROOT, 'scripts', 'setup.mjs')).href)) as SetupModule;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.REDIS_URL;
    else process.env.REDIS_URL = saved;
  });
  const req = (apt: string): Requirement => S.REQUIREMENTS.find((r) => r.apt.includes(apt))!;

  it('macOS: Jupyter through pipx or a project-local venv, never pip into Homebrew\'s Python', () => {
    const text = S.manualInstructions([req('redis-server'), req('jupyter-notebook'), req('chromium')], { root: false, platform: 'darwin', debian: false });
    assert.match(text, /brew install redis/);
    assert.match(text, /pipx install notebook/);
    assert.match(text, /pipx install jupyterlab .*npm run lab/);
    assert.match(text, /python3 -m venv \.kvlab\/venv && \.kvlab\/venv\/bin\/python -m pip install notebook/);
    assert.doesNotMatch(text, /^\s*(brew install python && )?python3 -m pip install notebook/m, 'no bare pip install (refused as an externally managed environment)');
    assert.match(text, /google-chrome/);
    assert.match(text, /KVLAB_CHROMIUM/);
  });

  it('Debian: one apt-get line with every missing package, promtool and docker-compose among the test tools', () => {
    const tools = S.REQUIREMENTS.filter((r) => r.forTest);
    assert.deepEqual(tools.map((r) => r.apt[0]).sort(), ['chromium', 'docker-compose', 'memcached', 'prometheus', 'python3-numpy']);
    const text = S.manualInstructions(tools, { root: false, platform: 'linux', debian: true });
    assert.match(text, /sudo apt-get update && sudo apt-get install -y memcached chromium prometheus docker-compose python3-numpy\n/);
  });

  it('with REDIS_URL set, a missing redis-server does not stop set-up (only notebook 04\'s private-server demos need it)', () => {
    delete process.env.REDIS_URL;
    assert.equal(req('redis-server').optional!(), false);
    process.env.REDIS_URL = 'redis://127.0.0.1:6379';
    assert.equal(req('redis-server').optional!(), true);
    assert.match(S.manualInstructions([req('redis-server')], { platform: 'darwin' }), /optional here: REDIS_URL is set/);
    assert.equal(req('jupyter-notebook').optional, undefined, 'Jupyter is never optional');
  });
});
