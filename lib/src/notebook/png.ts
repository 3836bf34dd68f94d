/**
 * Render plotly figures to PNG files with headless Chromium (Debian's `chromium`, driven by
 * playwright-core): the charts of results folders and docs, as images anyone can open.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { figureToPage } from './plot';
import type { PlotlyFigure } from './figure';
import { ConfigError } from '../runtime/errors';

export interface PngOptions {
  /** @default 980 */
  width?: number;
  /** @default 500 */
  height?: number;
  /** Chromium executable. @default $KVLAB_CHROMIUM, /usr/bin/chromium or /usr/bin/chromium-browser */
  executablePath?: string;
}

export const DEFAULT_PNG_OPTIONS = { width: 980, height: 500 } as const;

function chromiumPath(): string {
  const found = process.env.KVLAB_CHROMIUM ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p));
  if (!found) throw new ConfigError('no Chromium found for PNG charts: install Debian\'s `chromium` or set KVLAB_CHROMIUM');
  return found;
}

/** Write each figure to `<dir>/<name>.png`; returns the files written. */
export async function renderFiguresToPng(figures: Record<string, PlotlyFigure>, dir: string, options: PngOptions = {}): Promise<string[]> {
  const names = Object.keys(figures);
  if (names.length === 0) return [];
  const width = options.width ?? DEFAULT_PNG_OPTIONS.width;
  const height = options.height ?? DEFAULT_PNG_OPTIONS.height;
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: options.executablePath ?? chromiumPath(),
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const written: string[] = [];
  try {
    const page = await browser.newPage({ viewport: { width: width + 20, height: height + 20 } });
    fs.mkdirSync(dir, { recursive: true });
    for (const name of names) {
      const fig = figures[name] as PlotlyFigure;
      await page.setContent(figureToPage({ ...fig, layout: { width, height, ...(fig.layout ?? {}) }, config: { staticPlot: true } }, name, { height }));
      await page.waitForSelector('#kvlab-plot .main-svg');
      const file = path.join(dir, `${name}.png`);
      await page.locator('#kvlab-plot').screenshot({ path: file });
      written.push(file);
    }
  } finally {
    await browser.close();
  }
  return written;
}
