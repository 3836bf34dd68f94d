import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { BackendUnavailableError, ConfigError } from './errors';

/** The TensorFlow.js backends kvcache-lab knows how to pick, in order of preference. */
export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

/** The order in which backends are tried when none is requested: native GPU, native CPU, WebAssembly, plain JS. */
export const BACKEND_PREFERENCE: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

/** Which TensorFlow.js backend runs the model, why it was chosen, and which were tried before it. */
export interface BackendReport {
  /** The backend tfjs now runs on. */
  backend: BackendName;
  /** Why this one: `KVLAB_BACKEND` or automatic choice. */
  reason: 'env' | 'auto' | 'explicit';
  /** Backends that were tried first and could not load, with the reason. */
  skipped: { backend: BackendName; why: string }[];
  tfjsVersion: string;
}

let current: BackendReport | undefined;
let pending: Promise<BackendReport> | undefined;

// Optional native packages: loaded by name at run time so that their absence costs nothing.
const NATIVE_PACKAGES: Partial<Record<BackendName, string>> = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
};

async function tryBackend(name: BackendName): Promise<void> {
  const pkg = NATIVE_PACKAGES[name];
  if (pkg !== undefined) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require(pkg);
    // tfjs-node registers the backend under the name "tensorflow" in both variants.
    if (!(await tf.setBackend('tensorflow'))) throw new Error(`${pkg} loaded but did not register a backend`);
    return;
  }
  if (name === 'wasm') {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('@tensorflow/tfjs-backend-wasm');
  }
  if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend('${name}') returned false`);
  await tf.ready();
}

function parseEnv(value: string | undefined): BackendName | undefined {
  if (value === undefined || value === '') return undefined;
  const v = value.trim().toLowerCase();
  const aliases: Record<string, BackendName> = { gpu: 'tensorflow-gpu', node: 'tensorflow', 'tfjs-node': 'tensorflow', 'tfjs-node-gpu': 'tensorflow-gpu' };
  const name = (aliases[v] ?? v) as BackendName;
  if (!BACKEND_PREFERENCE.includes(name)) {
    throw new ConfigError(`KVLAB_BACKEND=${JSON.stringify(value)} is not one of ${BACKEND_PREFERENCE.join(', ')}`);
  }
  return name;
}

/**
 * Choose and initialise the TensorFlow.js backend once per process:
 * `KVLAB_BACKEND` (or `preferred`) if set, else tfjs-node-gpu, tfjs-node, wasm, cpu — the first that loads.
 * An explicitly requested backend that cannot load is an error, never a silent fallback.
 */
export function initBackend(preferred?: BackendName): Promise<BackendReport> {
  if (preferred === undefined && pending) return pending;
  const run = async (): Promise<BackendReport> => {
    const fromEnv = parseEnv(process.env.KVLAB_BACKEND);
    const wanted = preferred ?? fromEnv;
    const skipped: BackendReport['skipped'] = [];
    if (wanted !== undefined) {
      try {
        await tryBackend(wanted);
      } catch (err) {
        throw new BackendUnavailableError(`TensorFlow.js backend '${wanted}' could not be loaded: ${(err as Error).message}`, { cause: err });
      }
      current = { backend: wanted, reason: preferred ? 'explicit' : 'env', skipped, tfjsVersion: tf.version_core };
      return current;
    }
    for (const name of BACKEND_PREFERENCE) {
      try {
        await tryBackend(name);
        current = { backend: name, reason: 'auto', skipped, tfjsVersion: tf.version_core };
        return current;
      } catch (err) {
        skipped.push({ backend: name, why: firstLine((err as Error).message) });
      }
    }
    throw new BackendUnavailableError(`no TensorFlow.js backend could be loaded: ${skipped.map((s) => `${s.backend}: ${s.why}`).join('; ')}`);
  };
  const p = run();
  if (preferred === undefined) pending = p;
  return p;
}

/** The backend chosen by {@link initBackend}, or undefined before it ran. */
export function backendReport(): BackendReport | undefined {
  return current;
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}

export { tf };
