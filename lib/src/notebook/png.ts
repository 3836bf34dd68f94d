/**
 * Render plotly figures to PNG files with headless Chromium (Debian's `chromium`, driven by
 * playwright-core): the charts of results folders and docs, as images anyone can open.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { figureToPage } from './plot';
import type { PlotlyFigure } from './figure';
import { ConfigError } from '../runtime/errors';

export interface PngOptions {
  /** @default 980 */
  width?: number;
  /** @default 500 */
  height?: number;
  /** Chromium executable. @default {@link findChromium}: $KVLAB_CHROMIUM, else Chromium or Chrome on PATH or where it is usually installed */
  executablePath?: string;
}

export const DEFAULT_PNG_OPTIONS = { width: 980, height: 500 } as const;

/** Executable names looked up on PATH, in order (the same list as scripts/chromium.mjs, checked by a test). */
export const CHROMIUM_COMMANDS: readonly string[] = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable', 'chrome'];

/** Install locations tried after PATH: Linux packages and snaps, macOS apps, Windows. */
export function chromiumLocations(home = os.homedir()): string[] {
  return [
    '/usr/bin/chromium',
    '/usr/bin/chromium-browser',
    '/snap/bin/chromium',
    '/usr/bin/google-chrome',
    '/opt/google/chrome/chrome',
    '/Applications/Chromium.app/Contents/MacOS/Chromium',
    '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
    path.join(home, 'Applications', 'Chromium.app', 'Contents', 'MacOS', 'Chromium'),
    path.join(home, 'Applications', 'Google Chrome.app', 'Contents', 'MacOS', 'Google Chrome'),
    'C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe',
    'C:\\Program Files (x86)\\Google\\Chrome\\Application\\chrome.exe',
  ];
}

function executableOnPath(command: string, envPath: string | undefined): string | undefined {
  for (const dir of (envPath ?? '').split(path.delimiter)) {
    if (!dir) continue;
    for (const ext of process.platform === 'win32' ? ['.exe', ''] : ['']) {
      const candidate = path.join(dir, command + ext);
      try {
        fs.accessSync(candidate, fs.constants.X_OK);
        if (fs.statSync(candidate).isFile()) return candidate;
      } catch { /* not here */ }
    }
  }
  return undefined;
}

/**
 * The Chromium to drive: $KVLAB_CHROMIUM as given (a typo is reported, not silently replaced), else the
 * first of {@link CHROMIUM_COMMANDS} on PATH, else the first existing {@link chromiumLocations} entry.
 */
export function findChromium(env: NodeJS.ProcessEnv = process.env, home = os.homedir()): string | undefined {
  if (env.KVLAB_CHROMIUM) return env.KVLAB_CHROMIUM;
  for (const command of CHROMIUM_COMMANDS) {
    const found = executableOnPath(command, env.PATH);
    if (found) return found;
  }
  return chromiumLocations(home).find((p) => fs.existsSync(p));
}

function chromiumPath(): string {
  const found = findChromium();
  if (!found) throw new ConfigError('no Chromium found for PNG charts: install Chromium or Chrome (Debian: `apt-get install chromium`; macOS: `brew install --cask google-chrome`), or set KVLAB_CHROMIUM to its executable');
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
