/**
 * A second connection to a Redis server, used only to read large values (GET / GETEX / MGET of KV
 * blocks). ioredis, the store's main client, reads a socket in 64 KiB chunks into fresh buffers and
 * reassembles multi-MiB bulk strings afterwards; here the socket reads into one reusable buffer
 * (net's `onread`) and {@link RespParser} copies each value once into a Buffer of its exact size.
 * On this project's machine that moves KV blocks about as fast as loopback TCP allows, well above
 * ioredis (`npm run bench:store`).
 *
 * Deliberately small: commands go out back to back and replies are matched in order; no offline
 * queue, no retries, no pub/sub, no TLS (a TLS store keeps using ioredis for reads). Any socket or
 * protocol error fails every command in flight and closes the connection; the next call connects
 * again. Timeouts are the caller's (the store wraps calls in its deadline).
 */
import * as net from 'node:net';
import { StoreUnavailableError } from '../../runtime/errors';
import { RespParser, encodeCommand, type RespReply } from './parser';
import { BufferPool } from './buffer-pool';

export interface BulkConnectionOptions {
  host: string;
  port: number;
  username?: string;
  password?: string;
  /** Database to SELECT after connecting. @default 0 */
  db?: number;
  /** CLIENT SETNAME after connecting (shows in CLIENT LIST). */
  connectionName?: string;
  /** Milliseconds to wait for the TCP connection and the handshake. */
  connectTimeout: number;
  /** Size of the one buffer every socket read lands in. @default 1 MiB */
  readBufferBytes?: number;
}

export const DEFAULT_BULK_CONNECTION_OPTIONS = {
  db: 0,
  readBufferBytes: 1024 * 1024,
} as const satisfies Partial<BulkConnectionOptions>;

interface Waiting {
  resolve: (reply: RespReply) => void;
  reject: (err: Error) => void;
  /** A handshake command: an error reply fails the connection at once. */
  handshake: boolean;
  /** The reply's bulk string is lent from the pool (the caller gives it back with `release`). */
  lend: boolean;
}

/** Options of one `send`. */
export interface SendOptions {
  /**
   * Lend the values of the replies from the connection's pool instead of allocating them: the caller
   * must `release` each Buffer once done with it (its bytes are reused afterwards). @default false
   */
  lend?: boolean;
}

export class BulkConnection {
  private socket: net.Socket | undefined;
  private ready: Promise<net.Socket> | undefined;
  private waiting: Waiting[] = [];
  private closed = false;
  private readonly readBuffer: Buffer;
  private readonly pool = new BufferPool();

  constructor(private readonly options: BulkConnectionOptions) {
    this.readBuffer = Buffer.allocUnsafe(options.readBufferBytes ?? DEFAULT_BULK_CONNECTION_OPTIONS.readBufferBytes);
  }

  /**
   * Send the commands back to back; resolves with one reply per command, in order (an error reply
   * is a `RespReplyError` in its place). Rejects if the connection fails before every reply.
   * `onReply` sees each reply as soon as it is parsed, between socket reads — while the server is
   * still sending the next ones.
   */
  async send(commands: readonly (readonly (string | Buffer)[])[], onReply?: (index: number, reply: RespReply) => void, options: SendOptions = {}): Promise<RespReply[]> {
    const socket = await this.connect();
    return Promise.all(
      commands.map((c, i) => {
        const reply = this.request(socket, c, false, options.lend === true);
        return onReply ? reply.then((r) => (onReply(i, r), r)) : reply;
      }),
    );
  }

  /** Give back a value lent by `send(…, { lend: true })`. */
  release(value: Buffer): void {
    this.pool.release(value);
  }

  /** Close the connection; calls in flight fail. Later calls are refused. */
  close(): void {
    this.closed = true;
    this.drop(new StoreUnavailableError('bulk read connection closed'));
  }

  private request(socket: net.Socket, args: readonly (string | Buffer)[], handshake = false, lend = false): Promise<RespReply> {
    return new Promise<RespReply>((resolve, reject) => {
      this.waiting.push({ resolve, reject, handshake, lend });
      socket.write(encodeCommand(args));
    });
  }

