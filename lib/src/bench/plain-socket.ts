/**
 * The machine's limit for reading values from Redis: a plain Node socket that keeps `window` GETs in
 * flight, reads into one reused buffer and only skips over the bytes (no copy, no parsing beyond the
 * `$<length>` of each reply). Nothing a client library does can read faster over the same socket,
 * so it is the baseline the store's read path is measured against.
 */
import * as net from 'node:net';

/** Read every key once with at most `window` GETs in flight; resolves to the bytes of value received. */
export function plainSocketRead(host: string, port: number, keys: readonly string[], window: number, password?: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const buffer = Buffer.allocUnsafe(1 << 20);
    let sent = 0;
    let done = 0;
    let valueBytes = 0;
    // Parser state: reading a header line, or skipping `skip` bytes of a value (+ its CRLF).
    let header = '';
    let skip = 0;
    let authPending = password !== undefined;
    const request = (key: string): string => `*2\r\n$3\r\nGET\r\n$${Buffer.byteLength(key)}\r\n${key}\r\n`;
    const pump = (): void => {
      let out = '';
      while (sent < keys.length && sent - done < window) out += request(keys[sent++]!);
      if (out) socket.write(out);
    };
    const replyDone = (): void => {
      if (authPending) {
        authPending = false;
        return pump();
      }
      done++;
      if (done === keys.length) {
        socket.destroy();
        resolve(valueBytes);
      } else pump();
    };
    const socket = net.connect({
      host,
      port,
      noDelay: true,
      onread: {
        buffer,
        callback: (n: number, buf: Uint8Array): boolean => {
          let i = 0;
          while (i < n) {
            if (skip > 0) {
              const take = Math.min(skip, n - i);
              skip -= take;
              i += take;
              if (skip === 0) replyDone();
              continue;
            }
            const nl = buf.indexOf(10, i);
            if (nl < 0 || nl >= n) {
              header += Buffer.from(buf.buffer, buf.byteOffset + i, n - i).toString('latin1');
              break;
            }
            header += Buffer.from(buf.buffer, buf.byteOffset + i, nl + 1 - i).toString('latin1');
            i = nl + 1;
            const line = header;
            header = '';
            if (line[0] === '$') {
              const len = Number(line.slice(1, -2));
              if (len < 0) replyDone();
              else {
                valueBytes += len;
                skip = len + 2;
              }
            } else if (line[0] === '+') replyDone();
            else {
              socket.destroy();
              reject(new Error(`plain socket: unexpected reply ${JSON.stringify(line.trim())}`));
              return false;
            }
          }
          return true;
        },
      },
    } as net.NetConnectOpts);
    socket.once('error', reject);
    socket.once('connect', () => {
      if (password !== undefined) socket.write(`*2\r\n$4\r\nAUTH\r\n$${Buffer.byteLength(password)}\r\n${password}\r\n`);
      else pump();
    });
  });
}
