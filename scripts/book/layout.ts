/**
 * The HTML around a page: the book's table of contents in a sidebar, the page's own headings, its
 * study time and run, previous/next links; and the index page with the whole table of contents.
 */
import * as path from 'node:path';
import { escapeHtml, type Heading } from './markdown';
import type { RunInfo } from './notebook';
import { PARTS, type PageSource } from './pages';

export interface StudyTime {
  minutes: number;
  /** How it was arrived at, shown to the reader: the notebook's own words or an estimate. */
  basis: string;
}

export interface BuiltPage extends PageSource {
  title: string;
  body: string;
  headings: Heading[];
  study: StudyTime;
  charts: number;
  hasMath: boolean;
  run?: RunInfo;
  /** A problem of the run to show on the page (a failed notebook). */
  warning?: string;
}

export interface BookInfo {
  built: string;
  commit?: string;
  /** 'full', 'fast', or 'mixed' over the notebooks. */
  mode: string;
}

export const WORDS_PER_MINUTE = 200;

/** A page's study time from its word count: WORDS_PER_MINUTE, rounded up to 5 minutes. */
export function estimateStudy(words: number): StudyTime {
  const minutes = Math.max(5, Math.ceil(words / WORDS_PER_MINUTE / 5) * 5);
  return { minutes, basis: `estimated from its ${words.toLocaleString('en-US')} words at ${WORDS_PER_MINUTE} words a minute` };
}

export function formatMinutes(m: number): string {
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  return `${h} h${m % 60 ? ` ${m % 60} min` : ''}`;
}

function rel(from: string, to: string): string {
  return path.posix.relative(path.posix.dirname(from), to) || path.posix.basename(to);
}

function runLine(run: RunInfo | undefined): string {
  if (!run) return 'Outputs from a run of unknown mode.';
  const when = run.date.slice(0, 10);
  return run.fast
    ? `Outputs from a <strong>fast-mode</strong> run (KVLAB_FAST=1: small sizes) on ${when}; the published book shows a full run.`
    : `Outputs from a full run on ${when}${run.seconds !== undefined ? `, ${Math.round(run.seconds)} s to execute` : ''}.`;
}

function toc(pages: readonly BuiltPage[], current: string | undefined): string {
  return PARTS.map((part) => {
    const items = pages.filter((p) => p.part === part).map((p) =>
      `<li${p.site === current ? ' class="current"' : ''}><a href="${escapeHtml(current ? rel(current, p.site) : p.site)}">${escapeHtml(p.title)}</a> <span class="time">${formatMinutes(p.study.minutes)}</span></li>`);
    return items.length ? `<li class="part"><span>${escapeHtml(part)}</span><ul>${items.join('')}</ul></li>` : '';
  }).join('');
}

function shell(opts: { title: string; site: string; body: string; sidebar: string; charts: boolean; math: boolean }): string {
  const asset = (a: string): string => escapeHtml(rel(opts.site, `assets/${a}`));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(opts.title)} · kvcache-lab</title>
<link rel="stylesheet" href="${asset('book.css')}"><link rel="stylesheet" href="${asset('hljs.css')}">${opts.math ? `<link rel="stylesheet" href="${asset('katex/katex.min.css')}">` : ''}
</head><body>
<nav class="sidebar" aria-label="Table of contents"><a class="home" href="${escapeHtml(rel(opts.site, 'index.html'))}">kvcache-lab</a><ul class="toc">${opts.sidebar}</ul></nav>
<main>${opts.body}</main>
${opts.charts ? `<script src="${asset('plotly.min.js')}"></script>\n` : ''}<script src="${asset('book.js')}"></script>
</body></html>
`;
}

/** A page of the book, with its neighbours in reading order. */
export function renderPage(page: BuiltPage, pages: readonly BuiltPage[], info: BookInfo): string {
  const i = pages.indexOf(page);
  const prev = pages[i - 1];
  const next = pages[i + 1];
  const onThisPage = page.headings.filter((h) => h.depth === 2);
  const meta = [
    `<span class="part">${escapeHtml(page.part)}</span>`,
    `<span class="study" title="${escapeHtml(page.study.basis)}">Study time: about ${page.study.minutes} minutes (${escapeHtml(page.study.basis)})</span>`,
    page.kind === 'notebook' ? `<span class="run">${runLine(page.run)} <a href="${escapeHtml(rel(page.site, page.source))}" download>${escapeHtml(path.posix.basename(page.source))}</a> is the notebook to run yourself (npm start).</span>` : '',
  ].filter(Boolean).join('\n');
  const body = `<header class="page-meta">${meta}</header>
