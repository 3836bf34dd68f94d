import { InvalidInputError } from '../runtime/errors';
import { escapeHtml, sendDisplay } from '../runtime/kernel';
import { DEFAULT_TABLE_OPTIONS, cellOf, formatCell, tableToText, type TableOptions, type TableRow } from '../runtime/text-table';

export { DEFAULT_TABLE_OPTIONS, tableToText, type Cell, type Row, type TableOptions, type TableRow } from '../runtime/text-table';

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
