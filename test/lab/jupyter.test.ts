/**
 * How the lab starts Jupyter: the installed Notebook / JupyterLab version decides the flags. Only
 * Notebook 6 is packaged in Debian 12, so the other versions are checked on recorded probe and
 * `jupyter --version` outputs; the browser test starts the real Notebook 6.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

type Versions = Record<string, string | null>;
interface Plan { app: 'notebook6' | 'notebook7' | 'lab'; module: string; version: string }
interface JupyterModule {
  parseVersion(text: string): { major: number; minor: number; patch: number; text: string } | undefined;
  parseProbe(output: string): Versions;
  probePython(python: string): Versions | undefined;
  jupyterPlan(versions: Versions, options?: { ui?: string }): Plan;
  jupyterArgs(plan: Plan, options: { port: number; notebookDir: string; asRoot?: boolean }): string[];
  jupyterUrls(plan: Plan, base: string, token: string): { home: string; notebook(name: string): string };
  findJupyter(options: { root: string; env?: NodeJS.ProcessEnv; ui?: string }): { python: string; versions: Versions } | undefined;
  requestedUi(options: { lab?: boolean; notebook?: boolean }, env?: NodeJS.ProcessEnv): string | undefined;
}

const ROOT = path.resolve(__dirname, '..', '..');

// `jupyter --version` on Debian 12 (jupyter-notebook 6.4.12 from apt).
const DEBIAN12 = `Selected Jupyter core packages...
IPython          : 8.5.0
ipykernel        : 6.17.0
ipywidgets       : not installed
jupyter_client   : 7.4.9
jupyter_core     : 4.12.0
jupyter_server   : not installed
jupyterlab       : not installed
nbclient         : 0.7.2
nbconvert        : 6.5.3
nbformat         : 5.5.0
notebook         : 6.4.12
qtconsole        : not installed
traitlets        : 5.5.0
`;
// The lab's own probe (JSON) in a `pipx install notebook` environment, and one with only JupyterLab.
const NOTEBOOK7 = '{"notebook": "7.6.3", "jupyterlab": "4.6.4", "jupyter_server": "2.21.1", "nbclient": "0.11.0", "nbconvert": "7.17.1", "nbformat": "5.10.4"}';
const LAB_ONLY = '{"notebook": null, "jupyterlab": "4.2.5", "jupyter_server": "2.14.2", "nbclient": "0.10.0", "nbconvert": "7.16.4", "nbformat": "5.10.4"}';
const LAB2 = '{"notebook": null, "jupyterlab": "2.3.2", "jupyter_server": null, "nbclient": "0.5.1", "nbconvert": "6.0.7", "nbformat": "5.1.3"}';

describe('lab: Jupyter version detection and flags', () => {
  let J: JupyterModule;
  before(async () => {
    J = (await import(pathToFileURL(path.join(ROOT, 'scripts', 'jupyter.mjs')).href)) as JupyterModule;
  });

  it('reads versions from `--version` outputs', () => {
    assert.equal(J.parseVersion('6.4.12\n')?.major, 6);
    assert.deepEqual(J.parseVersion('7.2.1'), { major: 7, minor: 2, patch: 1, text: '7.2.1' });
    assert.equal(J.parseVersion('4.0')?.text, '4.0');
    assert.equal(J.parseVersion('not installed'), undefined);
  });

  it('reads the `jupyter --version` table and the JSON probe alike', () => {
    const debian = J.parseProbe(DEBIAN12);
    assert.equal(debian.notebook, '6.4.12');
    assert.equal(debian.jupyterlab, null);
    assert.equal(debian.jupyter_server, null);
    assert.equal(debian.nbclient, '0.7.2');
    assert.equal(J.parseProbe(NOTEBOOK7).notebook, '7.6.3');
    assert.equal(J.parseProbe(LAB_ONLY).notebook, null);
  });

  it('Notebook 6: NotebookApp flags, /tree and /notebooks pages', () => {
    const plan = J.jupyterPlan(J.parseProbe(DEBIAN12));
    assert.deepEqual(plan, { app: 'notebook6', module: 'notebook', version: '6.4.12' });
    assert.deepEqual(J.jupyterArgs(plan, { port: 8890, notebookDir: '/p/notebooks', asRoot: true }), [
      '-m', 'notebook', '--no-browser', '--NotebookApp.ip=127.0.0.1', '--NotebookApp.port=8890', '--NotebookApp.port_retries=0',
      '--NotebookApp.notebook_dir=/p/notebooks', '--NotebookApp.allow_root=True',
    ]);
    const urls = J.jupyterUrls(plan, 'http://127.0.0.1:8890', 'tok');
    assert.equal(urls.home, 'http://127.0.0.1:8890/tree?token=tok');
    assert.equal(urls.notebook('00_start_here.ipynb'), 'http://127.0.0.1:8890/notebooks/00_start_here.ipynb?token=tok');
  });

  it('Notebook 7: a jupyter_server app, so ServerApp flags (NotebookApp.* would be ignored)', () => {
    const plan = J.jupyterPlan(J.parseProbe(NOTEBOOK7));
    assert.deepEqual(plan, { app: 'notebook7', module: 'notebook', version: '7.6.3' });
    const args = J.jupyterArgs(plan, { port: 8890, notebookDir: '/p/notebooks' });
    assert.deepEqual(args, ['-m', 'notebook', '--no-browser', '--ServerApp.ip=127.0.0.1', '--ServerApp.port=8890', '--ServerApp.port_retries=0', '--ServerApp.root_dir=/p/notebooks']);
    assert.ok(!args.some((a) => a.startsWith('--NotebookApp.')));
    assert.equal(J.jupyterUrls(plan, 'http://h:1', 't').notebook('00_start_here.ipynb'), 'http://h:1/notebooks/00_start_here.ipynb?token=t');
  });

  it('JupyterLab: chosen by ui "lab" (or when it is all there is), `python -m jupyterlab`, /lab pages', () => {
    const plan = J.jupyterPlan(J.parseProbe(NOTEBOOK7), { ui: 'lab' });
    assert.deepEqual(plan, { app: 'lab', module: 'jupyterlab', version: '4.6.4' });
    assert.deepEqual(J.jupyterPlan(J.parseProbe(LAB_ONLY)), { app: 'lab', module: 'jupyterlab', version: '4.2.5' });
    assert.deepEqual(J.jupyterArgs(plan, { port: 9000, notebookDir: '/n', asRoot: true }).slice(0, 4), ['-m', 'jupyterlab', '--no-browser', '--ServerApp.ip=127.0.0.1']);
    assert.ok(J.jupyterArgs(plan, { port: 9000, notebookDir: '/n', asRoot: true }).includes('--ServerApp.allow_root=True'));
    const urls = J.jupyterUrls(plan, 'http://h:1', 't');
    assert.equal(urls.home, 'http://h:1/lab?token=t');
    assert.equal(urls.notebook('00_start_here.ipynb'), 'http://h:1/lab/tree/00_start_here.ipynb?token=t');
  });

  it('never puts the token in the arguments (other users can read them from ps): it goes in JUPYTER_TOKEN', () => {
    for (const probe of [DEBIAN12, NOTEBOOK7]) {
      for (const ui of ['notebook', 'lab']) {
        if (ui === 'lab' && probe === DEBIAN12) continue;
        const args = J.jupyterArgs(J.jupyterPlan(J.parseProbe(probe), { ui }), { port: 1, notebookDir: '/n' });
        assert.ok(!args.some((a) => /token/i.test(a)), args.join(' '));
      }
    }
  });

  it('says how to get JupyterLab when it is asked for and missing, and refuses versions too old', () => {
    assert.throws(() => J.jupyterPlan(J.parseProbe(DEBIAN12), { ui: 'lab' }), /pipx install jupyterlab[\s\S]*Debian 12 does not package JupyterLab[\s\S]*\.kvlab\/venv/);
    assert.throws(() => J.jupyterPlan(J.parseProbe(LAB2)), /JupyterLab 2\.3\.2 is too old/);
    assert.throws(() => J.jupyterPlan(J.parseProbe(LAB_ONLY), { ui: 'notebook' }), /pipx install notebook/);
  });

  it('`npm start --lab` (npm config) and `npm start -- --lab` (argument) both ask for JupyterLab', () => {
    assert.equal(J.requestedUi({}, { npm_config_lab: 'true' }), 'lab');
    assert.equal(J.requestedUi({ lab: true }, {}), 'lab');
    assert.equal(J.requestedUi({ notebook: true }, {}), 'notebook');
    assert.equal(J.requestedUi({}, {}), undefined);
  });

  it('probes a real Python, and finds the project-local .kvlab/venv before anything else', () => {
    const real = J.findJupyter({ root: ROOT });
    assert.ok(real, 'set-up installed a Jupyter');
    assert.ok(real.versions.nbclient && (real.versions.notebook || real.versions.jupyterlab));
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kvlab-venv-'));
    try {
      const bin = path.join(tmp, '.kvlab', 'venv', 'bin');
      fs.mkdirSync(bin, { recursive: true });
      fs.symlinkSync(real.python.startsWith('/') ? real.python : '/usr/bin/python3', path.join(bin, 'python'));
      const found = J.findJupyter({ root: tmp, env: { PATH: process.env.PATH } });
      assert.equal(found?.python, path.join(bin, 'python'));
      assert.deepEqual(found?.versions, J.probePython(path.join(bin, 'python')));
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('finds the Python behind a `jupyter` command on PATH (how pipx and Homebrew installs are found)', () => {
    const real = J.findJupyter({ root: ROOT })!;
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kvlab-pipx-'));
    try {
      // A pipx-style layout: ~/.local/bin/jupyter-notebook → a venv's script whose #! names its Python.
      const venvBin = path.join(tmp, 'venvs', 'notebook', 'bin');
      fs.mkdirSync(venvBin, { recursive: true });
      fs.symlinkSync(real.python.startsWith('/') ? real.python : '/usr/bin/python3', path.join(venvBin, 'python'));
      fs.writeFileSync(path.join(venvBin, 'jupyter-notebook'), `#!${path.join(venvBin, 'python')}\nimport sys\n`, { mode: 0o755 });
      const localBin = path.join(tmp, 'local-bin');
      fs.mkdirSync(localBin);
      fs.symlinkSync(path.join(venvBin, 'jupyter-notebook'), path.join(localBin, 'jupyter-notebook'));
      const found = J.findJupyter({ root: tmp, env: { PATH: localBin } });
      assert.equal(found?.python, path.join(venvBin, 'python'));
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
