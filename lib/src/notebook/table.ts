import { InvalidInputError } from '../runtime/errors';
import { escapeHtml, sendDisplay } from '../runtime/kernel';

export type Cell = string | number | boolean | null | undefined;
export type Row = Record<string, Cell>;
/** What the table functions take: any object whose fields are cells (interfaces without an index signature too). */
export type TableRow = object;

function cellOf(row: TableRow, column: string): Cell {
  return (row as Record<string, Cell>)[column];
}

export interface TableOptions {
  /** Column order (and subset); default: keys of the first row. */
  columns?: string[];
  /** Caption shown above the table. */
  caption?: string;
  /**
   * Significant digits for non-integer numbers.
   * @default 4
   */
  digits?: number;
}

export const DEFAULT_TABLE_OPTIONS = { digits: 4 } as const;

function formatCell(v: Cell, digits: number): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') {
    if (Number.isInteger(v)) return v.toLocaleString('en-US');
    return Number.isFinite(v) ? Number(v.toPrecision(digits)).toString() : String(v);
  }
  return String(v);
}

/** Render rows as plain text with aligned columns. */
export function tableToText(rows: readonly TableRow[], options: TableOptions = {}): string {
  const columns = options.columns ?? Object.keys(rows[0] ?? {});
  const digits = options.digits ?? DEFAULT_TABLE_OPTIONS.digits;
  const cells = rows.map((r) => columns.map((c) => formatCell(cellOf(r, c), digits)));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (parts: string[]): string => parts.map((p, i) => p.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [options.caption ?? '', line(columns), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)]
    .filter((l, i) => i > 0 || l !== '')
    .join('\n');
}

/** Render rows as an HTML table. */
export function tableToHtml(rows: readonly TableRow[], options: TableOptions = {}): string {
  const columns = options.columns ?? Object.keys(rows[0] ?? {});
  const digits = options.digits ?? DEFAULT_TABLE_OPTIONS.digits;
  const head = columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('');
  const body = rows
    .map((r) => '<tr>' + columns.map((c) => {
      const v = cellOf(r, c);
      const align = typeof v === 'number' ? ' style="text-align:right"' : '';
      return `<td${align}>${escapeHtml(formatCell(v, digits))}</td>`;
    }).join('') + '</tr>')
    .join('\n');
  const caption = options.caption ? `<caption>${escapeHtml(options.caption)}</caption>` : '';
  return `<table class="kvlab-table">${caption}<thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/** Show rows as a table: HTML + text in a notebook, aligned text on a terminal. Returns nothing (see plot). */
export function table(rows: readonly TableRow[], options: TableOptions = {}): void {
  if (!Array.isArray(rows)) throw new InvalidInputError('table() needs an array of row objects');
  const text = tableToText(rows, options);
  if (!sendDisplay({ 'text/html': tableToHtml(rows, options), 'text/plain': text })) {
    console.log(text);
  }
}

/** Render rows as a GitHub-flavoured Markdown table (numbers right-aligned). */
export function tableToMarkdown(rows: readonly TableRow[], options: TableOptions = {}): string {
  const columns = options.columns ?? Object.keys(rows[0] ?? {});
  const digits = options.digits ?? DEFAULT_TABLE_OPTIONS.digits;
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  const numeric = columns.map((c) => rows.length > 0 && rows.every((r) => typeof cellOf(r, c) === 'number'));
  const lines = [
    `| ${columns.map(esc).join(' | ')} |`,
    `|${numeric.map((n) => (n ? '---:' : '---')).join('|')}|`,
    ...rows.map((r) => `| ${columns.map((c) => esc(formatCell(cellOf(r, c), digits))).join(' | ')} |`),
  ];
  return (options.caption ? `${options.caption}\n\n` : '') + lines.join('\n');
}
