#!/usr/bin/env node
// One idempotent set-up for `npm start`, `npm test` and `npm run notebooks`: npm dependencies,
// system packages (redis-server, Jupyter Notebook + nbclient + nbconvert, Chromium for the browser
// test), a project-local tslab kernel spec, and a build of lib. Each step checks first and skips
// what is done, so a second run takes seconds. Uses only Node's standard library: it runs before
// `npm install`.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildLib as buildCleanLib, linkLibCommands } from './build.mjs';
import { findChromium } from './chromium.mjs';
import { findJupyter, parseVersion, probePython } from './jupyter.mjs';
import { parseArgs } from 'node:util';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const STATE_DIR = path.join(ROOT, '.kvlab');
export const JUPYTER_DIR = path.join(STATE_DIR, 'jupyter');

const log = (msg) => process.stderr.write(`[setup] ${msg}\n`);

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function run(cmd, args, opts = {}) {
  log(`$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: ROOT, ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed with exit code ${r.status}`);
}

function mtime(p) {
  try {
    return fs.statSync(p).mtimeMs;
  } catch {
    return 0;
  }
}

function newestIn(dir, ext) {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestIn(p, ext));
    else if (entry.name.endsWith(ext)) newest = Math.max(newest, mtime(p));
  }
  return newest;
}

// ---- Node and npm ---------------------------------------------------------------------------

function checkNode() {
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major < 20 || (major === 20 && minor < 19)) {
    throw new Error(`Node ${process.versions.node} is too old: kvcache-lab needs Node ≥ 20.19 (https://nodejs.org or your package manager).`);
  }
}

function npmDependencies() {
  const marker = path.join(ROOT, 'node_modules', '.package-lock.json');
  const stale = mtime(marker) === 0 || mtime(path.join(ROOT, 'package-lock.json')) > mtime(marker) ||
    mtime(path.join(ROOT, 'package.json')) > mtime(marker) || mtime(path.join(ROOT, 'lib', 'package.json')) > mtime(marker);
  if (!stale) return log('npm dependencies: up to date');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  if (mtime(path.join(ROOT, 'node_modules')) === 0 && mtime(path.join(ROOT, 'package-lock.json')) > 0) {
    run(npm, ['ci', '--no-audit', '--no-fund']);
  } else {
    run(npm, ['install', '--no-audit', '--no-fund']);
  }
}

// ---- System packages ------------------------------------------------------------------------

/** The Python that has Jupyter (Notebook or JupyterLab, nbclient, nbconvert): see scripts/jupyter.mjs for where it looks. */
export function findPython() {
  return findJupyter({ root: ROOT })?.python;
}

const redisUrlSet = () => Boolean(process.env.REDIS_URL && process.env.REDIS_URL.trim() !== '');

/**
 * System packages. `forTest`: only for `npm test` (set-up with browser: true). `optional()`: may stay
 * missing where it cannot be installed (set-up prints the commands and goes on). `brew`: the Homebrew
 * command; Jupyter on macOS has its own lines (Homebrew's Python refuses `pip install` outside a
 * virtual environment), see manualInstructions.
 */
