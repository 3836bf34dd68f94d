/**
 * Which implementation each half-precision conversion uses here — the WebAssembly kernels, a
 * native Float16Array or the JavaScript loops — chosen by timing them (path-choice.ts).
 */
import { BF16_DECODE, BF16_ENCODE } from './bf16';
import { FP16_DECODE, FP16_ENCODE } from './fp16';
import type { HalfConversion, HalfPath, PathReport } from './path-choice';

export type { HalfConversion, HalfPath, PathReport, PathTiming } from './path-choice';
export { PATH_CALIBRATION } from './path-choice';

export type HalfPrecisionPaths = Record<HalfConversion, HalfPath>;

const CHOICES = { fp16Encode: FP16_ENCODE, fp16Decode: FP16_DECODE, bf16Encode: BF16_ENCODE, bf16Decode: BF16_DECODE } as const;

export const HALF_CONVERSIONS = Object.keys(CHOICES) as HalfConversion[];

/**
 * The path each conversion runs, deciding first where that has not happened yet (which times the
 * paths: a few milliseconds per conversion, once per process).
 */
export function halfPrecisionPaths(): HalfPrecisionPaths {
  return {
    fp16Encode: FP16_ENCODE.path(),
    fp16Decode: FP16_DECODE.path(),
    bf16Encode: BF16_ENCODE.path(),
    bf16Decode: BF16_DECODE.path(),
  };
}

/** How each path was chosen, with the calibration's speeds. */
export function halfPrecisionReport(): PathReport[] {
  return HALF_CONVERSIONS.map((c) => CHOICES[c].report());
}

/**
 * Run `conversion` on `path` whenever that path can run (for tests and benchmarks that compare
 * paths); `undefined` returns to the measured choice.
 * @throws InvalidInputError if the path cannot run here
 */
export function pinHalfPrecisionPath(conversion: HalfConversion, path: HalfPath | undefined): void {
  CHOICES[conversion].pin(path);
}
