import { strict as assert } from 'node:assert';
import {
  DEFAULT_BLOCK_SIZE,
  DEFAULT_NAMESPACE_OPTIONS,
  NAMESPACE_ID_LENGTH,
  createNamespace,
  describeNamespace,
  hashBlocks,
  namespaceBytes,
  recommendBlockSize,
  type NamespaceSpec,
} from '../../lib/src/hashing';
import { InvalidInputError } from '../../lib/src/runtime/errors';
import { BASE_SPEC, loadFixture, tokensFrom } from './helpers';

function throwsInvalid(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof InvalidInputError && err.code === 'INVALID_INPUT' && re.test(err.message));
}

describe('hashing/namespace', () => {
  it('matches the independent Python encoding and hash for every fixture namespace', () => {
    const fx = loadFixture();
    for (const [name, want] of Object.entries(fx.namespaces)) {
      assert.equal(Buffer.from(namespaceBytes(want.spec)).toString('hex'), want.encodingHex, `${name} encoding`);
      const ns = createNamespace(want.spec);
      assert.equal(ns.hash, want.hash, `${name} hash`);
      assert.equal(ns.id, want.id, `${name} id`);
      assert.equal(ns.blockSize, want.blockSize, `${name} blockSize`);
    }
  });

  it('fills in documented defaults; the id is a prefix of the hash', () => {
    const ns = createNamespace(BASE_SPEC);
    assert.equal(ns.blockSize, DEFAULT_BLOCK_SIZE);
    assert.equal(DEFAULT_NAMESPACE_OPTIONS.blockSize, 16);
    assert.deepEqual(
      { tpRank: ns.spec.tpRank, tpSize: ns.spec.tpSize, salted: ns.spec.salted },
      { tpRank: 0, tpSize: 1, salted: false },
    );
    assert.equal(ns.id.length, NAMESPACE_ID_LENGTH);
    assert.ok(ns.hash.startsWith(ns.id));
    assert.match(ns.hash, /^[0-9a-f]{64}$/);
    // explicit defaults give the same namespace as omitted ones
    assert.equal(createNamespace({ ...BASE_SPEC, blockSize: 16, layout: { tpRank: 0, tpSize: 1 } }).hash, ns.hash);
    assert.match(describeNamespace(ns), /fp16 v1 block=16 tp=0\/1$/);
  });

  it('never keeps the salt in the namespace object', () => {
    const ns = createNamespace({ ...BASE_SPEC, salt: 'top-secret-tenant-key' });
    assert.equal(ns.spec.salted, true);
    assert.ok(!JSON.stringify(ns).includes('top-secret'));
    assert.match(describeNamespace(ns), /salted/);
    assert.ok(Object.isFrozen(ns) && Object.isFrozen(ns.spec));
  });

  it('changing model, dtype, format version, block size, layout or salt changes every block hash', () => {
    const tokens = tokensFrom(5, 16 * 8); // 8 blocks at 16, 2 at 64
    const base = createNamespace(BASE_SPEC);
    const baseHashes = hashBlocks(tokens, base);
    const variants: [string, NamespaceSpec][] = [
      ['model', { ...BASE_SPEC, modelFingerprint: 'ac' + 'ab'.repeat(31) }],
      ['dtype', { ...BASE_SPEC, kvDtype: 'bf16' }],
      ['format version', { ...BASE_SPEC, kvFormatVersion: 2 }],
      ['block size', { ...BASE_SPEC, blockSize: 64 }],
      ['tp rank', { ...BASE_SPEC, layout: { tpRank: 1, tpSize: 2 } }],
      ['tp size', { ...BASE_SPEC, layout: { tpRank: 0, tpSize: 2 } }],
      ['salt', { ...BASE_SPEC, salt: 'tenant-b' }],
      ['other salt', { ...BASE_SPEC, salt: 'tenant-c' }],
    ];
    const seen = new Set(baseHashes);
    for (const [what, spec] of variants) {
      const ns = createNamespace(spec);
      assert.notEqual(ns.hash, base.hash, what);
      const hashes = hashBlocks(tokens, ns);
      assert.ok(hashes.length > 0);
      for (const h of hashes) {
        assert.ok(!seen.has(h), `${what}: a block hash collides with another namespace's`);
        seen.add(h);
      }
    }
  });

  it('treats the fingerprint case-insensitively (hex case carries no information)', () => {
    const lower = createNamespace(BASE_SPEC);
    const upper = createNamespace({ ...BASE_SPEC, modelFingerprint: BASE_SPEC.modelFingerprint.toUpperCase() });
    assert.equal(upper.hash, lower.hash);
  });

  it('rejects every malformed field with InvalidInputError and a message naming it', () => {
    const bad: [Partial<NamespaceSpec> & Record<string, unknown>, RegExp][] = [
      [{ modelFingerprint: '' }, /modelFingerprint/],
      [{ modelFingerprint: 'xyz'.repeat(10) }, /modelFingerprint/],
      [{ modelFingerprint: 'abc' }, /16–128/],
      [{ modelFingerprint: 42 as unknown as string }, /modelFingerprint/],
      [{ kvDtype: '' }, /kvDtype/],
      [{ kvDtype: 'FP16' }, /lowercase/],
      [{ kvDtype: 'fp 16' }, /kvDtype/],
      [{ kvFormatVersion: -1 }, /kvFormatVersion/],
      [{ kvFormatVersion: 1.5 }, /kvFormatVersion/],
      [{ kvFormatVersion: 2 ** 32 }, /kvFormatVersion/],
      [{ kvFormatVersion: Number.NaN }, /NaN/],
      [{ blockSize: 0 }, /blockSize/],
      [{ blockSize: 16.5 }, /blockSize/],
      [{ blockSize: 1e9 }, /blockSize/],
      [{ layout: { tpRank: 2, tpSize: 2 } }, /tpRank/],
      [{ layout: { tpRank: -1, tpSize: 2 } }, /tpRank/],
      [{ layout: { tpRank: 0, tpSize: 0 } }, /tpSize/],
      [{ layout: { tpRank: 0, tpSize: 2, ppRank: 1 } as never }, /unknown field.*ppRank/],
      [{ salt: '' }, /salt/],
      [{ salt: 'x'.repeat(1025) }, /1024/],
      [{ salt: 'a\ud800b' }, /surrogate/],
      [{ salt: 7 as unknown as string }, /salt/],
      [{ loraId: 'x' }, /unknown field.*loraId/],
    ];
    for (const [patch, re] of bad) throwsInvalid(() => createNamespace({ ...BASE_SPEC, ...patch }), re);
    throwsInvalid(() => createNamespace(null as unknown as NamespaceSpec), /object/);
  });

  it('names the bad field in the error details: path, expected, received (and limit/actual for sizes)', () => {
    assert.throws(() => createNamespace({ ...BASE_SPEC, layout: { tpRank: 2, tpSize: 2 } }), {
      code: 'INVALID_INPUT',
      details: { path: 'spec.layout.tpRank', expected: 'an integer in [0, 1]', received: '2' },
    });
    assert.throws(() => createNamespace({ ...BASE_SPEC, kvDtype: 'FP16' }), { details: { path: 'spec.kvDtype', expected: "a lowercase name of 1–32 characters [a-z0-9._-] such as 'fp16'", received: '"FP16"' } });
    assert.throws(() => createNamespace({ ...BASE_SPEC, salt: 'x'.repeat(1025) }), { details: { path: 'spec.salt', expected: 'at most 1024 UTF-8 bytes', received: '1025 bytes', limit: 1024, actual: 1025 } });
    assert.throws(() => createNamespace({ ...BASE_SPEC, loraId: 'x' } as never), { details: { path: 'spec.loraId', expected: 'only the known fields modelFingerprint, kvDtype, kvFormatVersion, blockSize, layout, salt', received: 'unknown field(s) loraId' } });
  });

  it('recommendBlockSize picks the smallest block whose value reaches 1 MiB without passing 8 MiB', () => {
    assert.equal(recommendBlockSize(128 * 1024), 16); // Llama-3-8B fp16: 2 MiB at 16
    assert.equal(recommendBlockSize(512 * 1024), 16); // Llama-2-7B: 8 MiB at 16
    assert.equal(recommendBlockSize(16 * 1024), 64); // a small model: 1 MiB at 64
    assert.equal(recommendBlockSize(1024), 256); // tiny: even 256 is small
    assert.equal(recommendBlockSize(4 << 20), 16); // huge: every candidate is too big
    throwsInvalid(() => recommendBlockSize(0), /kvBytesPerToken/);
  });
});
