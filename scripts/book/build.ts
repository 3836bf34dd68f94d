/**
 * Build the book: every page rendered, links checked, assets copied once (plotly.js, KaTeX's styles
 * and fonts, the highlighting theme, images the pages use), and a manifest (book.json) that the
 * browser check reads to know what each page must show.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SiteLinks } from './links';
import { estimateStudy, renderIndex, renderPage, type BookInfo, type BuiltPage } from './layout';
import { PageMarkdown, countWords } from './markdown';
import { joinText, renderNotebook, statedStudyMinutes, type Notebook } from './notebook';
import { listPages, type PageSource } from './pages';

export interface BuildOptions {
  root: string;
  /** The folder of executed notebooks (`out/notebooks`, `out/reproduce/notebooks`). */
  from: string;
  out: string;
  /** Prefix of links to other files of the repository (`https://github.com/o/r/blob/<sha>`). */
  repoBlobUrl?: string;
}

export interface BookManifest {
  info: BookInfo;
  pages: { site: string; title: string; kind: string; charts: number; studyMinutes: number; studyBasis: string; fast?: boolean }[];
}

export interface BuildResult {
  manifest: BookManifest;
  broken: { from: string; href: string; why: string }[];
  /** Links to repository files dropped because the repository's address is unknown. */
  dropped: number;
  warnings: string[];
}

interface RunResult { notebook: string; status: string; cell?: number; error?: string }

function readRunResults(from: string): Map<string, RunResult> {
  try {
    const list = JSON.parse(fs.readFileSync(path.join(from, 'results.json'), 'utf8')) as RunResult[];
    return new Map(list.map((r) => [r.notebook, r]));
  } catch {
    return new Map();
  }
}

const markdownCells = (nb: Notebook): string => nb.cells.filter((c) => c.cell_type === 'markdown').map((c) => joinText(c.source)).join('\n');

function buildNotebookPage(p: PageSource, md: PageMarkdown, opts: BuildOptions, runs: Map<string, RunResult>, warnings: string[]): Omit<BuiltPage, 'title' | 'headings' | 'hasMath'> {
  const name = path.posix.basename(p.source);
  const executedFile = path.join(opts.from, name);
  if (!fs.existsSync(executedFile)) {
    throw new Error(`no executed copy of ${p.source} in ${path.relative(opts.root, opts.from) || opts.from}: run \`npm run reproduce\` (or \`npm run notebooks\`) first, or point --from at a folder of executed notebooks`);
  }
  const executed = JSON.parse(fs.readFileSync(executedFile, 'utf8')) as Notebook;
  const current = JSON.parse(fs.readFileSync(path.join(opts.root, p.source), 'utf8')) as Notebook;
  if (markdownCells(executed) !== markdownCells(current)) warnings.push(`${name}: the executed copy's text differs from ${p.source} (executed from an older version?): run it again`);
  const r = renderNotebook(executed, md);
  const stated = statedStudyMinutes(executed);
  const run = runs.get(name);
  return {
    ...p,
    body: r.html,
    charts: r.charts,
    run: r.run,
    study: stated !== undefined ? { minutes: stated, basis: 'as the notebook states it' } : estimateStudy(countWords(r.markdown) + countWords(r.code)),
    warning: run && run.status !== 'passed' ? `This notebook did not run to the end in the run shown here (${run.error ?? run.status}); its outputs stop there.` : undefined,
  };
}

