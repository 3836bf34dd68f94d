/**
 * One executed notebook (nbformat 4) → the body of a book page. Markdown cells through PageMarkdown,
 * code cells highlighted, outputs by the richest type we can show offline: a plotly figure becomes a
 * chart that the site's single copy of plotly.js draws (the HTML copy the kernel also sent carries a
 * whole plotly.js bundle and is not used), then HTML, markdown, images, plain text; streams and errors
 * as Jupyter shows them.
 */
import { escapeHtml, highlight, type PageMarkdown } from './markdown';

export const PLOTLY_MIME = 'application/vnd.plotly.v1+json';

type MultilineString = string | string[];
interface Output {
  output_type: 'stream' | 'display_data' | 'execute_result' | 'error';
  name?: string;
  text?: MultilineString;
  data?: Record<string, unknown>;
  ename?: string;
  evalue?: string;
  traceback?: string[];
}
interface Cell {
  cell_type: 'markdown' | 'code' | 'raw';
  source: MultilineString;
  outputs?: Output[];
}
/** How the run that produced an executed copy went (scripts/run_notebooks.py writes it). */
export interface RunInfo {
  fast: boolean;
  date: string;
  seconds?: number;
  solutions?: boolean;
}
export interface Notebook {
  cells: Cell[];
  metadata?: { kvlab?: { run?: RunInfo } };
}

export interface RenderedNotebook {
  html: string;
  /** Charts on the page (each must draw). */
  charts: number;
  /** The markdown and code a reader reads. */
  markdown: string;
  code: string;
  run?: RunInfo;
}

export const joinText = (s: MultilineString | undefined): string => (Array.isArray(s) ? s.join('') : (s ?? ''));

// Terminal colours and cursor moves in streams and tracebacks.
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/g;

/** What a terminal would show: ANSI codes dropped, each line as left by its last carriage return. */
export function terminalText(s: string): string {
  return s.replace(ANSI, '').split('\n').map((line) => line.split('\r').filter((part) => part !== '').pop() ?? '').join('\n');
}

function renderChart(figure: unknown, chartIndex: number): string {
  const fig = figure as { data?: unknown[]; layout?: { height?: number } };
  const height = fig.layout?.height ?? 420;
  // The figure as JSON in a script element (never executed); assets/book.js draws every chart.
  const json = JSON.stringify(figure).replace(/</g, '\\u003c');
  return `<div class="output chart"><div class="kvlab-chart" id="chart-${chartIndex}" style="min-height:${height}px"></div>` +
    `<script type="application/json" class="kvlab-figure" data-for="chart-${chartIndex}">${json}</script></div>\n`;
}

function renderData(data: Record<string, unknown>, md: PageMarkdown, state: { charts: number }): string {
  if (data[PLOTLY_MIME]) return renderChart(data[PLOTLY_MIME], ++state.charts);
  const text = (mime: string): string => joinText(data[mime] as MultilineString);
  if (data['text/html'] !== undefined) return `<div class="output html">${text('text/html')}</div>\n`;
  if (data['text/markdown'] !== undefined) return `<div class="output markdown">${md.render(text('text/markdown'))}</div>\n`;
  if (data['image/svg+xml'] !== undefined) return `<div class="output image">${text('image/svg+xml')}</div>\n`;
  for (const mime of ['image/png', 'image/jpeg', 'image/gif']) {
    if (data[mime] !== undefined) return `<div class="output image"><img alt="output" src="data:${mime};base64,${text(mime).replace(/\s/g, '')}"></div>\n`;
  }
  if (data['text/plain'] !== undefined) return `<pre class="output text">${escapeHtml(terminalText(text('text/plain')))}</pre>\n`;
  return '';
}

function renderOutput(o: Output, md: PageMarkdown, state: { charts: number }): string {
  switch (o.output_type) {
    case 'stream':
      return `<pre class="output stream ${o.name === 'stderr' ? 'stderr' : 'stdout'}">${escapeHtml(terminalText(joinText(o.text)))}</pre>\n`;
    case 'error':
      return `<pre class="output error">${escapeHtml(terminalText([`${o.ename}: ${o.evalue}`, ...(o.traceback ?? [])].join('\n')))}</pre>\n`;
    default:
      return o.data ? renderData(o.data, md, state) : '';
  }
}

/** The page body of an executed notebook. */
export function renderNotebook(nb: Notebook, md: PageMarkdown): RenderedNotebook {
  const state = { charts: 0 };
  const parts: string[] = [];
  let markdown = '';
  let code = '';
  for (const cell of nb.cells) {
    const source = joinText(cell.source);
    if (cell.cell_type === 'markdown') {
      markdown += source + '\n\n';
      parts.push(`<section class="cell markdown">${md.render(source)}</section>\n`);
    } else if (cell.cell_type === 'code') {
      code += source + '\n';
      const outputs = (cell.outputs ?? []).map((o) => renderOutput(o, md, state)).join('');
      parts.push(`<section class="cell code"><pre class="source"><code class="hljs language-typescript">${highlight(source, 'typescript')}</code></pre>` +
        (outputs ? `<div class="outputs">${outputs}</div>` : '') + '</section>\n');
    }
  }
  return { html: parts.join(''), charts: state.charts, markdown, code, run: nb.metadata?.kvlab?.run };
}

/** "Study time: about N minutes" as the notebook states it in its first markdown cell. */
export function statedStudyMinutes(nb: Notebook): number | undefined {
  const first = nb.cells.find((c) => c.cell_type === 'markdown');
  const m = first ? /Study time\W{0,6}about\s+(\d+)\s*min/i.exec(joinText(first.source)) : null;
  return m ? Number(m[1]) : undefined;
}
