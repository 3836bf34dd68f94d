import { strict as assert } from 'node:assert';
import { Tokenizer, getPreset } from '../../lib/src/model';
import { expectCode } from './helpers';

describe('Tokenizer (gpt-tokenizer r50k_base)', () => {
  const tokenizer = new Tokenizer();

  it('encodes and decodes text losslessly, including non-ASCII', () => {
    const text = 'KV caches trade memory for compute — naïve über 日本語 🚀 <|endoftext|>';
    const ids = tokenizer.encode(text);
    assert.ok(ids.length > 10);
    assert.equal(tokenizer.decode(ids), text);
    assert.deepEqual(tokenizer.encode('Hello world'), [15496, 995]);
    assert.equal(tokenizer.decode([]), '');
  });

  it('treats special-token markers as plain text', () => {
    assert.ok(!tokenizer.encode('a <|endoftext|> b').includes(tokenizer.endOfTextId));
    assert.equal(tokenizer.decode([tokenizer.endOfTextId]), '<|endoftext|>');
  });

  it('its ids fit the runnable presets', () => {
    assert.equal(tokenizer.vocabSize, 50257);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    assert.equal((require('gpt-tokenizer/cjs/encoding/r50k_base') as { vocabularySize: number }).vocabularySize, tokenizer.vocabSize);
    for (const name of ['tiny', 'default'] as const) assert.ok(getPreset(name).vocabSize >= tokenizer.vocabSize, name);
  });

  it('rejects bad input with INVALID_INPUT', async () => {
    await expectCode(() => tokenizer.encode(42 as unknown as string), 'INVALID_INPUT', /string/);
    await expectCode(() => tokenizer.decode([50257]), 'INVALID_INPUT', /ids\[0\]: expected a token id inside the vocabulary \[0, 50257\), received 50257/, { path: 'ids[0]', received: '50257' });
    await expectCode(() => tokenizer.decode([1.5]), 'INVALID_INPUT', /integer/);
  });
});