${page.warning ? `<p class="warning">${escapeHtml(page.warning)}</p>` : ''}
${onThisPage.length > 1 ? `<nav class="on-this-page" aria-label="On this page"><strong>On this page</strong><ul>${onThisPage.map((h) => `<li><a href="#${escapeHtml(h.id)}">${escapeHtml(h.text)}</a></li>`).join('')}</ul></nav>` : ''}
<article class="${page.kind}">
${page.body}
</article>
<nav class="prevnext">${prev ? `<a rel="prev" href="${escapeHtml(rel(page.site, prev.site))}">← ${escapeHtml(prev.title)}</a>` : '<span></span>'}${next ? `<a rel="next" href="${escapeHtml(rel(page.site, next.site))}">${escapeHtml(next.title)} →</a>` : '<span></span>'}</nav>
<footer>Built ${escapeHtml(info.built.slice(0, 10))}${info.commit ? ` from ${escapeHtml(info.commit.slice(0, 12))}` : ''} by <code>npm run book</code>.</footer>`;
  return shell({ title: page.title, site: page.site, body, sidebar: toc(pages, page.site), charts: page.charts > 0, math: page.hasMath });
}

/** The index: what the book is, how it was made, and the table of contents with study times. */
export function renderIndex(pages: readonly BuiltPage[], info: BookInfo): string {
  const total = pages.reduce((a, p) => a + p.study.minutes, 0);
  const notebooks = pages.filter((p) => p.kind === 'notebook');
  const modeNote = info.mode === 'full'
    ? 'Every notebook page shows the outputs of a full run (the sizes of the published charts), executed on one machine; charts are interactive and work offline.'
    : `<strong>This build shows ${info.mode === 'fast' ? 'fast-mode' : 'partly fast-mode'} outputs</strong> (KVLAB_FAST=1: small sizes, as <code>npm test</code> runs them). The published book is built from a full run: <code>npm run reproduce</code>, then <code>npm run book</code>.`;
  const sections = PARTS.map((part) => {
    const list = pages.filter((p) => p.part === part);
    if (!list.length) return '';
    const id = part.toLowerCase().replace(/[^a-z]+/g, '-');
    const minutes = list.reduce((a, p) => a + p.study.minutes, 0);
    return `<section><h2 id="${id}">${escapeHtml(part)} <span class="time">${formatMinutes(minutes)}</span></h2><ol class="contents">${list.map((p) =>
      `<li><a href="${escapeHtml(p.site)}">${escapeHtml(p.title)}</a> <span class="time" title="${escapeHtml(p.study.basis)}">about ${p.study.minutes} min</span>${p.charts ? ` <span class="charts">${p.charts} chart${p.charts > 1 ? 's' : ''}</span>` : ''}</li>`).join('')}</ol></section>`;
  }).join('\n');
  const body = `<article class="index"><h1 id="kvcache-lab">kvcache-lab: KV caching for LLM serving</h1>
<p>An interactive, tested course: a small Llama-style model with a real KV cache, prefix hashing, a tensor format, Redis and Redis Cluster stores, a serving engine and benchmarks, in TypeScript. This is the course as a book: the ${notebooks.length} notebooks executed, with their outputs, and the written course. To run the code yourself, see <a href="getting-started.html">Getting started</a>.</p>
<p>${modeNote}</p>
<p class="total">Study time, all pages: about ${formatMinutes(total)} (notebooks as they state it; other pages estimated from their length at ${WORDS_PER_MINUTE} words a minute).</p>
${sections}
</article>
<footer>Built ${escapeHtml(info.built.slice(0, 10))}${info.commit ? ` from ${escapeHtml(info.commit.slice(0, 12))}` : ''} by <code>npm run book</code>.</footer>`;
  return shell({ title: 'Contents', site: 'index.html', body, sidebar: toc(pages, 'index.html'), charts: false, math: false });
}
