export * from './types';
export * from './codec';
export * from './connector';
export * from './engine';
