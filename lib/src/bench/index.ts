export * from './workloads';
export * from './strategies';
export * from './stats';
export * from './runner';
export * from './suite';
export * from './cost';
export * from './charts';
export * from './claims';
