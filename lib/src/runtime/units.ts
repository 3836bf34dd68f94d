/** Units and rounding shared by every layer (one definition each). */

/** Bytes in a kibibyte / mebibyte / gibibyte. */
export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

/** `x` rounded to `digits` decimal places (for results files and tables, not for arithmetic). */
export function round(x: number, digits = 3): number {
  if (!Number.isFinite(x)) return x;
  const p = 10 ** digits;
  return Math.round(x * p) / p;
}
