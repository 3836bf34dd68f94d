import { strict as assert } from 'node:assert';
import { SafetensorsReader, writeSafetensors } from '../../lib/src/model';
import { float16BitsToFloat32Bits } from '../../lib/src/model/half';
import { expectCode } from './helpers';

/** Build a safetensors buffer from a raw header object and data bytes (for malformed inputs). */
function rawFile(header: unknown, data: Uint8Array = new Uint8Array(0), headerLengthOverride?: number): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLengthOverride ?? json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function bitsOf(values: Float32Array): Uint32Array {
  return new Uint32Array(values.buffer, values.byteOffset, values.length);
}

describe('safetensors reader/writer', () => {
  it('round-trips float32 tensors bit-exactly, including -0, subnormals, infinities and NaN payloads', () => {
    const special = new Float32Array(8);
    bitsOf(special).set([0x80000000, 0x00000001, 0x007fffff, 0x7f800000, 0xff800000, 0x7fc00001, 0x3f800000, 0xc2f6e979]);
    const matrix = Float32Array.from({ length: 6 }, (_, i) => i / 7 - 0.3);
    const bytes = writeSafetensors(
      [
        { name: 'a', shape: [8], data: special },
        { name: 'b.weight', shape: [2, 3], data: matrix },
        { name: 'empty', shape: [0, 4], data: new Float32Array(0) },
      ],
      { format: 'pt' },
    );
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal((8 + headerLength) % 8, 0, 'tensor data starts 8-byte aligned');
    const reader = new SafetensorsReader(bytes);
    assert.deepEqual(reader.names(), ['a', 'b.weight', 'empty']);
    assert.deepEqual(reader.metadata, { format: 'pt' });
    assert.deepEqual(reader.tensors.get('b.weight'), { dtype: 'F32', shape: [2, 3], begin: 32, end: 56 });
    assert.deepEqual([...bitsOf(reader.float32('a'))], [...bitsOf(special)]);
    assert.deepEqual([...bitsOf(reader.float32('b.weight'))], [...bitsOf(matrix)]);
    assert.equal(reader.float32('empty').length, 0);
    // A buffer that is a view at an odd offset into a larger one still parses.
    const shifted = new Uint8Array(bytes.length + 3);
    shifted.set(bytes, 3);
    assert.deepEqual([...bitsOf(new SafetensorsReader(shifted.subarray(3)).float32('b.weight'))], [...bitsOf(matrix)]);
  });

  it('widens F16 exactly (normal, subnormal, zero, inf, NaN)', () => {
    const cases: [number, number][] = [
      [0x3c00, 1],
      [0xc000, -2],
      [0x7bff, 65504],
      [0x0001, 2 ** -24],
      [0x03ff, 1023 * 2 ** -24],
      [0x0400, 2 ** -14],
      [0x3555, 0.333251953125],
      [0x8000, -0],
      [0x7c00, Infinity],
      [0xfc00, -Infinity],
    ];
    const data = new Uint8Array(cases.length * 2);
    cases.forEach(([h], i) => {
      data[2 * i] = h & 0xff;
      data[2 * i + 1] = h >> 8;
    });
    const reader = new SafetensorsReader(rawFile({ h: { dtype: 'F16', shape: [cases.length], data_offsets: [0, data.length] } }, data));
    const values = reader.float32('h');
    cases.forEach(([h, expected], i) => assert.ok(Object.is(values[i], expected), `F16 0x${h.toString(16)} → ${values[i]}, expected ${expected}`));
    assert.ok(Number.isNaN(new Float32Array(new Uint32Array([float16BitsToFloat32Bits(0x7e00)]).buffer)[0]));
  });

  it('widens BF16 as the top half of a float32', () => {
    const data = new Uint8Array([0x80, 0x3f, 0x49, 0x40, 0x00, 0x80, 0x80, 0xff]); // 1, 3.140625, -0, -inf
    const reader = new SafetensorsReader(rawFile({ b: { dtype: 'BF16', shape: [2, 2], data_offsets: [0, 8] } }, data));
    const values = [...reader.float32('b')];
    assert.ok(Object.is(values[2], -0));
    assert.deepEqual(values, [1, 3.140625, -0, -Infinity]);
  });

  it('rejects malformed containers with CORRUPT_ENTRY', async () => {
    const ok = { t: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
    const eight = new Uint8Array(8);
    await expectCode(() => new SafetensorsReader(new Uint8Array(5)), 'CORRUPT_ENTRY', /too short/);
    await expectCode(() => new SafetensorsReader(rawFile(ok, eight, 1e6)), 'CORRUPT_ENTRY', /header length/);
    await expectCode(() => new SafetensorsReader(rawFile('{"t": ', eight)), 'CORRUPT_ENTRY', /JSON/);
    await expectCode(() => new SafetensorsReader(rawFile('[1,2]', eight)), 'CORRUPT_ENTRY', /object/);
    await expectCode(() => new SafetensorsReader(rawFile(ok, new Uint8Array(4))), 'CORRUPT_ENTRY', /truncated/, { path: 'header["t"].data_offsets', limit: 4, actual: 8 });
    await expectCode(() => new SafetensorsReader(rawFile({ t: { ...ok.t, shape: [3] } }, eight)), 'CORRUPT_ENTRY', /needs 12 bytes/, { path: 'header["t"].data_offsets', received: '8 bytes' });
    await expectCode(() => new SafetensorsReader(rawFile({ t: { ...ok.t, shape: [-2] } }, eight)), 'CORRUPT_ENTRY', /shape/);
    await expectCode(() => new SafetensorsReader(rawFile({ t: { ...ok.t, data_offsets: [8, 0] } }, eight)), 'CORRUPT_ENTRY', /data_offsets/);
    await expectCode(() => new SafetensorsReader(rawFile({ t: { ...ok.t, dtype: 'FLOAT' } }, eight)), 'CORRUPT_ENTRY', /unknown dtype/);
    await expectCode(() => new SafetensorsReader(rawFile(ok, new Uint8Array(12))), 'CORRUPT_ENTRY', /cover/);
    const overlapping = { a: ok.t, b: ok.t };
    await expectCode(() => new SafetensorsReader(rawFile(overlapping, eight)), 'CORRUPT_ENTRY', /overlap/);
    const hole = { a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } };
    await expectCode(() => new SafetensorsReader(rawFile(hole, eight)), 'CORRUPT_ENTRY', /hole/);
    await expectCode(() => new SafetensorsReader(rawFile({ ...ok, __metadata__: { n: 1 } }, eight)), 'CORRUPT_ENTRY', /__metadata__/);
    await expectCode(() => new SafetensorsReader(rawFile(ok, eight)).float32('nope'), 'CORRUPT_ENTRY', /no tensor/);
    await expectCode(() => writeSafetensors([{ name: 'x', shape: [3], data: new Float32Array(2) }]), 'CORRUPT_ENTRY', /shape/);
  });

  it('rejects valid but unsupported dtypes with UNSUPPORTED_FORMAT', async () => {
    const file = rawFile({ t: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8));
    await expectCode(() => new SafetensorsReader(file), 'UNSUPPORTED_FORMAT', /I64/);
  });
});
