/// <reference lib="dom" />
/**
 * The browser test: headless Chromium opens notebook 00 in the Jupyter server that `npm start`
 * runs, runs all cells from the page's own menu, and checks that the chart really rendered
 * (plotly's SVG in an output area) and that no cell shows an error. Screenshot: out/browser/.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

const ROOT = path.resolve(__dirname, '..', '..');

interface Lab {
  base: string;
  token: string;
  stop(): Promise<void>;
}

describe('browser: notebook 00 in the lab', function () {
  this.timeout(240_000);
  let lab: Lab;
  let browser: Browser;
  let page: Page;

  before(async () => {
    const chromiumModule = (await import(pathToFileURL(path.join(ROOT, 'scripts', 'chromium.mjs')).href)) as { findChromium(): string | undefined; CHROMIUM_ARGS: string[] };
    const labModule = (await import(pathToFileURL(path.join(ROOT, 'scripts', 'lab.mjs')).href)) as { startLab(o: { quiet: boolean }): Promise<Lab> };
    lab = await labModule.startLab({ quiet: true });
    browser = await chromium.launch({
      executablePath: chromiumModule.findChromium(),
      args: chromiumModule.CHROMIUM_ARGS,
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 1600 } });
  });

  after(async () => {
    await browser?.close();
    await lab?.stop();
  });

  it('runs every cell from the page and renders the plotly chart without errors', async () => {
    await page.goto(`${lab.base}/notebooks/00_start_here.ipynb?token=${lab.token}`);
    // Wait for the notebook to load and its tslab kernel to be idle.
    await page.waitForSelector('#kernel_indicator_icon.kernel_idle_icon', { timeout: 60_000 });
    await page.click('#celllink');
    await page.click('#run_all_cells');
    // A code cell shows "In [*]" while queued or running; wait until every code cell has a number.
    await page.waitForFunction(() => {
      const prompts = Array.from(document.querySelectorAll('.code_cell .input_prompt')).map((e) => e.textContent ?? '');
      return prompts.length > 0 && prompts.every((t) => /In\s*\[\d+\]/.test(t));
    }, undefined, { timeout: 180_000, polling: 250 });
    await page.waitForSelector('.output_area .js-plotly-plot .main-svg', { timeout: 30_000 });

    const svgCount = await page.locator('.output_area .js-plotly-plot .main-svg').count();
    assert.ok(svgCount >= 1, 'plotly drew an SVG in an output area');
    const traces = await page.locator('.output_area .js-plotly-plot .scatterlayer .trace').count();
    assert.ok(traces >= 1, 'the chart has at least one drawn trace');
    const errors = await page.locator('.output_area .output_stderr, .output_area .output_error').allTextContents();
    assert.deepEqual(errors, [], `no cell shows an error, saw: ${errors.join('\n')}`);
    // The environment check reached the lab's Redis from inside the kernel.
    const redisRow = await page.locator('.output_area table tr', { hasText: 'Redis' }).first().textContent();
    assert.match(redisRow ?? '', /✓.*PING/, `the Redis row of the environment check: ${redisRow}`);
    const missingPlotly = await page.locator('.kvlab-plot', { hasText: 'plotly.js is not loaded' }).count();
    assert.equal(missingPlotly, 0);

    const dir = path.join(ROOT, 'out', 'browser');
    fs.mkdirSync(dir, { recursive: true });
    await page.screenshot({ path: path.join(dir, 'notebook00.png'), fullPage: true });
  });
});
