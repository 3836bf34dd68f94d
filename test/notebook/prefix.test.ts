import { strict as assert } from 'node:assert';
import { LlamaModel, Tokenizer } from '../../lib/src/model';
import {
  approximateReuseError,
  approximateReuseFigure,
  blockSizeFigure,
  blockSizeTradeoff,
  chainFigure,
  chainPicture,
  compareKeySchemes,
  hashCostFigure,
  hashCostVsPrefill,
  hitRateFigure,
  prefixNamespace,
  prefixTrace,
  sideChannelFigure,
  simulateHitRates,
  timingSideChannel,
  type TraceRequest,
} from '../../lib/src/notebook/prefix';
import { tf } from '../../lib/src/runtime/backend';
import { expectCode } from '../model/helpers';

/** Independent count: longest common prefix with any earlier request, cut down to full blocks. */
function expectedBlockHits(trace: readonly TraceRequest[], blockSize: number): number[] {
  return trace.map((r, i) => {
    let best = 0;
    for (let j = 0; j < i; j++) {
      const o = trace[j]!.tokens;
      let k = 0;
      while (k < r.tokens.length && k < o.length && r.tokens[k] === o[k]) k++;
      best = Math.max(best, k);
    }
    return Math.floor(best / blockSize) * blockSize;
  });
}

/** Independent count of distinct full-block prefixes (what a chained-hash cache stores). */
function expectedKeys(trace: readonly TraceRequest[], blockSize: number): number {
  const keys = new Set<string>();
  for (const r of trace) {
    const ids = Array.from(r.tokens);
    for (let b = 1; b * blockSize <= ids.length; b++) keys.add(ids.slice(0, b * blockSize).join(','));
  }
  return keys.size;
}

