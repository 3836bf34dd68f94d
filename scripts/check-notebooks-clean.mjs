#!/usr/bin/env node
// Committed notebooks carry no outputs and no execution counts: outputs belong in out/.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from './setup.mjs';
import { parseArgs } from 'node:util';

export function dirtyNotebooks() {
  const dir = path.join(ROOT, 'notebooks');
  const problems = [];
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.ipynb')).sort()) {
    const nb = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
    nb.cells.forEach((cell, i) => {
      if (cell.cell_type !== 'code') return;
      if ((cell.outputs ?? []).length > 0) problems.push(`notebooks/${f}: cell ${i} has outputs`);
      if (cell.execution_count != null) problems.push(`notebooks/${f}: cell ${i} has an execution count`);
    });
  }
  return problems;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.join(ROOT, 'scripts', 'check-notebooks-clean.mjs')) {
  if (parseArgs({ options: { help: { type: 'boolean', short: 'h' } } }).values.help) {
    console.log('usage: npm run check:notebooks-clean\n\n  Fails if a committed notebook carries outputs or execution counts (they belong in out/).');
    process.exit(0);
  }
  const problems = dirtyNotebooks();
  for (const p of problems) console.error(p);
  console.log(problems.length ? `${problems.length} problem(s): strip outputs before committing` : 'notebooks are clean');
  process.exit(problems.length ? 1 : 0);
}