  private connect(): Promise<net.Socket> {
    if (this.closed) return Promise.reject(new StoreUnavailableError('bulk read connection closed'));
    if (this.ready) return this.ready;
    const o = this.options;
    const ready = new Promise<net.Socket>((resolve, reject) => {
      let direct = false;
      // A bulk string is copied into a pooled buffer when the command waiting for it asked to borrow one.
      const parser = new RespParser(
        (reply) => this.deliver(reply, socket),
        (size) => (this.waiting[0]?.lend ? this.pool.take(size) : Buffer.allocUnsafe(size)),
      );
      const socket: net.Socket = net.connect({
        host: o.host,
        port: o.port,
        noDelay: true,
        onread: {
          // Inside a large value, the kernel writes straight into the value's Buffer (no copy from
          // the read buffer); headers and small replies land in the one reused read buffer.
          buffer: (): Uint8Array => {
            const target = parser.directTarget();
            direct = target !== undefined;
            return target ?? this.readBuffer;
          },
          callback: (n: number, buf: Uint8Array): boolean => {
            try {
              if (direct) parser.feedDirect(n);
              else parser.feed(buf, 0, n);
            } catch (err) {
              this.drop(err as Error, socket);
            }
            return true;
          },
        },
      } as net.NetConnectOpts);
      this.socket = socket;
      const timer = setTimeout(() => fail(new StoreUnavailableError(`bulk read connection to ${o.host}:${o.port} timed out after ${o.connectTimeout} ms`)), o.connectTimeout);
      const fail = (err: Error): void => {
        clearTimeout(timer);
        this.drop(err, socket);
        reject(err);
      };
      socket.once('error', (err) => fail(new StoreUnavailableError(`bulk read connection: ${err.message}`, { cause: err })));
      socket.once('close', () => this.drop(new StoreUnavailableError('bulk read connection lost'), socket));
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        socket.on('error', (err) => this.drop(new StoreUnavailableError(`bulk read connection: ${err.message}`, { cause: err }), socket));
        // The handshake goes out ahead of the first commands without waiting for its replies: no
        // extra round trip. Redis answers in order, so a failed AUTH fails the connection (and with
        // it the commands behind it) before any of their replies is delivered.
        const handshake: (string | Buffer)[][] = [];
        if (o.password !== undefined) handshake.push(o.username !== undefined ? ['AUTH', o.username, o.password] : ['AUTH', o.password]);
        if ((o.db ?? 0) !== 0) handshake.push(['SELECT', String(o.db)]);
        if (o.connectionName) handshake.push(['CLIENT', 'SETNAME', o.connectionName]);
        for (const c of handshake) this.request(socket, c, true).catch(() => undefined);
        resolve(socket);
      });
    });
    ready.catch(() => undefined);
    this.ready = ready;
    return ready;
  }

  private deliver(reply: RespReply, from: net.Socket): void {
    if (from !== this.socket) return; // bytes of a connection already dropped
    const w = this.waiting.shift();
    if (!w) return this.drop(new StoreUnavailableError('bulk read connection: a reply nobody asked for'), from);
    // Checked here, synchronously, so that no later reply is handed out on a connection whose
    // AUTH or SELECT failed (NOAUTH errors, or values of the wrong database).
    if (w.handshake && reply instanceof Error) {
      const err = new StoreUnavailableError(`bulk read connection: handshake failed: ${reply.message}`);
      w.reject(err);
      return this.drop(err, from);
    }
    w.resolve(reply);
  }

  /**
   * Fail everything in flight and forget the socket; the next call reconnects. With `from`, only if
   * that socket is still the current one (a late event of an old socket must not drop a new one).
   */
  private drop(err: Error, from?: net.Socket): void {
    if (from !== undefined && from !== this.socket) return;
    const waiting = this.waiting;
    this.waiting = [];
    this.ready = undefined;
    const socket = this.socket;
    this.socket = undefined;
    socket?.destroy();
    for (const w of waiting) w.reject(err);
  }
}

