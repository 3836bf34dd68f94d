import * as fs from 'node:fs';
import { InvalidInputError } from '../runtime/errors';
import { escapeHtml, jsonForScript, sendDisplay } from '../runtime/kernel';

import type { PlotlyFigure } from './figure';

export type { PlotlyFigure };

export interface PlotOptions {
  /**
   * Height of the chart in pixels.
   * @default 420
   */
  height?: number;
}

export const DEFAULT_PLOT_OPTIONS: Required<PlotOptions> = { height: 420 };

export const PLOTLY_MIME = 'application/vnd.plotly.v1+json';

let plotlyBundle: string | undefined;
let bundleSent = false;
let plotCounter = 0;

/** The minified plotly.js shipped in node_modules — never a CDN, so notebooks work offline. */
export function plotlyScript(): string {
  if (plotlyBundle === undefined) {
    plotlyBundle = fs.readFileSync(require.resolve('plotly.js-dist-min/plotly.min.js'), 'utf8');
  }
  return plotlyBundle;
}

/** The bundle as a script tag; it sets `window.Plotly`. */
function bundleTags(): string {
  return `<script type="text/javascript">${plotlyScript().replace(/<\/script/gi, '<\\/script')}</script>\n`;
}

export interface FigureHtmlOptions extends PlotOptions {
  /** Element id of the chart's div. */
  id: string;
  /** Inline the plotly.js bundle before the chart. */
  includePlotly: boolean;
}

/** HTML that draws `figure` with plotly.js (inline bundle optional), usable in notebooks and pages. */
export function figureToHtml(figure: PlotlyFigure, options: FigureHtmlOptions): string {
  const height = options.height ?? DEFAULT_PLOT_OPTIONS.height;
  const fig = { data: figure.data, layout: { height, ...(figure.layout ?? {}) }, config: { responsive: true, displaylogo: false, ...(figure.config ?? {}) } };
  const id = escapeHtml(options.id);
  return (
    (options.includePlotly ? bundleTags() : '') +
    `<div id="${id}" class="kvlab-plot" style="width:100%;min-height:${height}px;"></div>\n` +
    '<script type="text/javascript">(function () {\n' +
    `  var fig = ${jsonForScript(fig)};\n` +
    `  var el = document.getElementById(${JSON.stringify(options.id)});\n` +
    '  if (window.Plotly) { window.Plotly.newPlot(el, fig.data, fig.layout, fig.config); }\n' +
    "  else { el.textContent = 'plotly.js is not loaded on this page: run the first chart cell of the notebook again.'; }\n" +
    '})();</script>'
  );
}

function validateFigure(figure: PlotlyFigure): void {
  if (figure === null || typeof figure !== 'object' || !Array.isArray(figure.data)) {
    throw new InvalidInputError('plot() needs a figure object { data: [...traces], layout?, config? }');
  }
}

function describeFigure(figure: PlotlyFigure): string {
  const title = figure.layout?.title;
  const text = typeof title === 'string' ? title : (title as { text?: string } | undefined)?.text;
  return `<Plotly figure${text ? `: ${text}` : ''}, ${figure.data.length} trace(s)>`;
}

/**
 * Show a plotly chart. In a tslab notebook this sends ONE output carrying the figure as plotly JSON
 * (rendered natively by JupyterLab/Notebook 7 with plotly support and VS Code) and as HTML that
 * draws it with the bundled plotly.js (classic Notebook, exported HTML). The bundle is sent once
 * per kernel; element ids are deterministic (`kvlab-plot-1`, `-2`, … per kernel).
 * Outside a notebook it does nothing: scripts save charts with {@link figureToPage}.
 * Returns nothing, so that a cell ending in `plot(…)` prints nothing extra.
 */
export function plot(figure: PlotlyFigure, options: PlotOptions = {}): void {
  validateFigure(figure);
  plotCounter += 1;
  const id = `kvlab-plot-${plotCounter}`;
  const html = figureToHtml(figure, { ...DEFAULT_PLOT_OPTIONS, ...options, id, includePlotly: !bundleSent });
  const shown = sendDisplay({
    [PLOTLY_MIME]: { data: figure.data, layout: figure.layout ?? {}, config: figure.config ?? {} },
    'text/html': html,
    'text/plain': describeFigure(figure),
  });
  if (shown) bundleSent = true;
}

/** A complete standalone HTML page for a figure (for results folders and docs). */
export function figureToPage(figure: PlotlyFigure, title: string, options: PlotOptions = {}): string {
  return (
    `<!doctype html>\n<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body>\n` +
    figureToHtml(figure, { ...DEFAULT_PLOT_OPTIONS, ...options, id: 'kvlab-plot', includePlotly: true }) +
    '\n</body></html>\n'
  );
}
