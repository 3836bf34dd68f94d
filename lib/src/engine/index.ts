/** Internal barrel of this layer (the public API is lib/src/index.ts). */
export * from './types';
export * from './codec';
export * from './connector';
export * from './engine';
