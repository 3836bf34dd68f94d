/**
 * `kvcache-lab/notebook` — the teaching helpers the notebooks use next to the core library:
 * charts (plotly, rendered in every Jupyter front end and as PNG), tables, the checked exercises,
 * the environment doctor and the few scenario drivers whose loops are too heavy for cells.
 * Needs the optional peer packages `plotly.js-dist-min` (charts) and `playwright-core` (PNG).
 */
export * from './figure';
export * from './plot';
export * from './table';
export * from './text';
export * from './charts';
export * from './png';
export * from './lab';
export * from './doctor';
export * from './kv-basics';
export * from './prefix';
export * from './exercises';
export * from './redis-tools';
export * from './eviction';
export * from './cluster-demo';
export * from './serde-lab';
