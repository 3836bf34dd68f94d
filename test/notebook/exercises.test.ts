import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EXERCISES, check, checkAnswer } from '../../lib/src/notebook/exercises';

const ROOT = path.resolve(__dirname, '..', '..');

describe('notebook exercises and their checks', () => {
  const dir = path.join(ROOT, 'solutions');
  const solutions: Record<string, string> = Object.assign(
    {},
    ...fs.readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as Record<string, string>),
  );
  const notebooks = fs.readdirSync(path.join(ROOT, 'notebooks')).filter((f) => f.endsWith('.ipynb'));
  const used = new Set<string>();
  for (const f of notebooks) {
    const text = fs.readFileSync(path.join(ROOT, 'notebooks', f), 'utf8');
    for (const m of text.matchAll(/EXERCISE (\d\d\.\d+)/g)) used.add(m[1]!);
  }

  it('every exercise in a notebook is known to the library and has a reference solution', () => {
    assert.ok(used.size > 0, 'notebooks contain exercises');
    for (const id of used) {
      assert.ok(EXERCISES.some((e) => e.id === id), `exercise ${id} has a check`);
      assert.ok(solutions[id], `exercise ${id} has a reference solution`);
    }
  });

  it('each notebook ends with at least two checked exercises', () => {
    for (const f of notebooks) {
      const n = [...used].filter((id) => id.startsWith(f.slice(0, 2))).length;
      assert.ok(n >= 2, `${f} has ${n} checked exercises`);
    }
  });

  it('a right answer passes, a wrong one gets a hint, a missing one shows the question', () => {
    assert.equal(checkAnswer('02.1', 6).ok, true);
    const wrong = checkAnswer('02.1', 7);
    assert.equal(wrong.ok, false);
    assert.match(wrong.message, /Hint/);
    const none = checkAnswer('02.1', undefined);
    assert.equal(none.answered, false);
    assert.match(none.message, /100-token prompt/);
    assert.equal(checkAnswer('03.2', '0x3c00').ok, true, 'hex strings are accepted for bit patterns');
    assert.equal(checkAnswer('01.2', 100 * 8192 * 327680 / 2 ** 30 * 1.005).ok, true, 'within the stated tolerance');
  });

  it('strict mode (CI with solutions) throws on a wrong answer; unknown ids are typed errors', () => {
    const before = process.env.KVLAB_EXERCISES_STRICT;
    process.env.KVLAB_EXERCISES_STRICT = '1';
    try {
      assert.throws(() => check('02.1', 7), { code: 'INVALID_INPUT' });
    } finally {
      if (before === undefined) delete process.env.KVLAB_EXERCISES_STRICT;
      else process.env.KVLAB_EXERCISES_STRICT = before;
    }
    assert.throws(() => checkAnswer('99.9', 1), { code: 'INVALID_INPUT' });
  });
});
