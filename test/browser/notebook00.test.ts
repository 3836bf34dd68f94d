/// <reference lib="dom" />
/**
 * The browser test: headless Chromium opens notebook 00 in the Jupyter that `npm start` runs, runs all
 * cells from the page's own menu, and checks that the chart really rendered (plotly's SVG in an output
 * area), that no cell wrote to stderr and that the kernel reached the lab's Redis. In each Jupyter a
 * learner may have: the lab's default (the classic Notebook 6 on Debian 12), and Notebook 7 and
 * JupyterLab 4 from the virtual environment set-up makes for this test (.kvlab/test-jupyter).
 * Screenshots: out/browser/.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

const ROOT = path.resolve(__dirname, '..', '..');

interface Lab {
  app: 'notebook6' | 'notebook7' | 'lab';
  base: string;
  token: string;
  version: string;
  notebookUrl(name: string): string;
  stop(): Promise<void>;
}
type StartLab = (o: { quiet: boolean; python?: string; ui?: string }) => Promise<Lab>;

/** How to run every cell and where the outputs are, in the classic Notebook and in JupyterLab's UI (Notebook 7 is built from it). */
const UI = {
  classic: {
    ready: (page: Page, _lab: Lab) => page.waitForSelector('#kernel_indicator_icon.kernel_idle_icon', { timeout: 60_000 }),
    runAll: async (page: Page) => {
      await page.click('#celllink');
      await page.click('#run_all_cells');
    },
    prompts: '.code_cell .input_prompt',
    output: '.output_area',
    stderr: '.output_area .output_stderr, .output_area .output_error',
  },
  jupyterlab: {
    // The tslab kernel named in the toolbar, and idle by the server's account: a "Run All" sent while
    // the kernel is still starting can be lost.
    ready: async (page: Page, lab: Lab) => {
      await page.waitForFunction(() => Array.from(document.querySelectorAll('.jp-KernelName, .jp-Toolbar-kernelName')).some((e) => /tslab/.test(e.textContent ?? '')), undefined, { timeout: 60_000 });
      const deadline = Date.now() + 60_000;
      for (;;) {
        const sessions = (await (await fetch(`${lab.base}/api/sessions?token=${lab.token}`)).json()) as { path: string; kernel?: { execution_state?: string } }[];
        if (sessions.some((x) => x.path.endsWith('00_start_here.ipynb') && x.kernel?.execution_state === 'idle')) break;
        assert.ok(Date.now() < deadline, `the kernel did not become idle: ${JSON.stringify(sessions)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      await page.waitForTimeout(1000);
    },
    runAll: async (page: Page) => {
      await page.getByRole('menuitem', { name: 'Run', exact: true }).click();
      await page.locator('li[data-command="runmenu:run-all"]').click();
    },
    prompts: '.jp-CodeCell .jp-InputPrompt',
    output: '.jp-OutputArea',
    stderr: '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]',
  },
};

for (const target of [
  { name: 'the lab\'s default Jupyter', test: false },
  { name: 'Notebook 7', test: true, ui: 'notebook', app: 'notebook7' },
  { name: 'JupyterLab', test: true, ui: 'lab', app: 'lab' },
]) {
  describe(`browser: notebook 00 in ${target.name}`, function () {
    this.timeout(240_000);
    let lab: Lab;
    let browser: Browser;
    let page: Page;

    before(async () => {
      const chromiumModule = (await import(pathToFileURL(path.join(ROOT, 'scripts', 'chromium.mjs')).href)) as { findChromium(): string | undefined; CHROMIUM_ARGS: string[] };
      const labModule = (await import(pathToFileURL(path.join(ROOT, 'scripts', 'lab.mjs')).href)) as { startLab: StartLab };
      const setupModule = (await import(pathToFileURL(path.join(ROOT, 'scripts', 'setup.mjs')).href)) as { testJupyterPython(): string };
      const python = target.test ? setupModule.testJupyterPython() : undefined;
      if (python) assert.ok(fs.existsSync(python), `${python} is missing: run \`npm run setup -- --browser\` (it installs Notebook 7 and JupyterLab there for this test)`);
      lab = await labModule.startLab({ quiet: true, python, ui: target.ui });
      if (target.app) assert.equal(lab.app, target.app);
      browser = await chromium.launch({ executablePath: chromiumModule.findChromium(), args: chromiumModule.CHROMIUM_ARGS });
      page = await browser.newPage({ viewport: { width: 1280, height: 1600 } });
    });

    after(async () => {
      await browser?.close();
      await lab?.stop();
    });

    afterEach(async function () {
      if (this.currentTest?.state === 'failed' && page) {
        fs.mkdirSync(path.join(ROOT, 'out', 'browser'), { recursive: true });
        await page.screenshot({ path: path.join(ROOT, 'out', 'browser', `notebook00-${lab?.app}-failed.png`), fullPage: true }).catch(() => undefined);
      }
    });

    it('runs every cell from the page and renders the plotly chart without errors', async () => {
      const ui = lab.app === 'notebook6' ? UI.classic : UI.jupyterlab;
      await page.goto(lab.notebookUrl('00_start_here.ipynb'));
      await ui.ready(page, lab);
      await ui.runAll(page);
      // A code cell shows "[*]" while queued or running; wait until every code cell has a number.
      await page.waitForFunction((sel) => {
        const prompts = Array.from(document.querySelectorAll(sel)).map((e) => e.textContent ?? '');
        return prompts.length > 0 && prompts.every((t) => /\[\d+\]/.test(t));
      }, ui.prompts, { timeout: 180_000, polling: 250 });
      await page.waitForSelector(`${ui.output} .js-plotly-plot .main-svg`, { timeout: 30_000 });

      const svgCount = await page.locator(`${ui.output} .js-plotly-plot .main-svg`).count();
      assert.ok(svgCount >= 1, 'plotly drew an SVG in an output area');
      const traces = await page.locator(`${ui.output} .js-plotly-plot .scatterlayer .trace`).count();
      assert.ok(traces >= 1, 'the chart has at least one drawn trace');
      const errors = await page.locator(ui.stderr).allTextContents();
      assert.deepEqual(errors, [], `no cell shows an error, saw: ${errors.join('\n')}`);
      // The environment check reached the lab's Redis from inside the kernel.
      const redisRow = await page.locator(`${ui.output} table tr`, { hasText: 'Redis' }).first().textContent();
      assert.match(redisRow ?? '', /✓.*PING/, `the Redis row of the environment check: ${redisRow}`);
      const missingPlotly = await page.locator('.kvlab-plot', { hasText: 'plotly.js is not loaded' }).count();
      assert.equal(missingPlotly, 0);

      const dir = path.join(ROOT, 'out', 'browser');
      fs.mkdirSync(dir, { recursive: true });
      await page.screenshot({ path: path.join(dir, `notebook00-${lab.app}-${lab.version}.png`), fullPage: true });
    });
  });
}
