import { CorruptEntryError, UnsupportedFormatError, describeValue } from '../runtime/errors';
import { decodeBfloat16, decodeFloat16, decodeFloat32, float32ToBytes } from './half';

/**
 * The safetensors container (https://huggingface.co/docs/safetensors): an 8-byte little-endian
 * header length N, N bytes of JSON `{ name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: {…} }`,
 * then the tensor bytes, offsets relative to the end of the header. Written by hand here so the
 * format's rules are visible (and checked) rather than hidden in a dependency.
 */

/** Dtypes this reader widens to float32. */
export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';

const ITEM_SIZE: Readonly<Record<SafetensorsDtype, number>> = { F32: 4, F16: 2, BF16: 2 };
// Every dtype the format defines, so an unsupported-but-valid one is told apart from garbage.
const KNOWN_DTYPES = new Set(['BOOL', 'U8', 'I8', 'F8_E5M2', 'F8_E4M3', 'I16', 'U16', 'F16', 'BF16', 'I32', 'U32', 'F32', 'F64', 'I64', 'U64']);
// The reference implementation refuses headers above 100 MB; a larger one is a corrupt length.
const MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsTensorInfo {
  dtype: SafetensorsDtype;
  shape: number[];
  /** Byte range inside the data section (after the header). */
  begin: number;
  end: number;
}

/** A float32 tensor to write. */
export interface SafetensorsTensor {
  name: string;
  shape: readonly number[];
  data: Float32Array;
}

/**
 * A parsed safetensors buffer. The header is validated up front; tensors are decoded
 * (widened to float32) on demand by {@link SafetensorsReader.float32}.
 */
export class SafetensorsReader {
  readonly metadata: Readonly<Record<string, string>>;
  readonly tensors: ReadonlyMap<string, SafetensorsTensorInfo>;
  private readonly bytes: Uint8Array;
  private readonly dataStart: number;

  /** Throws `CorruptEntryError` for a malformed container, `UnsupportedFormatError` for a dtype other than F32/F16/BF16. */
  constructor(bytes: Uint8Array) {
    if (!(bytes instanceof Uint8Array)) {
      throw new CorruptEntryError({ message: `safetensors input must be a Uint8Array, got ${typeof bytes}`, path: 'bytes', expected: 'a Uint8Array', received: describeValue(bytes) });
    }
    if (bytes.byteLength < 8) {
      throw new CorruptEntryError({
        message: `safetensors buffer of ${bytes.byteLength} bytes is too short for the 8-byte header length`,
        path: 'bytes',
        expected: 'at least the 8-byte header length',
        received: `${bytes.byteLength} bytes`,
      });
    }
    const headerLength = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
    if (headerLength > BigInt(MAX_HEADER_BYTES) || headerLength > BigInt(bytes.byteLength - 8)) {
      const limit = Math.min(MAX_HEADER_BYTES, bytes.byteLength - 8);
      throw new CorruptEntryError({
        message: `safetensors header length ${headerLength} does not fit in a buffer of ${bytes.byteLength} bytes`,
        path: 'header length',
        expected: `at most ${limit} bytes (the ${MAX_HEADER_BYTES}-byte cap and what the buffer holds)`,
        received: String(headerLength),
        limit,
        actual: Number(headerLength),
      });
    }
    const n = Number(headerLength);
    let header: unknown;
    try {
      header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
    } catch (err) {
      throw new CorruptEntryError(
        { message: `safetensors header is not valid UTF-8 JSON: ${(err as Error).message}`, path: 'header', expected: 'UTF-8 JSON', received: (err as Error).message },
        { cause: err },
      );
    }
    if (header === null || typeof header !== 'object' || Array.isArray(header)) {
      throw new CorruptEntryError({ message: 'safetensors header must be a JSON object', path: 'header', expected: 'a JSON object', received: describeValue(header) });
    }
    this.bytes = bytes;
    this.dataStart = 8 + n;
    const dataLength = bytes.byteLength - this.dataStart;
    const tensors = new Map<string, SafetensorsTensorInfo>();
    let metadata: Record<string, string> = {};
    for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
      if (name === '__metadata__') {
        metadata = parseMetadata(entry);
        continue;
      }
      tensors.set(name, parseEntry(name, entry, dataLength));
    }
    checkCoverage(tensors, dataLength);
    this.metadata = Object.freeze(metadata);
    this.tensors = tensors;
  }

  /** Tensor names in header order. */
  names(): string[] {
    return [...this.tensors.keys()];
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  /** The tensor's values widened to float32 (a fresh array). Throws `CorruptEntryError` for an unknown name. */
  float32(name: string): Float32Array {
    const info = this.tensors.get(name);
    if (info === undefined) {
      throw new CorruptEntryError({ message: `safetensors file has no tensor named ${JSON.stringify(name)}`, path: 'name', expected: 'the name of a tensor in the file', received: describeValue(name) });
    }
    const offset = this.dataStart + info.begin;
    const count = numel(info.shape);
    switch (info.dtype) {
      case 'F32':
        return decodeFloat32(this.bytes, offset, count);
      case 'F16':
        return decodeFloat16(this.bytes, offset, count);
      case 'BF16':
        return decodeBfloat16(this.bytes, offset, count);
    }
  }
}

