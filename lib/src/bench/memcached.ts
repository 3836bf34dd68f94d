/**
 * memcached for the backends benchmark: a private server on loopback, a minimal meta-protocol client
 * that measures the server without a general-purpose client's overheads, and probes of its item-size
 * limit (the default 1 MiB refuses most KV blocks of real models).
 */
import { execFile } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import * as net from 'node:net';
import { promisify } from 'node:util';
import { freeLoopbackPort, startLoopbackServer } from '../runtime/loopback-server';
import { errorText } from '../runtime/errors';
import type { MemcachedLimitResult, MemcachedProbe } from './backends';
import { MiB } from '../runtime/units';

const execFileP = promisify(execFile);
// ────────────────────────────────────────────────────────────────────────────────────────────────
// memcached: a private server and a minimal meta-protocol client

export interface MemcachedServer {
  readonly port: number;
  /** The arguments that matter for a comparison (without the port and `-u root`). */
  readonly args: string[];
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

/**
 * Start a private `memcached` on loopback (UDP off). `extraArgs` e.g. `['-m', '2048', '-I', '16m']`.
 * Throws if `memcached` is not installed (`apt-get install memcached`).
 */
export async function startMemcached(extraArgs: string[] = []): Promise<MemcachedServer> {
  const port = await freeLoopbackPort();
  const server = await startLoopbackServer({
    command: 'memcached',
    args: ['-l', '127.0.0.1', '-p', String(port), '-U', '0', ...(process.getuid?.() === 0 ? ['-u', 'root'] : []), ...extraArgs],
    port,
    startTimeoutMs: 10_000,
    notInstalled: "'memcached' not found: install it (apt-get install memcached / brew install memcached)",
    makeError: (message, cause) => new Error(message, cause === undefined ? undefined : { cause }),
  });
  return { port, args: ['-l', '127.0.0.1', '-U', '0', ...extraArgs], pid: server.pid, stop: () => server.stop() };
}

type MetaReply = { line: string; value?: Buffer };

interface Pending {
  resolve: (r: MetaReply) => void;
  reject: (e: Error) => void;
}

const EMPTY = Buffer.alloc(0);

/**
 * A minimal memcached client for the meta text protocol (memcached ≥ 1.6): `ms` (set), `mg` (get /
 * exists), `md` (delete). Requests are written back to back on one socket and answered in order; a
 * value is copied once from the socket chunks into a buffer of its exact size. It exists to measure
 * the *server* without a general-purpose client's overheads; it has no reconnects, no timeouts, no
 * server pool: not for production.
 */
export class MemcachedMetaClient {
  private readonly socket: net.Socket;
  private readonly pending: Pending[] = [];
  private line: Buffer = EMPTY;
  private body: { buf: Buffer; filled: number; line: string } | undefined;
  private skip = 0;
  private failure: Error | undefined;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    const fail = (err: Error): void => {
      this.failure = err;
      for (const p of this.pending.splice(0)) p.reject(err);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('memcached connection closed')));
  }

  static connect(port: number, host = '127.0.0.1'): Promise<MemcachedMetaClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host }, () => {
        s.off('error', reject);
        resolve(new MemcachedMetaClient(s));
      });
      s.once('error', reject);
    });
  }

  private onData(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) {
      if (this.body) {
        const b = this.body;
        const n = Math.min(b.buf.length - b.filled, chunk.length - off);
        chunk.copy(b.buf, b.filled, off, off + n);
        b.filled += n;
        off += n;
        if (b.filled === b.buf.length) {
          this.body = undefined;
          this.skip = 2;
          this.pending.shift()?.resolve({ line: b.line, value: b.buf });
        }
        continue;
      }
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - off);
        this.skip -= n;
        off += n;
        continue;
      }
      const nl = chunk.indexOf(10, off);
      if (nl < 0) {
        this.line = Buffer.concat([this.line, chunk.subarray(off)]);
        return;
      }
      const raw = this.line.length ? Buffer.concat([this.line, chunk.subarray(off, nl + 1)]) : chunk.subarray(off, nl + 1);
      this.line = EMPTY;
      off = nl + 1;
      const line = raw.toString('latin1', 0, Math.max(0, raw.length - 2));
      if (line.startsWith('VA ')) {
        const size = Number.parseInt(line.slice(3), 10);
        if (size === 0) {
          this.skip = 2;
          this.pending.shift()?.resolve({ line, value: Buffer.alloc(0) });
        } else this.body = { buf: Buffer.allocUnsafe(size), filled: 0, line };
      } else {
        this.pending.shift()?.resolve({ line });
      }
    }
  }

  private request(parts: (string | Buffer)[]): Promise<MetaReply> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<MetaReply>((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.socket.cork();
      for (const p of parts) this.socket.write(p);
      this.socket.uncork();
    });
  }

  /** Store a value; resolves to the server's status line (`HD` = stored). */
  async set(key: string, value: Buffer): Promise<string> {
    return (await this.request([`ms ${key} ${value.length} T0\r\n`, value, '\r\n'])).line;
  }

  /** The value of a key, or `undefined`. */
  async get(key: string): Promise<Buffer | undefined> {
    const r = await this.request([`mg ${key} v\r\n`]);
    if (r.value) return r.value;
    if (r.line === 'EN') return undefined;
    throw new Error(`memcached mg: ${r.line}`);
  }

  /** Whether each key exists, asked in one write (`mg key` without flags answers HD / EN, no value). */
  exists(keys: readonly string[]): Promise<boolean[]> {
    if (this.failure) return Promise.reject(this.failure);
    const replies = keys.map(
      () => new Promise<MetaReply>((resolve, reject) => this.pending.push({ resolve, reject })),
    );
    this.socket.write(keys.map((k) => `mg ${k}\r\n`).join(''));
    return Promise.all(replies).then((rs) =>
      rs.map((r) => {
        if (r.line === 'HD') return true;
        if (r.line === 'EN') return false;
        throw new Error(`memcached mg: ${r.line}`);
      }),
    );
  }

  /** Delete a key; resolves to whether it existed. */
  async delete(key: string): Promise<boolean> {
    return (await this.request([`md ${key}\r\n`])).line === 'HD';
  }

  /** `stats settings` as a map. */
  async settings(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    await new Promise<void>((resolve, reject) => {
      // Collect STAT lines until END through the normal line parser.
      const onLine = (r: MetaReply): void => {
        if (r.line === 'END') return resolve();
        const m = /^STAT (\S+) (.*)$/.exec(r.line);
        if (!m) return reject(new Error(`memcached stats: ${r.line}`));
        out[m[1]!] = m[2]!;
        this.pending.unshift({ resolve: onLine, reject });
      };
      this.pending.push({ resolve: onLine, reject });
      this.socket.write('stats settings\r\n');
    });
    return out;
  }

  close(): void {
    this.socket.destroy();
  }
}

