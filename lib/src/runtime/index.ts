export * from './errors';
export * from './rng';
export * from './backend';
export * from './env';
