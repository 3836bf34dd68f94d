/**
 * Charts of notebook 03 (serialization). The notebook computes everything it shows in its own cells
 * or with the core library (encodeKV, compareKV, runSerdeBench…); these functions only draw it.
 */
import type { SerdeBenchResult } from '../bench/serde';
import { InvalidInputError } from '../runtime/errors';
import type { PlotlyFigure } from './figure';

const FIELD_COLORS = { sign: '#d62728', exponent: '#1f77b4', mantissa: '#ff7f0e' } as const;

function nonEmpty(list: unknown, what: string): void {
  if (!Array.isArray(list) || list.length === 0) throw new InvalidInputError(`${what} must be a non-empty array`);
}

/** The information carried by each bit of one float format, most significant bit (the sign) first. */
export interface BitEntropyPanel {
  format: string;
  exponentBits: number;
  /** Entropy of each bit over all values, 0 … 1 bit. */
  entropy: readonly number[];
}

/** Entropy of every bit position, one panel per format, coloured by field (sign, exponent, mantissa). */
export function bitEntropyFigure(panels: readonly BitEntropyPanel[], title = 'Information per bit of real KV (entropy: 1 = a coin flip)'): PlotlyFigure {
  nonEmpty(panels, 'bitEntropyFigure panels');
  const data: Record<string, unknown>[] = [];
  const layout: Record<string, unknown> = {
    title: { text: title },
    grid: { rows: panels.length, columns: 1, pattern: 'independent', roworder: 'top to bottom' },
    legend: { orientation: 'h', y: -0.12 },
    height: 170 * panels.length + 120,
  };
  panels.forEach((p, i) => {
    const axis = i === 0 ? '' : String(i + 1);
    const fieldOf = (bit: number): keyof typeof FIELD_COLORS => (bit === 0 ? 'sign' : bit <= p.exponentBits ? 'exponent' : 'mantissa');
    for (const field of ['sign', 'exponent', 'mantissa'] as const) {
      const bits = p.entropy.map((_, bit) => bit).filter((bit) => fieldOf(bit) === field);
      data.push({
        type: 'bar',
        x: bits,
        y: bits.map((bit) => p.entropy[bit]),
        name: field,
        legendgroup: field,
        showlegend: i === 0,
        marker: { color: FIELD_COLORS[field] },
        xaxis: `x${axis}`,
        yaxis: `y${axis}`,
        hovertemplate: `${p.format} bit %{x} (${field}): %{y:.3f} bits<extra></extra>`,
      });
    }
    layout[`xaxis${axis}`] = { range: [-0.5, 31.5], dtick: 4, title: i === panels.length - 1 ? { text: 'bit, most significant first' } : undefined };
    layout[`yaxis${axis}`] = { range: [0, 1.05], title: { text: p.format } };
  });
  return { data, layout, config: {} };
}

/** One encoding's entry size and how well the model's continuation agrees with the fp32 run. */
export interface AgreementRow {
  dtype: string;
  'entry bytes': number;
  /** Share of generated positions with the fp32 run's token (free-running greedy decoding). */
  'greedy agreement': number;
  /** Share of positions where the model, fed the fp32 run's tokens, predicts the same next token. */
  'teacher-forced top-1': number;
  'identical leading tokens': number;
}

/** Entry size (log x) against agreement with the fp32 run, one point per encoding. */
export function agreementFigure(rows: readonly AgreementRow[], generated: number, title = 'What quantization buys and costs: entry size vs agreement with fp32 (measured)'): PlotlyFigure {
  nonEmpty(rows, 'agreementFigure rows');
  if (!Number.isInteger(generated) || generated < 1) throw new InvalidInputError(`generated must be a positive integer, got ${String(generated)}`);
  const x = rows.map((r) => r['entry bytes'] / 1024);
  const ticks = [...new Set(x)].sort((a, b) => a - b);
  // Encodings of equal size (fp16 and bf16) share one label instead of printing over each other.
  const labels = rows.map((r, i) => (rows.findIndex((o) => o['entry bytes'] === r['entry bytes']) === i ? rows.filter((o) => o['entry bytes'] === r['entry bytes']).map((o) => o.dtype).join(' / ') : ''));
  const line = (name: string, y: number[], color: string, extra: Record<string, unknown>): Record<string, unknown> => ({ type: 'scatter', mode: 'lines+markers', x, y, name, marker: { color, size: 8 }, ...extra });
  return {
    data: [
      line(`greedy agreement over ${generated} generated tokens (%)`, rows.map((r) => 100 * r['greedy agreement']), '#1f77b4', { mode: 'lines+markers+text', text: labels, textposition: 'top center' }),
      line('teacher-forced top-1 agreement (%)', rows.map((r) => 100 * r['teacher-forced top-1']), '#2ca02c', { line: { dash: 'dot' } }),
      line('identical before the first divergence (% of the run)', rows.map((r) => (100 * r['identical leading tokens']) / generated), '#d62728', { line: { dash: 'dash' } }),
    ],
    layout: {
      title: { text: title },
      xaxis: { title: { text: 'entry size, KiB (log scale)' }, type: 'log', tickvals: ticks, ticktext: ticks.map((t) => (t >= 100 ? t.toFixed(0) : t.toPrecision(3))) },
      yaxis: { title: { text: '% of generated positions' }, range: [-5, 112] },
      legend: { orientation: 'h', y: -0.25 },
    },
    config: {},
  };
}

