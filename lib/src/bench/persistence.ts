/**
 * Redis persistence, measured on private servers: taking an RDB snapshot, what the server logs when
 * it loads one (or replays its append-only file) after a crash, and how long that takes for a
 * given amount of data. Shared by the restart benchmark (./restart.ts) and the AOF write cost
 * (./aof-cost.ts).
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Redis } from 'ioredis';
import { InvalidInputError, StoreUnavailableError } from '../runtime/errors';
import { LocalRedisNode } from '../store/local-cluster';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const FS_TYPES: Record<number, string> = { 0xef53: 'ext4', 0x01021994: 'tmpfs', 0x58465342: 'xfs', 0x9123683e: 'btrfs', 0x794c7630: 'overlayfs', 0x6969: 'nfs' };

/** The type of the filesystem holding `dir`, by name when known (fsync on tmpfs costs nothing). */
export function filesystemType(dir: string): string {
  try {
    const t = fs.statfsSync(dir).type;
    return FS_TYPES[t] ?? `0x${t.toString(16)}`;
  } catch {
    return 'unknown';
  }
}

/** Bytes of a file, or of every file under a folder (Redis 7 keeps its AOF in `appendonlydir/`); 0 when absent. */
export function bytesUnder(p: string): number {
  if (!fs.existsSync(p)) return 0;
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.size;
  return fs.readdirSync(p).reduce((a, f) => a + bytesUnder(path.join(p, f)), 0);
}

/** The load time Redis logged, in seconds ("DB loaded from disk" / "… from append only file"); the last one. */
export function loadSecondsFromLog(log: string): number | null {
  const all = [...log.matchAll(/DB loaded from (?:disk|append only file): ([\d.]+) seconds/g)];
  const last = all[all.length - 1];
  return last ? Number(last[1]) : null;
}

/** Poll until the server answers PONG (it answers LOADING while it reads its data). */
export async function untilReady(node: LocalRedisNode, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await node.cli('PING').catch((err: Error) => err.message);
    if (answer.trim() === 'PONG') return;
    if (Date.now() > deadline) throw new StoreUnavailableError({ message: `redis-server did not answer PONG within ${timeoutMs} ms`, received: answer.trim().slice(0, 200) });
    await sleep(5);
  }
}

/** `BGSAVE` and wait until it has finished; resolves to the wall time it took (ms). */
export async function bgsave(node: LocalRedisNode): Promise<number> {
  const t0 = performance.now();
  const before = Number((await node.info('persistence')).rdb_saves ?? 0);
  await node.cli('BGSAVE');
  for (;;) {
    const p = await node.info('persistence');
    if (p.rdb_bgsave_in_progress === '0' && Number(p.rdb_saves ?? 0) > before) {
      if (p.rdb_last_bgsave_status !== 'ok') throw new StoreUnavailableError({ message: 'BGSAVE failed', received: p.rdb_last_bgsave_status });
      return performance.now() - t0;
    }
    await sleep(5);
  }
}

/** Kill the server (SIGKILL), start it again on its port and folder, and time it until it answers PONG. */
export async function crashAndRestart(node: LocalRedisNode): Promise<number> {
  await node.kill();
  const t0 = performance.now();
  await node.restart();
  await untilReady(node);
  return performance.now() - t0;
}

/** What {@link measureLoadTime} fills the servers with. */
export interface LoadTimeOptions {
  /** Bytes of values to write (rounded down to whole values). */
  totalBytes: number;
  /** Bytes per value (e.g. one 16-token fp16 block of Llama-3-8B). */
  valueBytes: number;
  /** Parent folder of the servers' data folders (the disk being measured). @default os.tmpdir() */
  dir?: string;
  /** The `redis-server` executable. @default 'redis-server' */
  command?: string;
}

/** One persistence mode's crash and restart with a given amount of data. */
export interface LoadTimeRow {
  mode: 'rdb' | 'aof';
  keys: number;
  /** Value bytes written. */
  dataBytes: number;
  /** dump.rdb, or everything under appendonlydir/, when the server was killed. */
  fileBytes: number;
  /** BGSAVE wall time (rdb). */
  snapshotMs: number | null;
  /** What Redis logged for loading its data. */
  loadSeconds: number | null;
  /** From starting the process to its first PONG. */
  restartToReadyMs: number;
  /** Keys after the restart (all of them, unless something was lost). */
  keysAfter: number;
}

/**
 * Fill a private server with `totalBytes` of values, persist them (an RDB snapshot; or the AOF,
 * `appendfsync everysec`), crash it and time the restart — for a data size where load time is
 * measurable, unlike the restart benchmark's small model.
 */
export async function measureLoadTime(options: LoadTimeOptions): Promise<LoadTimeRow[]> {
  for (const k of ['totalBytes', 'valueBytes'] as const) {
    if (!Number.isInteger(options[k]) || options[k] < 1) throw InvalidInputError.at(`options.${k}`, 'a positive integer', options[k]);
  }
  const count = Math.max(1, Math.floor(options.totalBytes / options.valueBytes));
  // Random bytes: RDB compresses each value with LZF, and fp16 KV barely compresses; a constant would.
  const value = randomBytes(options.valueBytes);
  const rows: LoadTimeRow[] = [];
  for (const mode of ['rdb', 'aof'] as const) {
    const dir = fs.mkdtempSync(path.join(options.dir ?? os.tmpdir(), `kvlab-load-${mode}-`));
    const logfile = path.join(dir, 'redis.log');
    const args = mode === 'rdb' ? ['--save', '3600 1'] : ['--appendonly', 'yes', '--appendfsync', 'everysec'];
    const node = await LocalRedisNode.start({ dir, args: [...args, '--logfile', logfile], ...(options.command ? { command: options.command } : {}) });
    try {
      const client = new Redis(node.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
      await client.connect();
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < count) await client.set(`load:${next++}`, value);
      };
      await Promise.all(Array.from({ length: 8 }, worker));
      client.disconnect();
      const snapshotMs = mode === 'rdb' ? await bgsave(node) : null;
      const fileBytes = bytesUnder(path.join(dir, mode === 'rdb' ? 'dump.rdb' : 'appendonlydir'));
      const restartToReadyMs = await crashAndRestart(node);
      rows.push({
        mode,
        keys: count,
        dataBytes: count * options.valueBytes,
        fileBytes,
        snapshotMs,
        loadSeconds: loadSecondsFromLog(fs.readFileSync(logfile, 'utf8')),
        restartToReadyMs,
        keysAfter: Number((await node.cli('DBSIZE')).trim()),
      });
    } finally {
      await node.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return rows;
}
