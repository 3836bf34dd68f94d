/**
 * How a Redis store's operation becomes commands per server: the plan types, the sliding window that
 * bounds the bytes in flight, deadlines, and the classification of failures into fallbacks.
 */
import type { ChainableCommander, Redis } from 'ioredis';
import { StoreUnavailableError } from '../runtime/errors';
import { MiB } from './checks';
import type { FallbackReason, StoreErrorKind } from './types';

/** Largest bulk string Redis accepts by default (`proto-max-bulk-len`). */
export const REDIS_MAX_BULK_BYTES = 512 * MiB;

/** Sends one command straight through the client (no pipeline object). */
export type DirectSend = (client: RedisCommands) => Promise<unknown>;

/** The command methods shared by ioredis `Redis` and `Cluster` clients. */
export type RedisCommands = Pick<Redis, 'set' | 'getBuffer' | 'getexBuffer' | 'mgetBuffer'>;

/** One command and the input positions it answers for. */
export interface PlannedCommand {
  indices: number[];
  /** Queue the command on a pipeline. */
  add(p: ChainableCommander): void;
  /** Or send it directly (used when `NodePlan.direct`). */
  send?: DirectSend;
  /**
   * The same command as raw arguments: a plan whose commands all carry them goes over the store's
   * bulk read connection when it has one.
   */
  args?: readonly (string | Buffer)[];
  /**
   * Bytes of values the command writes: sizes its window. Unset for reads: their window uses the
   * running average of value sizes, updated as each reply arrives.
   */
  bytes?: number;
}

/**
 * The commands for one server. Small ones (lookups, deletes) go back to back as one ioredis pipeline:
 * one round trip. Commands that move values (`direct`: reads and writes of blocks) go in a sliding
 * window of `windowBytes` — over the bulk read connection when the store has one, else one by one
 * through ioredis (a pipeline would concatenate every value into one buffer before writing: an extra
 * copy that halves write throughput for multi-MiB blocks).
 */
export interface NodePlan {
  node: string;
  commands: PlannedCommand[];
  direct?: boolean;
  /** Bytes the plan is expected to move (extends its deadline). */
  bytes?: number;
  /** Sees each reply as it arrives (must not throw). */
  onReply?: (cmd: PlannedCommand, reply: unknown) => void;
  /** Values over the bulk connection are lent from its pool and given back right after `onReply`. */
  lend?: boolean;
}

/** Input positions grouped by server, then by hash slot (multi-key commands stay within a slot). */
export interface NodeGroup {
  node: string;
  slots: number[][];
}

export interface Outcome {
  cmd: PlannedCommand;
  err: Error | null;
  reply: unknown;
}

/** An operation that ran past `commandTimeout`. */
export class StoreTimeoutError extends StoreUnavailableError {
  constructor(ms: number) {
    super(`store operation timed out after ${ms} ms`);
  }
}

export function isReplyError(err: unknown): boolean {
  return err instanceof Error && err.name === 'ReplyError';
}

export function errorKind(err: unknown): StoreErrorKind {
  if (err instanceof StoreTimeoutError) return 'timeout';
  if (err instanceof Error && /timed out|timeout/i.test(err.message)) return 'timeout';
  if (isReplyError(err)) return 'server';
  return 'connection';
}

export function reasonOf(err: unknown): FallbackReason {
  return errorKind(err) === 'timeout' ? 'timeout' : 'error';
}

export function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new StoreTimeoutError(ms)), ms);
    timer.unref?.();
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

/**
 * Run `send` over `items` with at most `windowBytes` of them in flight (always at least one), in
 * order of start; resolves to their results in input order, or rejects with the first failure
 * (nothing new is started after it).
 */
export function sendWindowed<T, R>(items: readonly T[], bytesOf: (item: T) => number, windowBytes: number, send: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  if (items.length === 0) return Promise.resolve(results);
  return new Promise<R[]>((resolve, reject) => {
    let next = 0;
    let done = 0;
    let inFlight = 0;
    let failed = false;
    const pump = (): void => {
      while (!failed && next < items.length) {
        const bytes = Math.max(0, bytesOf(items[next]!));
        if (inFlight > 0 && inFlight + bytes > windowBytes) return;
        const i = next++;
        inFlight += bytes;
        send(items[i]!, i).then(
          (r) => {
            results[i] = r;
            inFlight -= bytes;
            if (++done === items.length) resolve(results);
            else pump();
          },
          (err: unknown) => {
            failed = true;
            reject(err);
          },
        );
      }
    };
    pump();
  });
}

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