// ────────────────────────────────────────────────────────────────────────────────────────────────
// Targets: one uniform face over each (server, client)


export async function memcachedVersion(): Promise<string> {
  try {
    const { stdout } = await execFileP('memcached', ['-V']);
    return stdout.trim().replace(/^memcached\s+/, '');
  } catch {
    return 'not installed';
  }
}

// ────────────────────────────────────────────────────────────────────────────────────────────────
// memcached item-size limit

async function probeMemcached(value: Buffer, meta: MemcachedMetaClient, key: string): Promise<MemcachedProbe> {
  const status = await meta.set(key, value);
  if (status !== 'HD') return { valueBytes: value.length, stored: false, error: status };
  const back = await meta.get(key);
  await meta.delete(key);
  return { valueBytes: value.length, stored: back !== undefined && back.equals(value), ...(back && back.equals(value) ? {} : { error: 'read back differs' }) };
}

async function probeMemjs(value: Buffer, port: number, key: string): Promise<MemcachedProbe> {
  const memjs = (await import('memjs')).default;
  const client = memjs.Client.create(`127.0.0.1:${port}`, { timeout: 30, conntimeout: 10, retries: 1, logger: { log: () => undefined } });
  try {
    await client.set(key, value, { expires: 0 });
    const back = (await client.get(key)).value;
    await client.delete(key);
    const ok = back !== null && back.equals(value);
    return { valueBytes: value.length, stored: ok, ...(ok ? {} : { error: 'read back differs' }) };
  } catch (err) {
    return { valueBytes: value.length, stored: false, error: errorText(err) };
  } finally {
    client.close();
  }
}

export async function memcachedLimits(measured: MemcachedServer | undefined, sizes: number[]): Promise<MemcachedLimitResult> {
  const result: MemcachedLimitResult = { available: false, args: [], probes: [], raisedLimit: { args: measured?.args ?? [], probes: [] } };
  let server: MemcachedServer | undefined;
  let meta: MemcachedMetaClient | undefined;
  try {
    server = await startMemcached([]);
    result.args = server.args;
    meta = await MemcachedMetaClient.connect(server.port);
    result.itemSizeMax = Number((await meta.settings()).item_size_max);
    const maxSize = Math.max(...sizes);
    const source = randomFillSync(Buffer.allocUnsafe(maxSize));
    for (const size of sizes) {
      const value = source.subarray(0, size);
      result.probes.push({ valueBytes: size, meta: await probeMemcached(value, meta, 'probe-meta'), memjs: await probeMemjs(value, server.port, 'probe-memjs') });
    }
    // Largest storable value at the default limit (binary search on the value size).
    let lo = 0;
    let hi = Math.min(maxSize, 2 * (result.itemSizeMax || MiB));
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if ((await meta.set('probe-largest', source.subarray(0, mid))) === 'HD') lo = mid;
      else hi = mid - 1;
    }
    result.largestStoredBytes = lo;
    if (measured) {
      const m = await MemcachedMetaClient.connect(measured.port);
      try {
        result.raisedLimit.itemSizeMax = Number((await m.settings()).item_size_max);
        for (const size of sizes) result.raisedLimit.probes.push(await probeMemcached(source.subarray(0, size), m, 'probe-raised'));
      } finally {
        m.close();
      }
    }
    result.available = true;
  } catch (err) {
    result.error = errorText(err);
  } finally {
    meta?.close();
    await server?.stop();
  }
  return result;
}

