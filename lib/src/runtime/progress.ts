import { InvalidInputError } from './errors';
import { escapeHtml, inNotebook, sendDisplay } from './kernel';

/** Something that long-running library code reports progress to. */
export interface ProgressReporter {
  /** Advance by `n` steps (default 1), optionally changing the label. */
  tick(n?: number, label?: string): void;
  /** Mark as finished. */
  done(label?: string): void;
}

/** How a {@link progress} display draws: how often it redraws and where it goes. */
export interface ProgressOptions {
  /**
   * Minimum milliseconds between two screen updates (updates are cheap to call, costly to draw).
   * @default 150
   */
  intervalMs?: number;
  /**
   * Where to draw: 'auto' picks the notebook display inside tslab, else a terminal bar on stderr.
   * @default 'auto'
   */
  target?: 'auto' | 'notebook' | 'terminal' | 'silent';
}

/** The defaults of {@link ProgressOptions}: redraw at most every 150 ms, target chosen automatically (notebook or terminal). */
export const DEFAULT_PROGRESS_OPTIONS: Required<ProgressOptions> = { intervalMs: 150, target: 'auto' };

let displayCounter = 0;

function bar(fraction: number, width: number): string {
  const filled = Math.round(Math.max(0, Math.min(1, fraction)) * width);
  return '█'.repeat(filled) + '░'.repeat(width - filled);
}

function formatSeconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

/**
 * A progress display for `total` steps that updates in place: an HTML bar in a notebook
 * (update_display_data), a bar on stderr in a terminal, periodic lines when stderr is not a TTY.
 */
export function progress(total: number, label = '', options: ProgressOptions = {}): ProgressReporter {
  if (!Number.isFinite(total) || total < 0) throw InvalidInputError.at('total', 'a finite number ≥ 0 (the number of steps)', total);
  const opts = { ...DEFAULT_PROGRESS_OPTIONS, ...options };
  const target = opts.target === 'auto' ? (inNotebook() ? 'notebook' : 'terminal') : opts.target;
  const started = Date.now();
  const displayId = `kvlab-progress-${process.pid}-${++displayCounter}`;
  let count = 0;
  let text = label;
  let lastDraw = 0;
  let lastLoggedDecile = -1;
  let first = true;

  const draw = (final: boolean): void => {
    const now = Date.now();
    if (!final && now - lastDraw < opts.intervalMs) return;
    lastDraw = now;
    const fraction = total === 0 ? 1 : count / total;
    const pct = Math.floor(fraction * 100);
    const summary = `${text} ${pct}% (${count}/${total}) ${formatSeconds(now - started)}`;
    if (target === 'notebook') {
      const html = `<div class="kvlab-progress" style="font-family:monospace">${escapeHtml(text)} <span>${bar(fraction, 30)}</span> ${pct}% (${count}/${total}) ${formatSeconds(now - started)}${final ? ' ✓' : ''}</div>`;
      sendDisplay({ 'text/html': html, 'text/plain': summary }, { displayId, update: !first });
      first = false;
    } else if (target === 'terminal') {
      if (process.stderr.isTTY) {
        process.stderr.write(`\r${text} ${bar(fraction, 30)} ${pct}% (${count}/${total}) ${formatSeconds(now - started)}\x1b[K${final ? '\n' : ''}`);
      } else {
        const decile = Math.floor(fraction * 10);
        if (final || decile > lastLoggedDecile) {
          lastLoggedDecile = decile;
          process.stderr.write(`${summary}\n`);
        }
      }
    }
  };

  draw(true);
  return {
    tick(n = 1, newLabel?: string) {
      count = Math.min(total, count + n);
      if (newLabel !== undefined) text = newLabel;
      draw(false);
    },
    done(finalLabel?: string) {
      count = total;
      if (finalLabel !== undefined) text = finalLabel;
      draw(true);
    },
  };
}
