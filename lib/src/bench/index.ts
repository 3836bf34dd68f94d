/** Internal barrel of this layer (the public API is lib/src/index.ts). */
export * from './workloads';
export * from './strategies';
export * from './stats';
export * from './runner';
export * from './suite';
export * from './cost';
export * from './claims';
export * from './sizing';
export * from './serde';
export * from './serde-report';
export * from './store';
export * from './roi';
export * from './three-tier';
export * from './tiers';
export * from './restart';
export * from './aof-cost';
export * from './rollout';