/**
 * Serialize float32 tensors (in the given order) to a safetensors buffer. The header is padded with
 * spaces to a multiple of 8 bytes so every tensor starts 8-byte aligned, as the reference writer does.
 */
export function writeSafetensors(tensors: readonly SafetensorsTensor[], metadata: Readonly<Record<string, string>> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = { ...metadata };
  let offset = 0;
  for (const [i, t] of tensors.entries()) {
    if (t.name === '__metadata__' || Object.prototype.hasOwnProperty.call(header, t.name)) {
      throw new CorruptEntryError({
        message: `tensor name ${JSON.stringify(t.name)} is reserved or repeated`,
        path: `tensors[${i}].name`,
        expected: 'a name not yet used and not __metadata__',
        received: describeValue(t.name),
      });
    }
    const count = numel(t.shape);
    if (count !== t.data.length) {
      throw new CorruptEntryError({
        message: `tensor ${t.name} has shape [${t.shape.join(', ')}] (${count} values) but ${t.data.length} values`,
        path: `tensors[${i}].data`,
        expected: `${count} values (shape [${t.shape.join(', ')}])`,
        received: `${t.data.length} values`,
      });
    }
    header[t.name] = { dtype: 'F32', shape: [...t.shape], data_offsets: [offset, offset + count * 4] };
    offset += count * 4;
  }
  let json = JSON.stringify(header);
  const encoder = new TextEncoder();
  let headerBytes = encoder.encode(json);
  const padding = (8 - (headerBytes.byteLength % 8)) % 8;
  if (padding > 0) {
    json += ' '.repeat(padding);
    headerBytes = encoder.encode(json);
  }
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.byteLength;
  for (const t of tensors) {
    out.set(float32ToBytes(t.data), at);
    at += t.data.byteLength;
  }
  return out;
}

function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function parseMetadata(entry: unknown): Record<string, string> {
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
    throw new CorruptEntryError({ message: 'safetensors __metadata__ must be an object of strings', path: 'header.__metadata__', expected: 'an object of strings', received: describeValue(entry) });
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
    if (typeof v !== 'string') {
      throw new CorruptEntryError({ message: `safetensors __metadata__.${k} must be a string, got ${typeof v}`, path: `header.__metadata__.${k}`, expected: 'a string', received: describeValue(v) });
    }
    out[k] = v;
  }
  return out;
}