export const REQUIREMENTS = [
  {
    what: 'redis-server and redis-cli',
    why: 'the embedded Redis of the lab, the private servers of notebook 04\'s eviction and cluster demos, and the servers the tests start',
    present: () => has('redis-server') && has('redis-cli'),
    // With REDIS_URL (a Redis in Docker, a managed one) the lab needs no redis-server of its own; only
    // notebook 04's two demos that start private servers do, and they say so and skip without it.
    optional: redisUrlSet,
    apt: ['redis-server'],
    brew: 'brew install redis',
  },
  {
    what: 'Jupyter (Notebook or JupyterLab, with nbclient and nbconvert)',
    why: 'the notebook server of `npm start`, and headless execution of every notebook',
    present: () => findPython() !== undefined,
    apt: ['jupyter-notebook', 'python3-nbclient', 'jupyter-nbconvert'],
    brew: 'brew install pipx && pipx install notebook',
  },
  {
    what: 'memcached',
    why: 'the measured Redis-vs-memcached comparison of `npm run bench:backends` and its test',
    present: () => has('memcached'),
    apt: ['memcached'],
    brew: 'brew install memcached',
    forTest: true,
  },
  {
    what: 'Chromium',
    why: 'the browser tests of `npm test` (notebook 00 in the lab, every page of the book)',
    present: () => findChromium() !== undefined && fs.existsSync(findChromium()),
    apt: ['chromium'],
    brew: 'brew install --cask google-chrome   # or chromium; any other: set KVLAB_CHROMIUM=/path/to/chrome',
    forTest: true,
  },
  {
    what: 'promtool',
    why: 'the test that checks the example alert rules (docs/prometheus-alerts.yml) with `promtool check rules`',
    present: () => has('promtool'),
    apt: ['prometheus'],
    brew: 'brew install prometheus',
    forTest: true,
  },
  {
    what: 'docker-compose',
    why: 'the test that validates docker-compose.yml (`docker-compose config` needs no Docker engine)',
    present: () => has('docker-compose'),
    apt: ['docker-compose'],
    brew: 'brew install docker-compose',
    forTest: true,
  },
  {
    what: 'numpy for /usr/bin/python3',
    why: 'the test that reads the library\'s checkpoints with an independent numpy reference',
    present: () => spawnSync('/usr/bin/python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0,
    apt: ['python3-numpy'],
    brew: '/usr/bin/python3 -m pip install --user numpy   # the test runs /usr/bin/python3',
    forTest: true,
  },
];

function isDebianLike() {
  try {
    const osRelease = fs.readFileSync('/etc/os-release', 'utf8');
    return /^(ID|ID_LIKE)=.*\b(debian|ubuntu)\b/m.test(osRelease);
  } catch {
    return false;
  }
}

/** What to run by hand for the `missing` requirements, per platform. */
export function manualInstructions(missing, { root = process.getuid?.() === 0, platform = process.platform, debian = isDebianLike() } = {}) {
  const lines = ['', 'kvcache-lab needs these system packages, and cannot install them itself here', `(${root ? 'root' : 'not root'}, ${platform}${debian ? ', Debian/Ubuntu' : ''}):`, ''];
  for (const r of missing) lines.push(`  - ${r.what}: ${r.why}${r.optional?.() ? ' (optional here: REDIS_URL is set)' : ''}`);
  const apt = missing.flatMap((r) => r.apt);
  lines.push('', 'Debian / Ubuntu:', `  sudo apt-get update && sudo apt-get install -y ${apt.join(' ')}`);
  lines.push('', 'macOS (Homebrew):');
  for (const r of missing) lines.push(`  ${r.brew}`);
  if (missing.some((r) => r.apt.includes('jupyter-notebook'))) {
    lines.push(
      '', 'Jupyter anywhere (macOS, other Linux, Windows), in its own environment as Homebrew\'s and recent',
      'distributions\' Pythons require — one of:',
      '  pipx install notebook                   # Notebook 7 (pipx: `brew install pipx`, `apt install pipx`, …)',
      '  pipx install jupyterlab                 # JupyterLab; start the lab with `npm run lab`',
      '  python3 -m venv .kvlab/venv && .kvlab/venv/bin/python -m pip install notebook   # project-local, or jupyterlab',
      'The lab finds .kvlab/venv, and the Python behind the `jupyter` command on PATH (pipx, Homebrew).',
    );
  }
  lines.push('', 'Then run the same npm command again. (Set KVLAB_PYTHON to a Python that has Jupyter, or KVLAB_CHROMIUM to a Chrome, if one is not found.)', '');
  return lines.join('\n');
}

const canApt = () => process.platform === 'linux' && isDebianLike() && process.getuid?.() === 0 && has('apt-get');

function aptInstall(pkgs) {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update', '-qq'], { env });
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...pkgs], { env });
}

function systemPackages({ browser }) {
  const wanted = REQUIREMENTS.filter((r) => browser || !r.forTest);
  const missing = wanted.filter((r) => !r.present());
  if (missing.length === 0) return log(`system packages: present (${wanted.map((r) => r.what).join('; ')})`);
  if (!canApt()) {
    process.stderr.write(manualInstructions(missing));
    const required = missing.filter((r) => !r.optional?.());
    if (required.length === 0) {
      log('going on without them: REDIS_URL is set, so only notebook 04\'s eviction and cluster demos need redis-server (they say so and skip)');
      return;
    }
    const err = new Error('missing system packages (see above)');
    err.exitCode = 2;
    throw err;
  }
  log(`installing ${missing.map((r) => r.what).join(', ')} from Debian packages`);
  aptInstall(missing.flatMap((r) => r.apt));
  const still = missing.filter((r) => !r.present());
  if (still.length) throw new Error(`still missing after apt-get install: ${still.map((r) => r.what).join(', ')}`);
}

// ---- Notebook 7 and JupyterLab for the browser test ------------------------------------------

/** A virtual environment with Notebook 7 and JupyterLab, only for `npm test`'s browser test (the lab never uses it). */
export const TEST_JUPYTER_DIR = path.join(STATE_DIR, 'test-jupyter');

export function testJupyterPython() {
  return process.platform === 'win32' ? path.join(TEST_JUPYTER_DIR, 'Scripts', 'python.exe') : path.join(TEST_JUPYTER_DIR, 'bin', 'python');
}

/**
 * Debian 12 packages only the classic Notebook 6, but learners elsewhere get Notebook 7 or JupyterLab
 * from pip: the browser test runs notebook 00 in those too, from this environment (pip, ~40 s once).
 */
