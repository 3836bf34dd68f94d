export * from './errors';
export * from './rng';
export * from './backend';
export * from './env';
export { inNotebook, sendDisplay, escapeHtml } from './kernel';
export * from './progress';
export type { PlotlyFigure } from './figure';
export { packageVersion, libVersion } from './versions';
