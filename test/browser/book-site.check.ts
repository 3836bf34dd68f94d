/// <reference lib="dom" />
/**
 * The book in a real browser: every page of a built site (out/book, or $KVLAB_BOOK_DIR) served over
 * HTTP as GitHub Pages would, opened in headless Chromium: it loads without a console error, a page
 * error or a failed request, asks for nothing outside the site (offline), shows its study time, and
 * every chart the build counted draws an SVG.
 *
 * Not a `*.test.ts`: it needs a built book, which needs executed notebooks. `npm test` runs it after
 * its notebook stage has executed them and `npm run book` has built the site; by hand:
 * `npm run book && npx mocha test/browser/book-site.check.ts`.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

interface Manifest {
  info: { mode: string };
  pages: { site: string; title: string; kind: string; charts: number; studyMinutes: number }[];
}

const ROOT = path.resolve(__dirname, '..', '..');
const DIR = path.resolve(process.env.KVLAB_BOOK_DIR ?? path.join(ROOT, 'out', 'book'));
const manifestFile = path.join(DIR, 'book.json');
const manifest: Manifest = fs.existsSync(manifestFile) ? JSON.parse(fs.readFileSync(manifestFile, 'utf8')) : { info: { mode: 'none' }, pages: [] };

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json', '.png': 'image/png', '.woff2': 'font/woff2', '.ipynb': 'application/json' };

/** A static file server for DIR on a free loopback port (what GitHub Pages does for the folder). */
function serve(dir: string): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const file = path.join(dir, decodeURIComponent(url.pathname));
    if (!file.startsWith(dir) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe(`the book in Chromium (${path.relative(ROOT, DIR) || DIR}, ${manifest.pages.length} pages, ${manifest.info.mode} mode)`, function () {
  this.timeout(120_000);
  let server: http.Server;
  let base: string;
  let browser: Browser;

  before(async () => {
    assert.ok(manifest.pages.length > 0, `no built book at ${DIR}: run \`npm run book\` first`);
    server = await serve(DIR);
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const { findChromium, CHROMIUM_ARGS } = (await import(pathToFileURL(path.join(ROOT, 'scripts', 'chromium.mjs')).href)) as { findChromium(): string; CHROMIUM_ARGS: string[] };
    browser = await chromium.launch({ executablePath: findChromium(), args: CHROMIUM_ARGS });
  });

  after(async () => {
    await browser?.close();
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
  });

  async function open(site: string): Promise<{ page: Page; problems: string[] }> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} (${r.failure()?.errorText})`));
    page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`); });
    // Offline: anything outside the site is refused and reported.
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(base) || url.startsWith('data:')) return route.continue();
      problems.push(`asked the network for ${url}`);
      return route.abort();
    });
    await page.goto(`${base}/${site}`, { waitUntil: 'load' });
    return { page, problems };
  }

  for (const p of manifest.pages) {
    it(`${p.site}${p.charts ? ` draws its ${p.charts} chart${p.charts > 1 ? 's' : ''}` : ' loads'}, offline, without errors`, async () => {
      const { page, problems } = await open(p.site);
      try {
        if (p.charts > 0) {
          // Until every chart drew, or it is clear that they cannot (no plotly.js, an error logged).
          await page.waitForFunction((n) => document.querySelectorAll('.kvlab-chart[data-drawn="true"]').length >= n ||
            document.querySelectorAll('.kvlab-chart').length !== n || !(window as unknown as { Plotly?: unknown }).Plotly, p.charts, { timeout: 60_000, polling: 200 })
            .catch(() => problems.push('charts still not drawn after 60 s'));
          assert.equal(await page.locator('.kvlab-chart').count(), p.charts, 'the page has the charts the build counted');
          const withSvg = await page.locator('.kvlab-chart .main-svg').evaluateAll((els) => new Set(els.map((e) => e.closest('.kvlab-chart')!.id)).size);
          assert.equal(withSvg, p.charts, 'every chart drew an SVG');
          assert.equal(await page.locator('.kvlab-chart[data-drawn="true"]').count(), p.charts);
        }
        if (p.kind !== 'index') {
          const study = await page.locator('.page-meta .study').textContent();
          assert.match(study ?? '', new RegExp(`Study time: about ${p.studyMinutes} minutes`));
          assert.ok(await page.locator('nav.prevnext a').count() >= 1, 'a previous or next link');
        } else {
          assert.equal(await page.locator('.contents li').count(), manifest.pages.length - 1, 'the contents list every page');
        }
        assert.ok(await page.locator('.sidebar .toc a').count() >= manifest.pages.length - 1, 'the table of contents');
        assert.deepEqual(problems, [], problems.join('\n'));
      } finally {
        await page.close();
      }
    });
  }

  it('every link between pages leads to a file of the site', async () => {
    const missing: string[] = [];
    for (const p of manifest.pages) {
      const html = fs.readFileSync(path.join(DIR, p.site), 'utf8');
      for (const m of html.matchAll(/(?:href|src)="([^"#:]+)(?:#[^"]*)?"/g)) {
        const target = path.join(DIR, path.dirname(p.site), m[1]!.replace(/&amp;/g, '&'));
        if (!fs.existsSync(target)) missing.push(`${p.site} → ${m[1]}`);
      }
    }
    assert.deepEqual(missing, []);
  });
});
