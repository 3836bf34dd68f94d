export * from './plot';
export * from './table';
export * from './lab';
export * from './doctor';
export * from './kv-basics';
export * from './prefix';
export * from './exercises';
export * from './redis-lab';
