/**
 * Generic byte codecs applied to an encoded payload. All compressing codecs produce a zlib stream
 * (RFC 1950: deflate + Adler-32); they differ in who runs deflate and whether the bytes are
 * shuffled first:
 * - `pako`          — pako 2 (pure JavaScript; the course's example, runs in a browser too)
 * - `shuffle-pako`  — byte shuffle by value width, then pako
 * - `zlib`          — node:zlib (native C, the comparison point)
 * - `shuffle-zlib`  — byte shuffle, then node:zlib
 * Decoding inflates into exactly `rawLength` bytes and fails on any other length, on trailing
 * bytes after the stream, and on any inflate error — as a CorruptEntryError.
 */
import * as zlib from 'node:zlib';
import * as pako from 'pako';
import { CorruptEntryError } from '../runtime';
import { scratchBytes } from './scratch';
import { byteShuffle, byteUnshuffle } from './shuffle';

/** Every payload codec: none, deflate through pako or node:zlib, each with or without byte shuffling first. */
export const CODECS = ['none', 'pako', 'shuffle-pako', 'zlib', 'shuffle-zlib'] as const;
/** The name of a payload codec (one of {@link CODECS}). */
export type KVCodec = (typeof CODECS)[number];

/** Codec ids as stored in the container header (byte 7). Never renumber: stored entries use them. */
export const CODEC_IDS: Readonly<Record<KVCodec, number>> = { none: 0, pako: 1, 'shuffle-pako': 2, zlib: 3, 'shuffle-zlib': 4 };

export function codecFromId(id: number): KVCodec | undefined {
  return CODECS.find((c) => CODEC_IDS[c] === id);
}

export function isCodec(value: unknown): value is KVCodec {
  return typeof value === 'string' && (CODECS as readonly string[]).includes(value);
}

function shuffles(codec: KVCodec): boolean {
  return codec === 'shuffle-pako' || codec === 'shuffle-zlib';
}

function usesPako(codec: KVCodec): boolean {
  return codec === 'pako' || codec === 'shuffle-pako';
}

type DeflateLevel = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;

/**
 * Compress `raw` (an encoded payload whose values are `width` bytes wide — the shuffle width).
 * @returns the stored bytes; for `none`, `raw` itself.
 */
export function compressPayload(codec: KVCodec, raw: Uint8Array, width: number, level: number): Uint8Array {
  if (codec === 'none') return raw;
  let input = raw;
  if (shuffles(codec) && width > 1) {
    input = scratchBytes('shuffled', raw.length);
    byteShuffle(raw, input, width);
  }
  if (usesPako(codec)) return pako.deflate(input, { level: level as DeflateLevel });
  return zlib.deflateSync(input, { level });
}

/**
 * Inverse of {@link compressPayload}: exactly `rawLength` bytes (for shuffling codecs a scratch
 * view, valid until the next call).
 * @throws CorruptEntryError on any inflate error, a wrong length or trailing bytes.
 */
export function decompressPayload(codec: KVCodec, stored: Uint8Array, rawLength: number, width: number): Uint8Array {
  if (codec === 'none') {
    if (stored.length !== rawLength) {
      throw new CorruptEntryError({ path: 'payload', expected: `${rawLength} bytes (header.rawLength)`, received: `${stored.length} bytes`, limit: rawLength, actual: stored.length });
    }
    return stored;
  }
  const inflated = usesPako(codec) ? pakoInflateExact(stored, rawLength) : zlibInflateExact(stored, rawLength);
  if (!shuffles(codec) || width <= 1) return inflated;
  const out = scratchBytes('shuffled', rawLength);
  byteUnshuffle(inflated, out, width);
  return out;
}

function pakoInflateExact(stored: Uint8Array, rawLength: number): Uint8Array {
  // One output chunk of exactly rawLength bytes: pako writes straight into it (no join copy), and
  // a stream that inflates to more than that shows up as a second chunk, refused at once — so a
  // damaged or hostile stream cannot make us allocate without bound.
  const inflator = new pako.Inflate({ chunkSize: Math.max(1, rawLength) });
  let out: Uint8Array | undefined;
  let overflow = false;
  inflator.onData = (chunk) => {
    if (out !== undefined || !(chunk instanceof Uint8Array)) {
      overflow = true;
      throw new CorruptEntryError({
        message: `compressed payload inflates to more than the ${rawLength} bytes its header declares`,
        path: 'payload',
        expected: `a stream that inflates to ${rawLength} bytes (header.rawLength)`,
        received: 'a stream that inflates to more',
        limit: rawLength,
      });
    }
    out = chunk;
  };
  let status = 0;
  inflator.onEnd = (s) => {
    status = s;
  };
  let ok: boolean;
  try {
    ok = inflator.push(stored, true);
  } catch (err) {
    if (overflow) throw err;
    throw notInflating((err as Error).message, err);
  }
  if (!ok || status !== 0 || inflator.err !== 0) {
    throw new CorruptEntryError({
      message: `compressed payload does not inflate (zlib status ${inflator.err || status}: ${inflator.msg || 'incomplete stream'})`,
      path: 'payload',
      expected: 'a complete deflate stream',
      received: `zlib status ${inflator.err || status}: ${inflator.msg || 'incomplete stream'}`,
    });
  }
  const strm = (inflator as unknown as { strm?: { avail_in?: number } }).strm;
  if (strm?.avail_in !== undefined && strm.avail_in > 0) throw trailing(strm.avail_in);
  if (out === undefined || out.length !== rawLength) throw wrongLength(out?.length ?? 0, rawLength);
  return out;
}

function zlibInflateExact(stored: Uint8Array, rawLength: number): Uint8Array {
  let result: { buffer: Buffer; engine: zlib.Inflate };
  try {
    // maxOutputLength: a stream that would inflate past the declared size fails instead of
    // allocating; `info` gives the engine, whose bytesWritten tells how much input was consumed.
    result = zlib.inflateSync(stored, { maxOutputLength: Math.max(1, rawLength), info: true }) as unknown as {
      buffer: Buffer;
      engine: zlib.Inflate;
    };
  } catch (err) {
    throw notInflating((err as Error).message, err);
  }
  if (result.engine.bytesWritten !== stored.length) throw trailing(stored.length - result.engine.bytesWritten);
  if (result.buffer.length !== rawLength) throw wrongLength(result.buffer.length, rawLength);
  return result.buffer;
}

// The errors both inflaters share: the messages say what failed, the details where (the payload).
function notInflating(reason: string, cause: unknown): CorruptEntryError {
  return new CorruptEntryError(
    { message: `compressed payload does not inflate: ${reason}`, path: 'payload', expected: 'a valid deflate stream', received: reason },
    { cause },
  );
}

function trailing(extra: number): CorruptEntryError {
  return new CorruptEntryError({
    message: `${extra} bytes follow the end of the compressed stream`,
    path: 'payload',
    expected: 'nothing after the end of the compressed stream',
    received: `${extra} trailing bytes`,
  });
}

function wrongLength(inflated: number, rawLength: number): CorruptEntryError {
  return new CorruptEntryError({
    message: `compressed payload inflates to ${inflated} bytes, header declares ${rawLength}`,
    path: 'payload',
    expected: `${rawLength} bytes once inflated (header.rawLength)`,
    received: `${inflated} bytes`,
    limit: rawLength,
    actual: inflated,
  });
}
