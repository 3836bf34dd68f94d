/**
 * A streaming RESP2 reply parser for the store's bulk read path. Input arrives in chunks of any size
 * (a socket read may end anywhere, even inside a `\r\n`); each bulk string is copied once, straight
 * from the chunk into a Buffer of its exact size. Handles every RESP2 reply type: simple strings,
 * errors, integers, bulk strings (and null), arrays (nested, and null).
 */

/** A RESP2 reply: bulk strings are Buffers, simple strings strings, error replies Error objects. */
export type RespReply = Buffer | string | number | null | Error | RespReply[];

/** An error reply from the server (`-ERR …`, `-WRONGTYPE …`): per command, not a protocol failure. */
export class RespReplyError extends Error {
  override readonly name = 'ReplyError';
}

/** The server sent bytes that are not RESP2: the connection must be dropped. */
export class RespProtocolError extends Error {
  override readonly name = 'RespProtocolError';
}

const CR = 13;
const LF = 10;
/** Longest header line accepted (type byte, a length or a short status/error text). */
const MAX_LINE = 64 * 1024;

interface ArrayFrame {
  items: RespReply[];
  left: number;
}

export class RespParser {
  /** Bytes of an unfinished header line, carried over to the next chunk. */
  private line: number[] = [];
  /** The bulk string being filled, and how much of it is filled. */
  private bulk: Buffer | undefined;
  private filled = 0;
  /** Bytes of the `\r\n` after a bulk string still to skip, and the string they end. */
  private trailer = 0;
  private pendingBulk: Buffer | undefined;
  private readonly stack: ArrayFrame[] = [];

  /**
   * @param onReply every complete reply, in order
   * @param allocate where a bulk string of `size` bytes is copied to (a pooled buffer, say)
   */
  constructor(
    private readonly onReply: (reply: RespReply) => void,
    private readonly allocate: (size: number) => Buffer = (size) => Buffer.allocUnsafe(size),
  ) {}

  /** Parse `chunk[start, end)`. The chunk may be reused by the caller afterwards. */
  feed(chunk: Uint8Array, start = 0, end = chunk.length): void {
    let i = start;
    while (i < end) {
      if (this.bulk !== undefined) {
        const n = Math.min(this.bulk.length - this.filled, end - i);
        this.bulk.set(chunk.subarray(i, i + n), this.filled);
        this.filled += n;
        i += n;
        if (this.filled === this.bulk.length) {
          const value = this.bulk;
          this.bulk = undefined;
          this.trailer = 2;
          this.pendingBulk = value;
        }
        continue;
      }
      if (this.trailer > 0) {
        const expected = this.trailer === 2 ? CR : LF;
        if (chunk[i] !== expected) throw new RespProtocolError('bulk string not followed by \\r\\n');
        i++;
        if (--this.trailer === 0) {
          const value = this.pendingBulk!;
          this.pendingBulk = undefined;
          this.value(value);
        }
        continue;
      }
      // A header line: find its end in this chunk.
      let j = i;
      while (j < end && chunk[j] !== LF) j++;
      if (j === end) {
        if (this.line.length + (end - i) > MAX_LINE) throw new RespProtocolError('header line too long');
        for (let k = i; k < end; k++) this.line.push(chunk[k]!);
        return;
      }
      let text: string;
      if (this.line.length > 0) {
        for (let k = i; k < j; k++) this.line.push(chunk[k]!);
        text = Buffer.from(this.line).toString('latin1');
        this.line = [];
      } else {
        text = Buffer.from(chunk.buffer, chunk.byteOffset + i, j - i).toString('latin1');
      }
      i = j + 1;
      if (!text.endsWith('\r')) throw new RespProtocolError('header line not ended by \\r\\n');
      this.header(text.slice(0, -1));
    }
  }

  private header(line: string): void {
    const type = line[0];
    const rest = line.slice(1);
    switch (type) {
      case '+':
        return this.value(rest);
      case '-':
        return this.value(new RespReplyError(rest));
      case ':':
        return this.value(this.integer(rest));
      case '$': {
        const n = this.integer(rest);
        if (n === -1) return this.value(null);
        if (n < 0) throw new RespProtocolError(`bad bulk length ${rest}`);
        if (n === 0) {
          this.pendingBulk = Buffer.alloc(0);
          this.trailer = 2;
          return;
        }
        this.bulk = this.allocate(n);
        this.filled = 0;
        return;
      }
      case '*': {
        const n = this.integer(rest);
        if (n === -1) return this.value(null);
        if (n < 0) throw new RespProtocolError(`bad array length ${rest}`);
        if (n === 0) return this.value([]);
        this.stack.push({ items: [], left: n });
        return;
      }
      default:
        throw new RespProtocolError(`unknown reply type ${JSON.stringify(type ?? '')}`);
    }
  }

  private integer(text: string): number {
    if (!/^-?\d{1,15}$/.test(text)) throw new RespProtocolError(`bad integer ${JSON.stringify(text.slice(0, 40))}`);
    return Number(text);
  }

  /** A complete value: the next item of the innermost array, or a whole reply. */
  private value(v: RespReply): void {
    let out = v;
    for (;;) {
      const top = this.stack[this.stack.length - 1];
      if (top === undefined) return this.onReply(out);
      top.items.push(out);
      if (--top.left > 0) return;
      this.stack.pop();
      out = top.items;
    }
  }

  /**
   * Where the socket may write its next bytes directly: the unfilled rest of the bulk string being
   * read, when at least `min` bytes of it remain — the kernel then copies the value straight into
   * its Buffer, with no copy in between. Report what was written with {@link feedDirect}.
   */
  directTarget(min = 64 * 1024): Buffer | undefined {
    const b = this.bulk;
    if (b === undefined || b.length - this.filled < min) return undefined;
    return b.subarray(this.filled);
  }

  /** `n` bytes were written into the target {@link directTarget} returned. */
  feedDirect(n: number): void {
    const b = this.bulk;
    if (b === undefined || n > b.length - this.filled) throw new RespProtocolError('direct read outside a bulk string');
    this.filled += n;
    if (this.filled === b.length) {
      this.bulk = undefined;
      this.trailer = 2;
      this.pendingBulk = b;
    }
  }

  /** True between replies (nothing half-read). */
  get idle(): boolean {
    return this.bulk === undefined && this.trailer === 0 && this.line.length === 0 && this.stack.length === 0;
  }
}

/** A command as RESP2 bytes: an array of bulk strings. */
export function encodeCommand(args: readonly (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}
