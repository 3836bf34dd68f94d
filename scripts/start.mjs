#!/usr/bin/env node
// `npm start`: set up what is missing, then run the lab (embedded Redis + Jupyter with tslab)
// until Ctrl-C. `npm start --lab` (or `npm start -- --lab`) runs JupyterLab instead of the Notebook.
import { parseArgs } from 'node:util';
import { setup } from './setup.mjs';
import { startLab } from './lab.mjs';
import { requestedUi } from './jupyter.mjs';

const { values: opts } = parseArgs({ options: { help: { type: 'boolean', short: 'h' }, lab: { type: 'boolean' }, notebook: { type: 'boolean' } } });
if (opts.help) {
  console.log(`usage: npm start [-- --lab | --notebook]     (npm run lab: the same as --lab)

  Set up what is missing, then run the lab until Ctrl-C: an embedded Redis (a random password per
  run; unless REDIS_URL is set) and Jupyter with the tslab kernel, on 127.0.0.1. The Notebook (6 or
  7, flags chosen from the installed version) when it is installed, else JupyterLab.

  --lab            JupyterLab (pipx install jupyterlab, or .kvlab/venv; Debian 12 does not package it)
  --notebook       the Notebook
  KVLAB_PORT=N     the Jupyter port (default: a free one)
  REDIS_URL=…      use this Redis instead of an embedded one`);
  process.exit(0);
}

const started = Date.now();
try {
  await setup();
  const port = process.env.KVLAB_PORT ? Number(process.env.KVLAB_PORT) : undefined;
  const lab = await startLab({ port, ui: requestedUi(opts) });
  const bar = '─'.repeat(72);
  const name = lab.app === 'lab' ? `JupyterLab ${lab.version}` : `Jupyter Notebook ${lab.version}`;
  process.stdout.write(`\n${bar}\n kvcache-lab is running: ${name} (ready in ${((Date.now() - started) / 1000).toFixed(1)} s)\n\n` +
    ` Open the notebooks:  ${lab.url}\n` +
    ` Start with:          ${lab.notebookUrl('00_start_here.ipynb')}\n` +
    `                      (kernel: TypeScript (tslab))\n\n` +
    ` Press Ctrl-C to stop Jupyter and Redis.\n${bar}\n`);
  let stopping = false;
  const shutdown = async (signal) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n[lab] ${signal}: stopping Jupyter and Redis…\n`);
    await lab.stop();
    process.stdout.write('[lab] stopped.\n');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGHUP', () => void shutdown('SIGHUP'));
} catch (err) {
  process.stderr.write(`[lab] ${err.message}\n`);
  process.exit(err.exitCode ?? 1);
}
