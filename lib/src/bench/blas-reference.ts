/**
 * The BLAS reference of the prefill benchmark: `scripts/blas_reference.py` times fp32 matmuls with
 * numpy (whatever BLAS it links: OpenBLAS on Debian with libopenblas0) at a given thread count.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { MatmulShape } from './prefill-flops';

/** Where the script lives in this repository (from lib/src/bench or lib/dist/bench alike). */
export const BLAS_SCRIPT = path.resolve(__dirname, '..', '..', '..', 'scripts', 'blas_reference.py');

/** Debian's python3 (where `apt-get install python3-numpy` puts numpy), else whatever `python3` is on PATH. */
export function defaultPython(): string {
  return fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

export interface BlasLibrary {
  internal_api?: string;
  version?: string;
  threading_layer?: string;
  architecture?: string;
  num_threads?: number;
  filepath?: string;
}

export interface BlasRun {
  /** Thread count asked for through OPENBLAS_NUM_THREADS / OMP_NUM_THREADS / MKL_NUM_THREADS. */
  threads: number;
  python: string;
  numpy: string;
  /** What numpy calls, as threadpoolctl reports it (its `num_threads` confirms the thread count), or numpy's build config. */
  blas: { source: string; libraries: BlasLibrary[]; config?: string };
  results: (MatmulShape & { samplesMs: number[] })[];
}

/** Why the BLAS reference could not run (numpy or python missing, script failed). */
export class BlasUnavailable extends Error {}

/** Time `shapes` with numpy at `threads` BLAS threads. Rejects with {@link BlasUnavailable}. */
export function runBlasReference(shapes: readonly MatmulShape[], threads: number, repeats: number, python = defaultPython(), script = BLAS_SCRIPT): Promise<BlasRun> {
  if (!fs.existsSync(script)) return Promise.reject(new BlasUnavailable(`${script} not found (it ships with the repository, not the npm package)`));
  const n = String(threads);
  const env = { ...process.env, OPENBLAS_NUM_THREADS: n, OMP_NUM_THREADS: n, MKL_NUM_THREADS: n };
  const args = [script, '--shapes', shapes.map((s) => `${s.m}x${s.k}x${s.n}`).join(','), '--repeats', String(repeats)];
  return new Promise((resolve, reject) => {
    execFile(python, args, { env, maxBuffer: 16 * 2 ** 20 }, (err, stdout, stderr) => {
      const last = stdout.trim().split('\n').pop() ?? '';
      let parsed: (Omit<BlasRun, 'threads'> & { error?: string }) | undefined;
      try {
        parsed = JSON.parse(last) as Omit<BlasRun, 'threads'> & { error?: string };
      } catch {
        parsed = undefined;
      }
      if (parsed?.error !== undefined) reject(new BlasUnavailable(parsed.error));
      else if (err || parsed === undefined) reject(new BlasUnavailable(`${python} ${path.basename(script)} failed: ${(err?.message ?? stderr.trim()) || 'no JSON output'}`));
      else resolve({ threads, ...parsed });
    });
  });
}
