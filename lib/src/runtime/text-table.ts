/** Rows of objects as aligned plain text: the terminal's and the reports' tables (notebooks add HTML). */

export type Cell = string | number | boolean | null | undefined;
export type Row = Record<string, Cell>;
/** What the table functions take: any object whose fields are cells (interfaces without an index signature too). */
export type TableRow = object;

export function cellOf(row: TableRow, column: string): Cell {
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

export function formatCell(v: Cell, digits: number): string {
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
