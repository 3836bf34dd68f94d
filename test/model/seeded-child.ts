/**
 * Child process for the cross-process determinism test: builds a seeded model and prints, as one
 * JSON line, everything that must be identical in every process (fingerprint, weight digest, logits bits).
 * Usage: node --import tsx test/model/seeded-child.ts <preset> <seed>
 */
import { createHash } from 'node:crypto';
import { createModel, type RunnablePresetName } from '../../lib/src/model';
import { backendReport } from '../../lib/src/runtime';

async function main(): Promise<void> {
  const [preset, seedText] = process.argv.slice(2);
  const model = await createModel(preset as RunnablePresetName, { seed: Number(seedText) });
  const weightsDigest = createHash('sha256').update(model.toSafetensors()).digest('hex');
  const prompt = [464, 3290, 7586, 21831, 18045, 625, 262, 16931, 3290];
  const { logits, kv } = await model.prefill(prompt);
  kv.dispose();
  const { tokens } = await model.generate(prompt, 8);
  process.stdout.write(
    JSON.stringify({
      pid: process.pid,
      backend: backendReport()?.backend,
      fingerprint: model.fingerprint,
      weightsDigest,
      logitsBase64: Buffer.from(logits.buffer, logits.byteOffset, logits.byteLength).toString('base64'),
      tokens,
    }) + '\n',
  );
  model.dispose();
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
