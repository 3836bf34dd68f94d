/**
 * Choosing between implementations of one conversion by timing them here, not by which exist.
 * fp16 ⇄ fp32 can run in a WebAssembly kernel, through a native `Float16Array` (Node 24+) or in a
 * JavaScript loop, and which is fastest depends on the engine: Node 24's native fp16 decode
 * measured ~4× slower than the kernel on the same machine. So, at a conversion's first use, every
 * path that can run is timed on the same sample (interleaved, fastest of several rounds, after
 * warm-up calls that let the JIT and WebAssembly's optimizing tier kick in) and the fastest is
 * kept for the life of the process. Switching a path on or off (useWasmKernels,
 * useNativeFloat16) re-decides without timing again unless a path has not been timed yet.
 */
import { InvalidInputError } from '../runtime';

export type HalfPath = 'wasm' | 'native' | 'js';
export type HalfConversion = 'fp16Encode' | 'fp16Decode' | 'bf16Encode' | 'bf16Decode';

export interface PathCandidate<S, D> {
  path: HalfPath;
  /** Whether the path can run now (kernels loaded and on; Float16Array present and allowed). */
  available(): boolean;
  run(src: S, dst: D): void;
  /**
   * False for a path whose output may differ from the JavaScript reference for some inputs
   * (a native Float16Array writes its own NaN bits): it is chosen only when clearly faster.
   */
  exact: boolean;
}

/** One path's calibration: MB/s of fp32 data (read when encoding, written when decoding). */
export interface PathTiming {
  path: HalfPath;
  MBps: number;
  exact: boolean;
}

export interface PathReport {
  conversion: HalfConversion;
  path: HalfPath;
  /** measured: the fastest of several timed paths; only: one path could run; pinned: set by pinPath. */
  how: 'measured' | 'only' | 'pinned';
  /** The calibration timings (empty when nothing was timed). */
  timings: PathTiming[];
}

/** How the paths are timed. */
export const PATH_CALIBRATION = {
  /** Values in the timed sample: 256 KiB of fp32, small enough for a few ms, large enough to time. */
  values: 64 * 1024,
  /** Untimed calls per path first (JIT, page faults). */
  warmup: 2,
  /**
   * Timed rounds; each times every path once, and a path's fastest round counts. Enough rounds
   * for V8 to move the kernels to its optimizing tier (measured: after ~12 calls on Node 22).
   */
  rounds: 15,
  /** An inexact path (see PathCandidate.exact) must be this many times faster to be chosen. */
  inexactMargin: 1.1,
} as const;

export class PathChoice<S, D> {
  private timings = new Map<HalfPath, PathTiming>();
  private pinned: HalfPath | undefined;
  private key = -1;
  private chosen!: PathCandidate<S, D>;
  private how: PathReport['how'] = 'only';

  /**
   * @param sample makes the calibration input and output (called only when timing)
   * @param fp32Bytes fp32 bytes per sample (for MB/s)
   */
  constructor(
    readonly conversion: HalfConversion,
    private readonly candidates: PathCandidate<S, D>[],
    private readonly sample: () => { src: S; dst: D; fp32Bytes: number },
  ) {}

  /** The implementation to run now (decided at the first call, and when availability changes). */
  run(): (src: S, dst: D) => void {
    let key = 0;
    for (let i = 0; i < this.candidates.length; i++) if (this.candidates[i]!.available()) key |= 1 << i;
    if (key !== this.key) this.decide(key);
    return this.chosen.run;
  }

  /** The path in use, deciding (and timing) first if needed. */
  path(): HalfPath {
    this.run();
    return this.chosen.path;
  }

  report(): PathReport {
    this.run();
    return { conversion: this.conversion, path: this.chosen.path, how: this.how, timings: [...this.timings.values()] };
  }

  /**
   * Use `path` whenever it can run (tests and benchmarks compare paths), or go back to the
   * measured choice with `undefined`.
   * @throws InvalidInputError if `path` cannot run here
   */
  pin(path: HalfPath | undefined): void {
    if (path !== undefined && !this.candidates.some((c) => c.path === path && c.available())) {
      const can = this.candidates.filter((c) => c.available()).map((c) => c.path);
      throw new InvalidInputError(`${this.conversion}: path '${path}' cannot run here (available: ${can.join(', ')})`);
    }
    this.pinned = path;
    this.key = -1;
  }

  private decide(key: number): void {
    this.key = key;
    const can = this.candidates.filter((c) => c.available());
    const pinned = can.find((c) => c.path === this.pinned);
    if (pinned !== undefined) {
      this.chosen = pinned;
      this.how = 'pinned';
      return;
    }
    // The JavaScript loop is always a candidate, so `can` is never empty.
    if (can.length === 1) {
      this.chosen = can[0]!;
      this.how = 'only';
      return;
    }
    if (can.some((c) => !this.timings.has(c.path))) this.calibrate(can);
    const speed = (c: PathCandidate<S, D>): number => this.timings.get(c.path)!.MBps;
    const fastest = (cs: PathCandidate<S, D>[]): PathCandidate<S, D> | undefined => cs.reduce<PathCandidate<S, D> | undefined>((b, c) => (b === undefined || speed(c) > speed(b) ? c : b), undefined);
    const exact = fastest(can.filter((c) => c.exact));
    const inexact = fastest(can.filter((c) => !c.exact));
    this.chosen = exact === undefined || (inexact !== undefined && speed(inexact) > PATH_CALIBRATION.inexactMargin * speed(exact)) ? inexact! : exact;
    this.how = 'measured';
  }

  /** Time every path in `can` on one sample, interleaved; keep each one's fastest round. */
  private calibrate(can: PathCandidate<S, D>[]): void {
    const { src, dst, fp32Bytes } = this.sample();
    for (const c of can) for (let i = 0; i < PATH_CALIBRATION.warmup; i++) c.run(src, dst);
    const best = can.map(() => Infinity);
    for (let r = 0; r < PATH_CALIBRATION.rounds; r++) {
      can.forEach((c, i) => {
        const t0 = performance.now();
        c.run(src, dst);
        best[i] = Math.min(best[i]!, performance.now() - t0);
      });
    }
    this.timings.clear();
    can.forEach((c, i) => {
      // A clock too coarse to see one call (0 ms) counts as very fast rather than infinite.
      const ms = Math.max(best[i]!, 1e-6);
      this.timings.set(c.path, { path: c.path, MBps: Math.round(fp32Bytes / ms / 1000), exact: c.exact });
    });
  }
}
