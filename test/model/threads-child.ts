/**
 * Child process for the wasm-threads test: prefills a prompt on the wasm backend with the thread
 * count in KVLAB_WASM_THREADS and prints the backend report and the logits as one JSON line.
 * Usage: node --import tsx test/model/threads-child.ts <preset> <tokens>
 */
import { createModel, type RunnablePresetName } from '../../lib/src/model';
import { initBackend } from '../../lib/src/runtime';
import { tokenIds } from './helpers';

async function main(): Promise<void> {
  const [preset, tokensText] = process.argv.slice(2);
  const report = await initBackend('wasm');
  const model = await createModel(preset as RunnablePresetName, { seed: 3 });
  const { logits, kv } = await model.prefill(tokenIds(Number(tokensText), model.config.vocabSize));
  kv.dispose();
  model.dispose();
  process.stdout.write(`${JSON.stringify({ report, logitsBase64: Buffer.from(logits.buffer, logits.byteOffset, logits.byteLength).toString('base64') })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
