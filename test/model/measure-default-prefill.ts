/**
 * Measures what the `default` preset's comment promises: prefill time of a 2 000-token prompt
 * (and one decode step after it) on the current backend. Not a test — run by hand:
 *   npx tsx test/model/measure-default-prefill.ts [tokens=2000] [repeats=3]
 * (KVLAB_WASM_THREADS=1 for the single-threaded wasm build; `npm run bench:prefill` compares both.)
 */
import { createModel, parameterCount } from '../../lib/src/model';
import { backendReport } from '../../lib/src/runtime';
import * as os from 'node:os';

async function main(): Promise<void> {
  const tokens = Number(process.argv[2] ?? 2000);
  const repeats = Number(process.argv[3] ?? 3);
  let t = performance.now();
  const model = await createModel('default', { seed: 0 });
  const createMs = performance.now() - t;
  const prompt = Array.from({ length: tokens }, (_, i) => (i * 7919 + 13) % model.config.vocabSize);
  const times: number[] = [];
  let decodeMs = 0;
  for (let r = 0; r < repeats; r++) {
    t = performance.now();
    const { kv } = await model.prefill(prompt);
    times.push(performance.now() - t);
    t = performance.now();
    const step = await model.decodeStep(42, kv);
    decodeMs = performance.now() - t;
    step.kv.dispose();
    kv.dispose();
  }
  const sorted = [...times].sort((a, b) => a - b);
  console.log(
    JSON.stringify({
      backend: backendReport()?.backend,
      wasmThreads: backendReport()?.wasmThreads,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      parameters: parameterCount(model.config),
      createMs: Math.round(createMs),
      prefillTokens: tokens,
      prefillMs: times.map(Math.round),
      prefillMedianMs: Math.round(sorted[Math.floor(sorted.length / 2)] as number),
      decodeStepMsAfterPrefill: Math.round(decodeMs),
    }),
  );
  model.dispose();
}

void main();