function parseEntry(name: string, entry: unknown, dataLength: number): SafetensorsTensorInfo {
  const at = `header[${JSON.stringify(name)}]`;
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
    throw new CorruptEntryError({
      message: `safetensors entry ${name} must be an object with dtype, shape and data_offsets`,
      path: at,
      expected: 'an object with dtype, shape and data_offsets',
      received: describeValue(entry),
    });
  }
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  if (typeof dtype !== 'string' || !KNOWN_DTYPES.has(dtype)) {
    throw new CorruptEntryError({
      message: `safetensors entry ${name} has unknown dtype ${JSON.stringify(dtype)}`,
      path: `${at}.dtype`,
      expected: 'a safetensors dtype',
      received: describeValue(dtype),
    });
  }
  if (!(dtype in ITEM_SIZE)) {
    throw new UnsupportedFormatError({
      message: `safetensors tensor ${name} has dtype ${dtype}; supported: ${Object.keys(ITEM_SIZE).join(', ')}`,
      path: `${at}.dtype`,
      expected: `a supported dtype: ${Object.keys(ITEM_SIZE).join(', ')}`,
      received: dtype,
    });
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw new CorruptEntryError({
      message: `safetensors entry ${name} has invalid shape ${JSON.stringify(shape)}`,
      path: `${at}.shape`,
      expected: 'an array of non-negative integers',
      received: String(JSON.stringify(shape)).slice(0, 60),
    });
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && (o as number) >= 0) ||
    (offsets[0] as number) > (offsets[1] as number)
  ) {
    throw new CorruptEntryError({
      message: `safetensors entry ${name} has invalid data_offsets ${JSON.stringify(offsets)}`,
      path: `${at}.data_offsets`,
      expected: '[begin, end] with 0 ≤ begin ≤ end',
      received: String(JSON.stringify(offsets)).slice(0, 60),
    });
  }
  const [begin, end] = offsets as [number, number];
  if (end > dataLength) {
    throw new CorruptEntryError({
      message: `safetensors tensor ${name} ends at byte ${end} but the data section has ${dataLength} bytes (truncated file?)`,
      path: `${at}.data_offsets`,
      expected: `an end within the ${dataLength}-byte data section`,
      received: `end ${end}`,
      hint: 'Truncated file?',
      limit: dataLength,
      actual: end,
    });
  }
  const typed = dtype as SafetensorsDtype;
  const expected = numel(shape as number[]) * ITEM_SIZE[typed];
  if (end - begin !== expected) {
    throw new CorruptEntryError({
      message: `safetensors tensor ${name}: ${dtype} [${(shape as number[]).join(', ')}] needs ${expected} bytes, data_offsets span ${end - begin}`,
      path: `${at}.data_offsets`,
      expected: `a span of ${expected} bytes (${dtype} [${(shape as number[]).join(', ')}])`,
      received: `${end - begin} bytes`,
    });
  }
  return { dtype: typed, shape: [...(shape as number[])], begin, end };
}

// Tensors must tile the data section exactly: no overlaps (two names for the same bytes) and no holes.
function checkCoverage(tensors: Map<string, SafetensorsTensorInfo>, dataLength: number): void {
  const spans = [...tensors.entries()].sort((a, b) => a[1].begin - b[1].begin || a[1].end - b[1].end);
  let expected = 0;
  for (const [name, info] of spans) {
    if (info.begin !== expected) {
      throw new CorruptEntryError({
        message: `safetensors tensor ${name} starts at byte ${info.begin}, expected ${expected} (overlap or hole in the data section)`,
        path: `header[${JSON.stringify(name)}].data_offsets`,
        expected: `a start at byte ${expected}`,
        received: `a start at byte ${info.begin}`,
      });
    }
    expected = info.end;
  }
  if (expected !== dataLength) {
    throw new CorruptEntryError({
      message: `safetensors data section has ${dataLength} bytes but the tensors cover ${expected}`,
      path: 'data section',
      expected: `${expected} bytes (what the tensors cover)`,
      received: `${dataLength} bytes`,
    });
  }
}
