/**
 * Reusable scratch arrays for the encoders and decoders. Fresh multi-megabyte allocations cost page
 * faults on every call (see notes/performance.md: big fresh buffers halve store throughput);
 * keeping one grown buffer per purpose avoids that. All use is synchronous, so one set per
 * process is safe. Buffers above RETAIN_LIMIT are not kept, to not pin memory after a one-off.
 */

const RETAIN_LIMIT = 64 * 1024 * 1024;

const pools = new Map<string, ArrayBuffer>();

function buffer(purpose: string, bytes: number): ArrayBuffer {
  const have = pools.get(purpose);
  if (have !== undefined && have.byteLength >= bytes) return have;
  // Grow geometrically so a slowly growing size does not reallocate every call.
  const size = Math.max(bytes, Math.min(RETAIN_LIMIT, 2 * (have?.byteLength ?? 0)), 4096);
  const fresh = new ArrayBuffer(size);
  if (size <= RETAIN_LIMIT) pools.set(purpose, fresh);
  return fresh;
}

/** `n` bytes of scratch for `purpose` (contents undefined; valid until the next call for it). */
export function scratchBytes(purpose: string, n: number): Uint8Array {
  return new Uint8Array(buffer(purpose, n), 0, n);
}

export function scratchF32(purpose: string, n: number): Float32Array {
  return new Float32Array(buffer(purpose, 4 * n), 0, n);
}

export function scratchU16(purpose: string, n: number): Uint16Array {
  return new Uint16Array(buffer(purpose, 2 * n), 0, n);
}

/** Drop all retained scratch buffers (e.g. after a benchmark with large blocks). */
export function releaseScratch(): void {
  pools.clear();
}