function testJupyters() {
  const py = testJupyterPython();
  const v = fs.existsSync(py) ? probePython(py) : undefined;
  if (v && parseVersion(v.notebook)?.major >= 7 && parseVersion(v.jupyterlab)?.major >= 4) {
    return log(`Notebook ${v.notebook} and JupyterLab ${v.jupyterlab} for the browser test: present (${path.relative(ROOT, TEST_JUPYTER_DIR)})`);
  }
  const venvCapable = () => ['python3', '/usr/bin/python3'].find((p) => spawnSync(p, ['-c', 'import venv, ensurepip'], { stdio: 'ignore' }).status === 0);
  if (!venvCapable() && canApt()) aptInstall(['python3-venv']);
  const base = venvCapable();
  if (!base) throw Object.assign(new Error('the browser test needs a Python that can create virtual environments (Debian: apt-get install python3-venv)'), { exitCode: 2 });
  log(`installing Notebook 7 and JupyterLab for the browser test into ${path.relative(ROOT, TEST_JUPYTER_DIR)} (pip)`);
  fs.rmSync(TEST_JUPYTER_DIR, { recursive: true, force: true });
  run(base, ['-m', 'venv', TEST_JUPYTER_DIR]);
  const pip = spawnSync(py, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--retries', '1', 'notebook>=7', 'jupyterlab>=4'], { cwd: ROOT, encoding: 'utf8' });
  if (pip.status !== 0) {
    process.stderr.write((pip.stdout + pip.stderr).split('\n').filter((l) => !/is ignored: it is neither/.test(l)).slice(-30).join('\n') + '\n');
    fs.rmSync(TEST_JUPYTER_DIR, { recursive: true, force: true });
    throw new Error('pip could not install Notebook 7 and JupyterLab for the browser test (see above)');
  }
}

// ---- Jupyter kernel spec --------------------------------------------------------------------

/** Environment for every Jupyter process: project-local paths only, nothing in the user's ~/.jupyter. */
export function jupyterEnv(extra = {}) {
  return {
    ...process.env,
    JUPYTER_PATH: JUPYTER_DIR,
    JUPYTER_CONFIG_DIR: path.join(JUPYTER_DIR, 'config'),
    JUPYTER_DATA_DIR: path.join(JUPYTER_DIR, 'data'),
    JUPYTER_RUNTIME_DIR: path.join(JUPYTER_DIR, 'runtime'),
    IPYTHONDIR: path.join(JUPYTER_DIR, 'ipython'),
    ...extra,
  };
}

function kernelSpec() {
  const tslab = path.join(ROOT, 'node_modules', '.bin', 'tslab');
  if (!fs.existsSync(tslab)) throw new Error(`tslab is not installed at ${tslab}: npm install did not complete`);
  const spec = {
    argv: [tslab, 'kernel', '--config-path', '{connection_file}'],
    display_name: 'TypeScript (tslab)',
    language: 'typescript',
  };
  const dir = path.join(JUPYTER_DIR, 'kernels', 'tslab');
  const file = path.join(dir, 'kernel.json');
  const text = JSON.stringify(spec, null, 2) + '\n';
  if (fs.existsSync(file) && fs.readFileSync(file, 'utf8') === text) return log('tslab kernel spec: up to date');
  fs.mkdirSync(dir, { recursive: true });
  for (const d of ['config', 'data', 'runtime', 'ipython']) fs.mkdirSync(path.join(JUPYTER_DIR, d), { recursive: true });
  fs.writeFileSync(file, text);
  log(`tslab kernel spec written to ${path.relative(ROOT, file)} (found through JUPYTER_PATH)`);
}

// ---- Build of lib ---------------------------------------------------------------------------

function buildLib() {
  const dist = path.join(ROOT, 'lib', 'dist', 'index.js');
  const srcNewest = Math.max(newestIn(path.join(ROOT, 'lib', 'src'), '.ts'), mtime(path.join(ROOT, 'lib', 'tsconfig.build.json')), mtime(path.join(ROOT, 'tsconfig.json')));
  if (mtime(dist) >= srcNewest) {
    linkLibCommands(); // a checkout built before the link was made by the build
    return log('lib build: up to date');
  }
  buildCleanLib();
  fs.utimesSync(dist, new Date(), new Date());
}

/**
 * Run every set-up step.
 * @param {{browser?: boolean}} options browser: also what only the tests need (Chromium, promtool, …)
 */
export async function setup(options = {}) {
  const started = Date.now();
  checkNode();
  npmDependencies();
  systemPackages({ browser: options.browser ?? false });
  if (options.browser) testJupyters();
  kernelSpec();
  buildLib();
  log(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values: opts } = parseArgs({ options: { help: { type: 'boolean', short: 'h' }, browser: { type: 'boolean' } } });
  if (opts.help) {
    console.log(`usage: npm run setup [-- --browser]

  Install what is missing: npm dependencies, redis-server, Jupyter (Debian packages), the project-local
  tslab kernel spec, a build of lib. Prints the exact commands where it cannot install by itself
  (not root, not Debian/Ubuntu, macOS). With REDIS_URL set, a missing redis-server is not an error.

  --browser   also what only the tests need (Chromium, promtool, docker-compose, memcached, numpy)`);
    process.exit(0);
  }
  setup({ browser: opts.browser === true }).catch((err) => {
    process.stderr.write(`[setup] ${err.message}\n`);
    process.exit(err.exitCode ?? 1);
  });
}
