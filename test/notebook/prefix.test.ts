import { strict as assert } from 'node:assert';
import { createNamespace, hashBlocks, loadableBlocks } from '../../lib/src/hashing';
import { LlamaModel, Tokenizer } from '../../lib/src/model';
import { approximateReuseError, approximateReuseFigure, chainFigure } from '../../lib/src/notebook/prefix';
import { expectCode } from '../model/helpers';

const ns = createNamespace({ modelFingerprint: 'ab'.repeat(16), kvDtype: 'fp32', kvFormatVersion: 1, blockSize: 4 });

/** The box colours of a chain figure's first trace, in drawing order (parents included). */
function colors(figure: ReturnType<typeof chainFigure>): string[] {
  return ((figure.data[0] as { marker: { color: string[] } }).marker.color);
}

describe('notebook/prefix (notebook 02 helpers)', function () {
  this.timeout(120_000);

  describe('chainFigure', () => {
    it('marks a block green exactly when an earlier chain has its hash, and counts blocks past maxBlocks', () => {
      const a = hashBlocks([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], ns);
      const b = hashBlocks([1, 2, 3, 4, 5, 6, 7, 0, 9, 10, 11, 12, 13], ns); // differs in block 1
      const fig = chainFigure(
        [
          { label: 'a', parent: ns.hash, hashes: a },
          { label: 'b', parent: ns.hash, hashes: b, tailTokens: 1 },
        ],
        { maxBlocks: 2 },
      );
      const grey = '#9aa5b1';
      const green = '#2ca02c';
      const orange = '#ff7f0e';
      // Row a: parent, block 0, block 1 (all new); row b: parent, block 0 (shared), block 1 (new).
      assert.deepEqual(colors(fig), [grey, orange, orange, grey, green, orange]);
      const notes = (fig.layout!.annotations as { text: string }[]).map((n) => n.text);
      assert.ok(notes.includes('+1 more block(s)'), notes.join(' | '));
      assert.ok(notes.includes('+1 more block(s), 1 tail token(s) not hashed'), notes.join(' | '));
      assert.deepEqual((fig.layout!.yaxis as { ticktext: string[] }).ticktext, ['<b>a</b>', '<b>b</b>']);
    });

    it('rejects a missing or empty chain list with a typed error', async () => {
      await expectCode(() => chainFigure([]), 'INVALID_INPUT');
      await expectCode(() => chainFigure(undefined as never), 'INVALID_INPUT');
    });
  });

  describe('approximateReuseError', () => {
    const tokenizer = new Tokenizer();
    let model: LlamaModel;
    before(async () => {
      model = await LlamaModel.create('tiny');
    });
    after(() => model?.dispose());

    const basePrompt =
      'The agent reads the tool list, plans the next step, calls the search tool and writes the answer. ' +
      'Each observation is appended to the scratchpad before the next thought.';

    it('is exact for an identical prompt and measures an error for a changed one, next to what exact chains reuse', async () => {
      const rows = await approximateReuseError(model, tokenizer, {
        basePrompt,
        variants: [
          { label: 'identical', changes: 0, at: 0 },
          { label: 'first token changed', changes: 1, at: 0 },
        ],
        generateTokens: 3,
        progress: 'silent',
      });
      const n = tokenizer.encode(basePrompt).length;
      const [same, changed] = rows;
      assert.equal(same!['matched prompt'], 'base prompt');
      assert.equal(same!['max logit error'], 0, 'the borrowed KV is the prompt\'s own: bit-identical logits');
      assert.equal(same!['greedy agreement'], 1);
      assert.equal(same!['approx reuses'], n - 1);
      assert.equal(same!['exact chain reuses'], loadableBlocks(n, 16) * 16);
      assert.equal(same!['recomputed continuation'], same!['reused-KV continuation']);
      assert.equal(changed!['exact chain reuses'], 0, 'a change in block 0 leaves nothing for exact chains');
      assert.ok(changed!['max logit error']! > 0, 'borrowing the KV of a different first token changes the logits');
      const fig = approximateReuseFigure(rows);
      assert.equal(fig.data.length, 3);
    });

    it('rejects malformed options and variants before any model work', async () => {
      await expectCode(() => approximateReuseError(model, tokenizer, undefined as never), 'INVALID_INPUT');
      await expectCode(() => approximateReuseError(model, tokenizer, { basePrompt, variants: [{ changes: -1, at: 0 }] }), 'INVALID_INPUT');
      await expectCode(() => approximateReuseError(model, tokenizer, { basePrompt, variants: [{ changes: 1, at: 2 }] }), 'INVALID_INPUT');
      await expectCode(() => approximateReuseFigure([]), 'INVALID_INPUT');
    });
  });
});
