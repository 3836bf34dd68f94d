import { sendDisplay } from '../runtime/kernel';

/**
 * Show a sentence (Markdown) computed in the cell: how notebooks state what *this* run measured
 * ("prefill of the rest took 41 ms, 6.2× less than the whole prompt") instead of typing numbers
 * into their prose. Prints the text on a terminal.
 */
export function say(markdown: string): void {
  if (!sendDisplay({ 'text/markdown': markdown, 'text/plain': markdown })) console.log(markdown);
}

/** A number for a sentence: `digits` significant digits, thousands separated (`1,234`, `0.0123`). */
export function num(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return String(x);
  if (Number.isInteger(x) && Math.abs(x) >= 10 ** digits) return x.toLocaleString('en-US');
  return Number(x.toPrecision(digits)).toLocaleString('en-US', { maximumFractionDigits: 20 });
}
