import { strict as assert } from 'node:assert';
import { Tokenizer } from '../../lib/src/model';

describe('Tokenizer.decode is stateless', () => {
  const tokenizer = new Tokenizer();

  it('a token holding part of a multi-byte character decodes the same every time, and does not leak into the next call', () => {
    // 447 is the first two bytes of a three-byte character ("’" is 447, 247): alone it is invalid UTF-8.
    const partial = tokenizer.decode([447]);
    assert.equal(partial, '\uFFFD');
    assert.equal(tokenizer.decode([447]), partial);
    assert.equal(tokenizer.decode([40]), 'I', 'nothing left over from the previous call');
    assert.equal(tokenizer.decode([447, 247]), '’');
    assert.equal(tokenizer.decode(tokenizer.encode('naïve café — “quoted”')), 'naïve café — “quoted”');
  });
});
