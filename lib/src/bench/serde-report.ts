/** Text tables and the results file of the serialization benchmark. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SerdeBenchResult } from './serde';

function table(header: string[], rows: string[][], alignLeft = 1): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i < alignLeft ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function n(x: number, digits = 0): string {
  if (x === Infinity) return '∞';
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function sci(x: number): string {
  return x === 0 ? '0' : x.toExponential(2);
}

/** The results as plain-text tables (what the CLI prints). */
export function formatSerdeReport(r: SerdeBenchResult): string {
  const { shape } = r.config;
  const out: string[] = [];
  out.push(
    `Serialization benchmark — ${r.config.data} KV, ${shape.layers} layers × [${shape.kvHeads} heads, ${shape.tokens} tokens, ${shape.headDim}] = ` +
      `${n(r.config.fp32Bytes / 2 ** 20, 2)} MiB fp32${r.config.fast ? ' (KVLAB_FAST)' : ''}`,
  );
  out.push(
    `${r.machine.cpu}, ${r.machine.cores} cores, Node ${r.machine.node}, pako ${r.machine.pako}, native Float16Array: ${r.machine.nativeFloat16Array ? 'yes' : 'no'}, WebAssembly kernels: ${r.machine.wasmKernels ? 'yes' : 'no'}, ` +
      `half-precision paths: ${Object.entries(r.machine.halfPrecisionPaths).map(([c, p]) => `${c} ${p}`).join(', ')}, ` +
      `load average ${n(r.machine.loadAverage.start, 1)} → ${n(r.machine.loadAverage.end, 1)}${Math.max(r.machine.loadAverage.start, r.machine.loadAverage.end) > r.machine.cores ? ' (busy machine: speeds are low and noisy)' : ''}`,
  );
  out.push(
    `Baseline Float32Array.set copy: ${n(r.baseline.copyMBps)} MB/s (start ${n(r.baseline.copyStartMBps)}, end ${n(r.baseline.copyEndMBps)}); ` +
      `checksum XXH64: ${n(r.baseline.xxh64MBps)} MB/s (CRC-32C, format 1's: ${n(r.baseline.crc32cMBps)} MB/s)`,
  );
  out.push('');
  out.push('Encodings (codec none). MB/s of fp32 data; "enc. in" = MB/s of encoded bytes read while decoding; ×copy = kernel speed / memcpy speed');
  out.push(
    table(
      ['dtype', 'bits/val', 'size ÷', 'kernel enc', '×copy', 'kernel dec', 'enc. in', '×copy', 'encodeKV', 'decodeKV', 'max |err|', 'rel RMSE', 'SQNR dB'],
      r.encodings.map((e) => [
        e.dtype + (e.groupSize ? ` g${e.groupSize}` : ''),
        n(e.bitsPerValue, 2),
        n(e.sizeRatioVsFp32, 2),
        n(e.kernel.encodeMBps),
        n(e.kernel.encodeVsCopy, 3),
        n(e.kernel.decodeMBps),
        n(e.kernel.decodeEncodedMBps),
        n(e.kernel.decodeVsCopy, 3),
        n(e.container.encodeMBps),
        n(e.container.decodeMBps),
        sci(e.quality.maxAbsError),
        sci(e.quality.relRmse),
        e.quality.sqnrDb === null ? '∞' : n(e.quality.sqnrDb, 1),
      ]),
    ),
  );
  out.push('');
  out.push(
    'Half-precision paths: the one each conversion chose by timing at first use (calibration: 256 KiB sample), ' +
      'and every available path timed on this block (MB/s of fp32 data, median / best)',
  );
  const pathCell = (p: { MBps: number; bestMBps?: number } | undefined): string => (p === undefined ? '—' : p.bestMBps === undefined ? n(p.MBps) : `${n(p.MBps)} / ${n(p.bestMBps)}`);
  out.push(
    table(
      ['conversion', 'chosen', 'how', 'calib. wasm', 'calib. native', 'calib. js', 'wasm', 'native', 'js', 'chosen fastest?'],
      r.halfPaths.map((h) => [
        h.conversion,
        h.chosen,
        h.how,
        ...(['wasm', 'native', 'js'] as const).map((p) => pathCell(h.calibration.find((t) => t.path === p))),
        ...(['wasm', 'native', 'js'] as const).map((p) => pathCell(h.measured.find((m) => m.path === p))),
        h.chosenIsFastest ? 'yes' : 'NO',
      ]),
      3,
    ),
  );
  out.push('');
  out.push(
    `Codecs. MB/s of uncompressed payload; break-even = link speed (MB/s) below which compressing saves time ` +
      `(write: compress only, read: inflate only, store+load: both); reference link ${n(r.config.referenceLinkMBps)} MB/s`,
  );
  out.push(
    table(
      ['payload', 'codec', 'ratio', 'saved', 'compress', 'inflate', 'b/e write', 'b/e read', 'b/e store+load', 'pays?'],
      r.codecs.map((c) => [
        c.dtype,
        c.codec,
        n(c.ratio, 3),
        `${n(100 * (1 - 1 / c.ratio), 1)} %`,
        n(c.compressMBps, 1),
        n(c.decompressMBps, 1),
        n(c.breakEvenMBps.write, 1),
        n(c.breakEvenMBps.read, 1),
        n(c.breakEvenMBps.roundTrip, 1),
        c.paysAtReferenceLink ? 'yes' : 'no',
      ]),
      2,
    ),
  );
  out.push('');
  out.push('Speed targets (value kernels; median of the samples, and the fastest sample)');
  out.push(
    table(
      ['kernel', 'unit', 'target MB/s', 'median', 'met', 'best', 'met'],
      r.targets.map((t) => [t.name, t.unit, n(t.targetMBps), n(t.measuredMBps), t.met ? 'yes' : 'NO', n(t.bestMBps), t.metAtBest ? 'yes' : 'NO']),
      2,
    ),
  );
  out.push('');
  out.push(`Default codec: ${r.defaultCodec} — ${r.defaultCodecReason}`);
  return out.join('\n');
}

/** Write the results as JSON (creating the folder). @returns the absolute path written. */
export function writeSerdeResults(result: SerdeBenchResult, file: string): string {
  const abs = path.resolve(file);
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  fs.writeFileSync(abs, `${JSON.stringify(result, null, 2)}\n`);
  return abs;
}