function copyAssets(root: string, out: string, images: Iterable<string>): void {
  const assets = path.join(out, 'assets');
  fs.mkdirSync(path.join(assets, 'katex', 'fonts'), { recursive: true });
  const copy = (from: string, to: string): void => {
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.copyFileSync(from, to);
  };
  const nm = (...p: string[]): string => path.join(root, 'node_modules', ...p);
  copy(nm('plotly.js-dist-min', 'plotly.min.js'), path.join(assets, 'plotly.min.js'));
  copy(nm('katex', 'dist', 'katex.min.css'), path.join(assets, 'katex', 'katex.min.css'));
  // Browsers take the first format of each @font-face that they support: woff2, in all of ours.
  for (const f of fs.readdirSync(nm('katex', 'dist', 'fonts')).filter((f) => f.endsWith('.woff2'))) copy(nm('katex', 'dist', 'fonts', f), path.join(assets, 'katex', 'fonts', f));
  copy(nm('highlight.js', 'styles', 'github.min.css'), path.join(assets, 'hljs.css'));
  for (const f of ['book.css', 'book.js']) copy(path.join(root, 'scripts', 'book', 'assets', f), path.join(assets, f));
  for (const img of images) copy(path.join(root, ...img.split('/')), path.join(out, ...img.split('/')));
}

function gitCommit(root: string): string | undefined {
  if (process.env.GITHUB_SHA) return process.env.GITHUB_SHA;
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

export function buildBook(opts: BuildOptions): BuildResult {
  const sources = listPages(opts.root);
  const links = new SiteLinks(opts.root, sources, opts.repoBlobUrl);
  const runs = readRunResults(opts.from);
  const warnings: string[] = [];
  let dropped = 0;
  const pages: BuiltPage[] = sources.map((p) => {
    const md = new PageMarkdown(links.resolverFor(p));
    let page: Omit<BuiltPage, 'title' | 'headings' | 'hasMath'>;
    if (p.kind === 'notebook') {
      page = buildNotebookPage(p, md, opts, runs, warnings);
    } else {
      const text = fs.readFileSync(path.join(opts.root, p.source), 'utf8');
      page = { ...p, body: md.render(text), charts: 0, study: estimateStudy(countWords(text)) };
    }
    dropped += md.dropped.length;
    const title = md.headings.find((h) => h.depth === 1)?.text ?? path.posix.basename(p.source);
    return { ...page, title, headings: md.headings, hasMath: page.body.includes('class="katex') };
  });

  const idsByPage = new Map(pages.map((p) => [p.site, new Set(p.headings.map((h) => h.id))]));
  idsByPage.set('index.html', new Set(['kvcache-lab', 'start-here', 'notebooks', 'the-written-course', 'reference']));
  const broken = links.broken(idsByPage);

  const fastness = pages.filter((p) => p.kind === 'notebook').map((p) => p.run?.fast);
  const mode = fastness.every((f) => f === false) ? 'full' : fastness.every((f) => f === true) ? 'fast' : 'mixed';
  const info: BookInfo = { built: new Date().toISOString(), commit: gitCommit(opts.root), mode };

  fs.rmSync(opts.out, { recursive: true, force: true });
  fs.mkdirSync(opts.out, { recursive: true });
  for (const p of pages) {
    const file = path.join(opts.out, ...p.site.split('/'));
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, renderPage(p, pages, info));
    // The notebook itself (as committed, without outputs) beside its page, to download and run.
    if (p.kind === 'notebook') fs.copyFileSync(path.join(opts.root, p.source), path.join(path.dirname(file), path.posix.basename(p.source)));
  }
  fs.writeFileSync(path.join(opts.out, 'index.html'), renderIndex(pages, info));
  // GitHub Pages would otherwise run the site through Jekyll, which skips folders such as _static.
  fs.writeFileSync(path.join(opts.out, '.nojekyll'), '');
  copyAssets(opts.root, opts.out, links.assets);

  const manifest: BookManifest = {
    info,
    pages: [{ site: 'index.html', title: 'Contents', kind: 'index', charts: 0, studyMinutes: 0, studyBasis: '' },
      ...pages.map((p) => ({ site: p.site, title: p.title, kind: p.kind, charts: p.charts, studyMinutes: p.study.minutes, studyBasis: p.study.basis, fast: p.run?.fast }))],
  };
  fs.writeFileSync(path.join(opts.out, 'book.json'), JSON.stringify(manifest, null, 2) + '\n');
  return { manifest, broken, dropped, warnings };
}
