/** Internal barrel of this layer (the public API is lib/src/index.ts). */
export * from './errors';
export * from './rng';
export * from './backend';
export * from './env';
export { inNotebook, sendDisplay, escapeHtml } from './kernel';
export * from './progress';
export { packageVersion, libVersion } from './versions';
