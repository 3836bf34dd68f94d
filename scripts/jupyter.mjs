// Which Jupyter is installed, and how to start it. The lab runs on the classic Notebook 6 (Debian 12),
// Notebook 7 or JupyterLab (pip, pipx, Homebrew): the last two run on jupyter_server, whose options
// live on `ServerApp` where Notebook 6 has `NotebookApp`, and whose pages have other paths. The
// versions are read from the Python that has Jupyter, never guessed from the platform.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The Python distributions the lab cares about, by their package names. */
export const JUPYTER_PACKAGES = ['notebook', 'jupyterlab', 'jupyter_server', 'nbclient', 'nbconvert', 'nbformat'];

// Installed versions from the package metadata (importlib.metadata, Python ≥ 3.8): no imports of
// the packages themselves, so a probe takes ~0.1 s where `jupyter --version` takes a second.
const PROBE = [
  'import json, importlib.metadata as m',
  'def v(p):',
  '    try: return m.version(p)',
  '    except Exception: return None',
  `print(json.dumps({p: v(p) for p in ${JSON.stringify(JUPYTER_PACKAGES)}}))`,
].join('\n');

/** `{ major, minor, patch, text }` of the first `N.N[.N]` in `text` (e.g. `jupyter notebook --version`'s output), or undefined. */
export function parseVersion(text) {
  const m = /(\d+)\.(\d+)(?:\.(\d+))?/.exec(String(text ?? ''));
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3] ?? 0), text: m[0] };
}

/**
 * The versions of JUPYTER_PACKAGES from a probe's output (a JSON object, or the `name : version` lines
 * of `jupyter --version`); packages that are absent map to null.
 */
export function parseProbe(output) {
  const text = String(output ?? '').trim();
  const versions = Object.fromEntries(JUPYTER_PACKAGES.map((p) => [p, null]));
  if (text.startsWith('{')) {
    const parsed = JSON.parse(text);
    for (const p of JUPYTER_PACKAGES) versions[p] = parseVersion(parsed[p])?.text ?? null;
    return versions;
  }
  for (const line of text.split('\n')) {
    const m = /^\s*([\w-]+)\s*:\s*(.+?)\s*$/.exec(line);
    if (m && JUPYTER_PACKAGES.includes(m[1])) versions[m[1]] = parseVersion(m[2])?.text ?? null;
  }
  return versions;
}

/** Installed versions in `python`, or undefined when it does not run. */
export function probePython(python) {
  const r = spawnSync(python, ['-c', PROBE], { encoding: 'utf8', timeout: 20_000 });
  if (r.status !== 0 || !r.stdout) return undefined;
  try {
    return parseProbe(r.stdout);
  } catch {
    return undefined;
  }
}

/** The interpreter named by a script's `#!` line (pip, pipx and Homebrew write absolute ones). */
function interpreterOf(script) {
  try {
    const fd = fs.openSync(fs.realpathSync(script), 'r');
    const head = Buffer.alloc(256);
    const n = fs.readSync(fd, head, 0, head.length, 0);
    fs.closeSync(fd);
    const m = /^#!\s*(\S+)(?:\s+(\S+))?/.exec(head.subarray(0, n).toString('utf8').split('\n')[0]);
    if (!m) return undefined;
    return path.basename(m[1]) === 'env' ? m[2] : m[1];
  } catch {
    return undefined;
  }
}

