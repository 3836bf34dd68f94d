/**
 * The layers of lib/src, bottom up: a lower layer never imports a higher one (docs/02 "Layers").
 * Also: the core entry point pulls in no presentation code, and no source file grows past 700 lines.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';

const SRC = path.resolve(__dirname, '..', '..', 'lib', 'src');
const RANK: Record<string, number> = { runtime: 0, model: 1, hashing: 1, serde: 1, store: 2, engine: 3, bench: 4, notebook: 5, cli: 6 };

function files(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
}

const layerOf = (file: string): string => path.relative(SRC, file).split(path.sep)[0]!;

function imports(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  return [...text.matchAll(/^(?:import|export)\b[^'"]*?from\s+'(\.[^']+)'/gm)].map((m) => path.resolve(path.dirname(file), m[1]!));
}

describe('library layers', () => {
  const all = files(SRC).filter((f) => path.dirname(f) !== SRC);

  it('a lower layer never imports a higher one (same-rank layers do not import each other either)', () => {
    const bad: string[] = [];
    for (const f of all) {
      const from = layerOf(f);
      for (const target of imports(f)) {
        const to = layerOf(target);
        if (to === from || RANK[to] === undefined) continue;
        if (RANK[to]! >= RANK[from]!) bad.push(`${path.relative(SRC, f)} → ${path.relative(SRC, target)}`);
      }
    }
    assert.deepEqual(bad, []);
  });

  it("the core entry point (lib/src/index.ts) reaches no presentation code and no browser or plotting package", () => {
    const seen = new Set<string>();
    const visit = (file: string): void => {
      const f = fs.existsSync(`${file}.ts`) ? `${file}.ts` : fs.existsSync(path.join(file, 'index.ts')) ? path.join(file, 'index.ts') : file;
      if (seen.has(f) || !fs.existsSync(f)) return;
      seen.add(f);
      const text = fs.readFileSync(f, 'utf8');
      assert.doesNotMatch(text, /from '(plotly\.js-dist-min|playwright-core)'|import\('(plotly\.js-dist-min|playwright-core)'\)/, `${path.relative(SRC, f)} imports a browser or plotting package`);
      for (const t of imports(f)) visit(t.replace(/\.ts$/, ''));
    };
    visit(path.join(SRC, 'index'));
    const presentation = [...seen].filter((f) => ['notebook', 'cli'].includes(layerOf(f)));
    assert.deepEqual(presentation.map((f) => path.relative(SRC, f)), []);
    const lib = JSON.parse(fs.readFileSync(path.join(SRC, '..', 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    for (const p of ['plotly.js-dist-min', 'playwright-core']) assert.equal(lib.dependencies[p], undefined, `${p} is not a runtime dependency of the core`);
  });

  it('no source file is longer than 700 lines, and the notebook helpers stay small (≤ 2 500 lines, ≤ 500 per file)', () => {
    const long = files(SRC).map((f) => ({ f, n: fs.readFileSync(f, 'utf8').split('\n').length })).filter((x) => x.n > 700);
    assert.deepEqual(long.map((x) => `${path.relative(SRC, x.f)}: ${x.n}`), []);
    const nb = files(path.join(SRC, 'notebook')).map((f) => ({ f, n: fs.readFileSync(f, 'utf8').trimEnd().split('\n').length }));
    assert.ok(nb.reduce((a, x) => a + x.n, 0) <= 2500, `lib/src/notebook holds ${nb.reduce((a, x) => a + x.n, 0)} lines`);
    assert.deepEqual(nb.filter((x) => x.n > 500).map((x) => path.relative(SRC, x.f)), []);
  });
});