/**
 * Codec speeds for one encoding from a `runSerdeBench` result: compress and inflate MB/s of the raw
 * payload per codec (bar labels: compression ratio), next to the whole container without a codec.
 */
export function codecSpeedFigure(bench: Pick<SerdeBenchResult, 'codecs' | 'encodings'>, dtype = 'fp16'): PlotlyFigure {
  const codecs = (bench?.codecs ?? []).filter((c) => c.dtype === dtype);
  if (codecs.length === 0) throw new InvalidInputError(`codecSpeedFigure: the benchmark measured no codec on ${dtype} (include it in codecDtypes)`);
  const plain = bench.encodings.find((e) => e.dtype === dtype);
  const names = [...(plain ? ['none (encodeKV / decodeKV)'] : []), ...codecs.map((c) => c.codec)];
  const perMs = (bytes: number, ms: number): number => bytes / ms / 1000;
  const enc = [...(plain ? [perMs(plain.bytes, plain.container.encode.medianMs)] : []), ...codecs.map((c) => c.compressMBps)];
  const dec = [...(plain ? [perMs(plain.bytes, plain.container.decode.medianMs)] : []), ...codecs.map((c) => c.decompressMBps)];
  const ratios = [...(plain ? ['1'] : []), ...codecs.map((c) => `${c.ratio.toFixed(2)}×`)];
  return {
    data: [
      { type: 'bar', x: names, y: enc, name: 'encode / compress', marker: { color: '#1f77b4' }, text: ratios, textposition: 'outside', hovertemplate: '%{x}: %{y:.1f} MB/s, ratio %{text}<extra></extra>' },
      { type: 'bar', x: names, y: dec, name: 'decode / inflate', marker: { color: '#2ca02c' }, hovertemplate: '%{x}: %{y:.1f} MB/s<extra></extra>' },
    ],
    layout: {
      title: { text: `${dtype} payload: speed per codec (labels: compression ratio), measured` },
      barmode: 'group',
      yaxis: { title: { text: `MB/s of raw ${dtype} payload (log scale)` }, type: 'log' },
      legend: { orientation: 'h', y: -0.2 },
    },
    config: {},
  };
}

/** Link speeds to mark on the "does compression pay" chart, MB/s (10^6 bytes/s) of payload. */
export const REFERENCE_LINKS: readonly { label: string; MBps: number }[] = [
  { label: '100 Mbit/s', MBps: 12.5 },
  { label: '1 Gbit/s', MBps: 125 },
  { label: '10 Gbit/s', MBps: 1250 },
  { label: '100 Gbit/s', MBps: 12500 },
];

/** One codec's time to move a block relative to sending it raw, at each link speed of the chart. */
export interface LinkCurve {
  name: string;
  relative: readonly number[];
}

/** Relative time to move one block against link speed (log–log), a dashed line at 1, reference links dotted. */
export function paysOffFigure(linksMBps: readonly number[], curves: readonly LinkCurve[], title = 'Does compression pay? Time to move one block ÷ time to send it raw (below 1: it pays)'): PlotlyFigure {
  nonEmpty(linksMBps, 'paysOffFigure link speeds');
  nonEmpty(curves, 'paysOffFigure curves');
  if (curves.some((c) => c.relative.length !== linksMBps.length)) throw new InvalidInputError('paysOffFigure: every curve needs one value per link speed');
  const palette = ['#9467bd', '#8c564b', '#1f77b4', '#2ca02c', '#e377c2', '#17becf'];
  const lo = linksMBps[0]!;
  const hi = linksMBps[linksMBps.length - 1]!;
  const marks = REFERENCE_LINKS.filter((l) => l.MBps >= lo && l.MBps <= hi);
  return {
    data: [
      ...curves.map((c, i) => ({ type: 'scatter', mode: 'lines', x: linksMBps, y: c.relative, name: c.name, line: { color: palette[i % palette.length], width: 2.5 } })),
      { type: 'scatter', mode: 'lines', x: [lo, hi], y: [1, 1], name: 'sent raw (= 1)', line: { color: '#444', dash: 'dash', width: 1.5 } },
    ],
    layout: {
      title: { text: title },
      xaxis: { title: { text: 'link speed, MB/s (log scale)' }, type: 'log' },
      yaxis: { title: { text: 'time ÷ time sent raw (log scale)' }, type: 'log' },
      shapes: marks.map((l) => ({ type: 'line', x0: l.MBps, x1: l.MBps, yref: 'paper', y0: 0, y1: 1, line: { color: '#999', dash: 'dot', width: 1 } })),
      annotations: marks.map((l) => ({ x: Math.log10(l.MBps), y: 1, yref: 'paper', text: l.label, showarrow: false, xanchor: 'left', yanchor: 'top', font: { size: 10, color: '#666' } })),
      legend: { orientation: 'h', y: -0.2 },
    },
    config: {},
  };
}