function onPath(command, envPath) {
  for (const dir of (envPath ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, command);
    if (fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** Where the project-local virtual environment's Python is (the set-up instructions create it). */
export function venvPython(root) {
  return process.platform === 'win32' ? path.join(root, '.kvlab', 'venv', 'Scripts', 'python.exe') : path.join(root, '.kvlab', 'venv', 'bin', 'python');
}

/**
 * Pythons that may have Jupyter, in order: $KVLAB_PYTHON; the project-local virtual environment
 * (.kvlab/venv); the interpreters of the `jupyter`, `jupyter-notebook` and `jupyter-lab` found on
 * PATH (that is how a pipx or Homebrew install is found: its Python is not `python3`); Debian's
 * /usr/bin/python3 (pyenv may shadow `python3`); then `python3` and `python`.
 */
export function pythonCandidates({ root, env = process.env }) {
  const viaScripts = ['jupyter', 'jupyter-notebook', 'jupyter-lab'].map((c) => onPath(c, env.PATH)).filter(Boolean).map(interpreterOf);
  const all = [env.KVLAB_PYTHON, venvPython(root), ...viaScripts, '/usr/bin/python3', 'python3', 'python'].filter(Boolean);
  return [...new Set(all)];
}

/** Whether these versions can run the lab: nbclient + nbconvert (the runner) and a Notebook or a JupyterLab. */
export function canRunLab(versions) {
  return Boolean(versions && versions.nbclient && versions.nbconvert && (versions.notebook || versions.jupyterlab));
}

/**
 * The first candidate Python that can run the lab (with `ui: 'lab'`, one that has JupyterLab; with
 * 'notebook', one that has the Notebook), with its versions; undefined if none.
 */
export function findJupyter({ root, env = process.env, ui }) {
  for (const python of pythonCandidates({ root, env })) {
    if (python !== 'python3' && python !== 'python' && !fs.existsSync(python)) continue;
    const versions = probePython(python);
    if (!canRunLab(versions)) continue;
    if (ui === 'lab' && !versions.jupyterlab) continue;
    if (ui === 'notebook' && !versions.notebook) continue;
    return { python, versions };
  }
  return ui ? findJupyter({ root, env }) : undefined;
}

/** How to get JupyterLab, per platform (it is not packaged in Debian 12). */
export const JUPYTERLAB_HOWTO = [
  'JupyterLab is not installed (no Python the lab looked at has it). Install it one of these ways, then run `npm run lab` again:',
  '  macOS (Homebrew):   brew install pipx && pipx install jupyterlab     (or: brew install jupyterlab)',
  '  Debian 12 / Ubuntu: sudo apt-get install pipx && pipx install jupyterlab && pipx ensurepath',
  '                      (Debian 12 does not package JupyterLab)',
  '  any platform:       python3 -m venv .kvlab/venv && .kvlab/venv/bin/python -m pip install jupyterlab',
  '                      (the lab finds .kvlab/venv by itself; Windows: .kvlab\\venv\\Scripts\\python -m pip install jupyterlab)',
].join('\n');

/** How to get the Notebook. */
export const NOTEBOOK_HOWTO = [
  'Jupyter Notebook is not installed (no Python the lab looked at has it). Install it one of these ways:',
  '  Debian 12 / Ubuntu: sudo apt-get install jupyter-notebook python3-nbclient jupyter-nbconvert',
  '  macOS (Homebrew):   brew install pipx && pipx install notebook',
  '  any platform:       python3 -m venv .kvlab/venv && .kvlab/venv/bin/python -m pip install notebook',
].join('\n');

/**
 * Which server to start: `ui` 'notebook' or 'lab' as asked, or (undefined) the Notebook when there is
 * one, else JupyterLab. Returns `{ app: 'notebook6' | 'notebook7' | 'lab', module, version }`; throws
 * with install instructions when what was asked for is missing or too old.
 */
export function jupyterPlan(versions, { ui } = {}) {
  const notebook = parseVersion(versions?.notebook);
  const lab = parseVersion(versions?.jupyterlab);
  const want = ui ?? (notebook ? 'notebook' : lab ? 'lab' : 'notebook');
  if (want === 'lab') {
    if (!lab) throw Object.assign(new Error(JUPYTERLAB_HOWTO), { exitCode: 2 });
    if (lab.major < 3) throw Object.assign(new Error(`JupyterLab ${lab.text} is too old (it runs on the Notebook 6 server): the lab needs JupyterLab ≥ 3.\n${JUPYTERLAB_HOWTO}`), { exitCode: 2 });
    return { app: 'lab', module: 'jupyterlab', version: lab.text };
  }
  if (want !== 'notebook') throw new Error(`unknown Jupyter UI ${JSON.stringify(ui)}: 'notebook' or 'lab'`);
  if (!notebook) throw Object.assign(new Error(NOTEBOOK_HOWTO), { exitCode: 2 });
  if (notebook.major < 5) throw Object.assign(new Error(`Jupyter Notebook ${notebook.text} is too old: the lab needs Notebook 5, 6 or 7.\n${NOTEBOOK_HOWTO}`), { exitCode: 2 });
  return { app: notebook.major >= 7 ? 'notebook7' : 'notebook6', module: 'notebook', version: notebook.text };
}

/**
 * The arguments after `python`: the server on 127.0.0.1:`port` (no fallback port), serving
 * `notebookDir`, no browser opened. The token is not an argument: it goes in JUPYTER_TOKEN, which
 * Notebook 6 and every jupyter_server read, so that no other user of the machine reads it from `ps`.
 */
export function jupyterArgs(plan, { port, notebookDir, asRoot = false }) {
  const head = ['-m', plan.module, '--no-browser'];
  if (plan.app === 'notebook6') {
    return [...head, '--NotebookApp.ip=127.0.0.1', `--NotebookApp.port=${port}`, '--NotebookApp.port_retries=0',
      `--NotebookApp.notebook_dir=${notebookDir}`, ...(asRoot ? ['--NotebookApp.allow_root=True'] : [])];
  }
  // Notebook 7 and JupyterLab are jupyter_server applications: ServerApp holds these options there,
  // and NotebookApp.* would be ignored with a warning (the server would pick its own port and token).
  return [...head, '--ServerApp.ip=127.0.0.1', `--ServerApp.port=${port}`, '--ServerApp.port_retries=0',
    `--ServerApp.root_dir=${notebookDir}`, ...(asRoot ? ['--ServerApp.allow_root=True'] : [])];
}

/** The pages of a running server: the file browser and one notebook (a name relative to the served folder). */
export function jupyterUrls(plan, base, token) {
  const q = `?token=${encodeURIComponent(token)}`;
  const encode = (name) => name.split('/').map(encodeURIComponent).join('/');
  if (plan.app === 'lab') return { home: `${base}/lab${q}`, notebook: (name) => `${base}/lab/tree/${encode(name)}${q}` };
  return { home: `${base}/tree${q}`, notebook: (name) => `${base}/notebooks/${encode(name)}${q}` };
}

/**
 * The UI asked for: `npm start --lab` reaches the script as npm's own config (npm_config_lab=true),
 * `npm start -- --lab` as an argument. undefined: let jupyterPlan choose.
 */
export function requestedUi(options, env = process.env) {
  if (options.lab || env.npm_config_lab === 'true') return 'lab';
  if (options.notebook || env.npm_config_notebook === 'true') return 'notebook';
  return undefined;
}