describe('notebook/prefix (notebook 02 helpers)', function () {
  this.timeout(60_000);
  const tokenizer = new Tokenizer();
  const trace = prefixTrace('agent', tokenizer, { requests: 14, sharedTokens: 256, turnTokens: 48, sessions: 3 });
  let model: LlamaModel;

  before(async () => {
    model = await LlamaModel.create('tiny');
  });
  after(() => model?.dispose());

  it('on an agent trace, whole-prompt keys hit fewer tokens than block chains, whose hits equal an independent LCP count', () => {
    // A retried request (identical prompt) is the one case the whole-prompt key can serve.
    const withRetry: TraceRequest[] = [...trace, { id: 'retry', tokens: trace[5]!.tokens.slice() }];
    const sim = simulateHitRates(withRetry, { blockSizes: [16] });
    const exact = sim.totals.find((t) => t.kind === 'exact')!;
    const block = sim.totals.find((t) => t.kind === 'block')!;
    assert.ok(exact.hitTokens < block.hitTokens, `exact ${exact.hitTokens} should be < block ${block.hitTokens}`);
    assert.equal(exact.hitTokens, trace[5]!.tokens.length, 'only the retry is an exact-prompt hit');
    const expected = expectedBlockHits(withRetry, 16);
    assert.deepEqual(sim.requests.map((r) => r.hitTokens['blocks of 16']), expected);
    assert.equal(block.hitTokens, expected.reduce((a, b) => a + b, 0));
    assert.ok(block.hitTokens > 0);
    assert.equal(block.keys, expectedKeys(withRetry, 16));
    assert.equal(exact.keys, withRetry.length - 1);
    assert.equal(block.promptTokens, withRetry.reduce((s, r) => s + r.tokens.length, 0));
    assert.ok(Math.abs(block.hitRatio - block.hitTokens / block.promptTokens) < 1e-12);
  });

  it('larger block sizes never hit more tokens and store fewer keys on the same trace', () => {
    const sizes = [4, 8, 16, 32, 64, 128];
    const rows = blockSizeTradeoff(trace, [...sizes].reverse(), { model: model.config, measureHashing: false });
    assert.deepEqual(rows.map((r) => r['block size']), sizes, 'rows come sorted by block size');
    const perRequest = simulateHitRates(trace, { strategies: ['block'], blockSizes: sizes });
    for (let i = 1; i < rows.length; i++) {
      assert.ok(rows[i]!['hit tokens'] <= rows[i - 1]!['hit tokens'], `block ${sizes[i]} hits more than ${sizes[i - 1]}`);
      assert.ok(rows[i]!['keys stored'] < rows[i - 1]!['keys stored'], `block ${sizes[i]} stores no fewer keys than ${sizes[i - 1]}`);
      for (const r of perRequest.requests) {
        assert.ok(r.hitTokens[`blocks of ${sizes[i]}`]! <= r.hitTokens[`blocks of ${sizes[i - 1]}`]!);
      }
    }
    rows.forEach((r, i) => {
      assert.equal(r['hit tokens'], expectedBlockHits(trace, sizes[i]!).reduce((a, b) => a + b, 0));
      assert.equal(r['value KiB (this model, fp32)'], (sizes[i]! * 2 * 2 * 2 * 16 * 4) / 1024); // 2 layers × 2 kv heads × 16 dims, K+V, fp32
      assert.equal(r['value KiB (Llama-3-8B, fp16)'], sizes[i]! * 128);
    });
  });

  it('one changed last character: the whole-prompt key misses entirely, the chain still serves every block before it', () => {
    const ns = prefixNamespace(model);
    const prompt = 'System: You are a careful assistant for a travel agency. '.repeat(4) + 'User: which flight leaves first tomorrow?';
    const c = compareKeySchemes(prompt, prompt.slice(0, -1) + '!', { tokenizer, namespace: ns });
    assert.equal(c.exact.hit, false);
    assert.equal(c.exact.reusedTokens, 0);
    assert.notEqual(c.exact.originalKey, c.exact.editedKey);
    const lastFull = Math.floor(c.firstDifferentToken / 16) * 16;
    assert.equal(c.blocks.reusedTokens, lastFull);
    assert.ok(c.blocks.reusedTokens >= 48);
    const same = compareKeySchemes(prompt, prompt, { tokenizer, namespace: ns });
    assert.equal(same.exact.hit, true);
    assert.equal(same.exact.reusedTokens, same.editedTokens);
  });

  it('chainPicture marks the shared prefix; a salted chain of the same tokens shares nothing', () => {
    const ns = prefixNamespace(model);
    const a = trace[0]!.tokens;
    const b = Array.from(a);
    b[40] = (b[40]! + 1) % 50_000; // block 2 changes, and so every block after it
    const pic = chainPicture(
      [
        { label: 'original', tokens: a },
        { label: 'edited', tokens: b },
        { label: 'other tenant', tokens: a, namespace: prefixNamespace(model, { salt: 'tenant-B' }) },
      ],
      ns,
      { tokenizer, maxBlocks: 6 },
    );
    assert.deepEqual(pic.chains[1]!.rows.map((r) => r.shared), [true, true, false, false, false, false]);
    assert.ok(pic.chains[2]!.rows.every((r) => !r.shared));
    assert.ok(pic.chains[0]!.rows.every((r, i) => i === 0 || r.parent === pic.chains[0]!.rows[i - 1]!.hash), 'each parent is the previous hash');
    assert.equal(pic.chains[0]!.rows[1]!.text, tokenizer.decode(Array.from(a).slice(16, 32)));
    JSON.stringify(chainFigure(pic));
  });

  it('timing side channel: unsalted, the probe of the secret is served from cache; salted, tenant B matches 0 tokens of A\'s prompt', async () => {
    const candidates = ['Alpha Holdings', 'Beta Logistics', 'Gamma Foods'];
    const r = await timingSideChannel(model, tokenizer, { candidates, secret: 'Beta Logistics', trials: 1, fillerTokens: 64, progress: 'silent' });
    assert.equal(r.samples.length, 2 * candidates.length);
    const secretShared = r.samples.find((s) => s.mode === 'shared' && s.isSecret)!;
    assert.equal(secretShared.matchedTokens, Math.floor((secretShared.promptTokens - 1) / 16) * 16);
    assert.ok(secretShared.matchedTokens >= 64);
    for (const s of r.samples) {
      if (s.mode === 'salted') assert.equal(s.matchedTokens, 0, `salted probe of ${s.candidate} matched ${s.matchedTokens} tokens`);
      else if (!s.isSecret) assert.ok(s.matchedTokens < secretShared.matchedTokens);
      assert.ok(s.ttftMs > 0);
    }
    assert.equal(r.rows.length, 2 * candidates.length);
    JSON.stringify(sideChannelFigure(r));
  });

  it('approximate reuse: an identical prompt gives zero error and full agreement; a changed early token gives a nonzero logit error', async () => {
    const basePrompt = tokenizer.decode(trace[0]!.tokens.slice(0, 120));
    const r = await approximateReuseError(model, tokenizer, {
      basePrompt,
      variants: [{ label: 'same', changes: 0, at: 0 }, { label: 'early', changes: 1, at: 0 }],
      generateTokens: 4,
      progress: 'silent',
    });
    const [same, early] = r.rows;
    assert.equal(same!['matched prompt'], 'base prompt');
    assert.equal(same!['max logit error'], 0);
    assert.equal(same!['top-1 agreement'], 1);
    assert.equal(same!['greedy agreement'], 1);
    assert.equal(same!['first divergence'], null);
    assert.equal(same!['estimated Jaccard'], 1);
    assert.equal(early!['tokens changed'], 1);
    assert.equal(early!['matched prompt'], 'base prompt', 'MinHash still finds the cached prompt');
    assert.ok((early!['max logit error'] as number) > 1e-3, `early change error ${early!['max logit error']}`);
    assert.equal(early!['exact chain reuses'], 0, 'exact chained hashes reuse nothing after a change in block 0');
    assert.equal(early!['approx reuses'], r.baseTokens - 1);
    JSON.stringify(approximateReuseFigure(r));
  });

  it('hashCostVsPrefill: both costs measured, prefill per token far above hashing per token', async () => {
    const rows = await hashCostVsPrefill(model, trace[0]!.tokens.slice(0, 128), { lengths: [64, 128], repeats: 1, progress: 'silent' });
    assert.deepEqual(rows.map((r) => r.tokens), [64, 128]);
    for (const r of rows) {
      assert.ok(r['hashing (ns/token)'] > 0 && r['prefill (ns/token)'] > 0);
      assert.ok(r['prefill ÷ hashing'] > 10, `prefill only ${r['prefill ÷ hashing']}× hashing`);
      assert.ok(Math.abs(r['break-even hit ratio'] * r['prefill ÷ hashing'] - 1) < 1e-9);
    }
    JSON.stringify(hashCostFigure(rows));
    JSON.stringify(blockSizeFigure(blockSizeTradeoff(trace, [16, 32], { measureHashing: false })));
    JSON.stringify(hitRateFigure(simulateHitRates(trace)));
  });

  it('frees every tensor it allocates (KV blocks, borrowed and recomputed caches)', async () => {
    const before = tf.memory().numTensors;
    await timingSideChannel(model, tokenizer, { candidates: ['Alpha Holdings', 'Beta Logistics'], trials: 1, fillerTokens: 40, progress: 'silent' });
    await approximateReuseError(model, tokenizer, {
      basePrompt: tokenizer.decode(trace[1]!.tokens.slice(0, 60)),
      otherPrompts: [tokenizer.decode(trace[2]!.tokens.slice(200, 260))],
      variants: [{ changes: 2, at: 0.3 }, { text: 'Note: ' + tokenizer.decode(trace[1]!.tokens.slice(0, 60)) }],
      generateTokens: 3,
      progress: 'silent',
    });
    await hashCostVsPrefill(model, trace[0]!.tokens.slice(0, 64), { lengths: [64], repeats: 1, progress: 'silent' });
    assert.equal(tf.memory().numTensors, before);
  });

  it('rejects bad input with typed error codes', async () => {
    const ns = prefixNamespace(model);
    await expectCode(() => simulateHitRates([]), 'INVALID_INPUT');
    await expectCode(() => simulateHitRates([{ tokens: [1, -2] }]), 'INVALID_INPUT', /tokens\[1\]/);
    await expectCode(() => simulateHitRates(trace, { blockSizes: [0] }), 'INVALID_INPUT', /blockSizes\[0\]/);
    await expectCode(() => simulateHitRates(trace, { strategies: ['fuzzy' as 'exact'] }), 'INVALID_INPUT', /unknown strategy/);
    await expectCode(() => blockSizeTradeoff(trace, []), 'INVALID_INPUT');
    await expectCode(() => chainPicture([1, 2, 3], { hash: 'nope' } as never), 'INVALID_INPUT');
    await expectCode(() => chainPicture([{ label: 'x', tokens: [1, 2], namespace: prefixNamespace(model, { blockSize: 8 }) }], ns), 'INVALID_INPUT', /block size/);
    await expectCode(() => compareKeySchemes('', 'x', { tokenizer, namespace: ns }), 'INVALID_INPUT');
    await expectCode(() => prefixNamespace('not-hex'), 'INVALID_INPUT');
    await expectCode(() => hashCostVsPrefill(model, [1, 2, 3, 4], { lengths: [8] }), 'INVALID_INPUT', /lengths\[0\]/);
    await expectCode(() => timingSideChannel(model, tokenizer, { candidates: ['a', 'b'], secret: 'c' }), 'INVALID_INPUT', /one of the candidates/);
    await expectCode(() => timingSideChannel(model, tokenizer, { salts: { victim: 's', attacker: 's' } }), 'INVALID_INPUT', /different salts/);
    await expectCode(() => approximateReuseError(model, tokenizer, { basePrompt: 'hello there world', variants: [] }), 'INVALID_INPUT');
    await expectCode(() => approximateReuseError(model, tokenizer, { basePrompt: 'hello there world', variants: [{ changes: 1, at: 2 }] }), 'INVALID_INPUT', /at must be/);
    await expectCode(() => approximateReuseError({} as LlamaModel, tokenizer, { basePrompt: 'x y', variants: [{ changes: 0, at: 0 }] }), 'INVALID_INPUT', /LlamaModel/);
    await expectCode(() => prefixTrace('nonsense' as 'agent', tokenizer), 'INVALID_INPUT');
  });
});
