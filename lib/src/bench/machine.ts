import * as os from 'node:os';

/** The machine a benchmark ran on, as its results file records it. */
export interface HostDescription {
  os: string;
  arch: string;
  cpu: string;
  cores: number;
  totalMemGiB: number;
  node: string;
  /** One-minute load average when the run started and when it ended: a busy machine shows here. */
  loadAverage: { start: number; end: number };
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

/** Describe this machine; `loadStart` is `os.loadavg()[0]` read when the run began. */
export function describeHost(loadStart: number): HostDescription {
  const cpus = os.cpus();
  return {
    os: `${os.type()} ${os.release()}`,
    arch: os.arch(),
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    totalMemGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    loadAverage: { start: round2(loadStart), end: round2(os.loadavg()[0] ?? 0) },
  };
}
