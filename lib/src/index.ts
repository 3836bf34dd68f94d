/**
 * kvcache-lab — the public API. Everything a notebook, benchmark or user imports comes from here.
 * Layers, bottom up: runtime; model, hashing, serde; store; engine; bench; notebook.
 */
export * from './runtime';
export * from './model';
export * from './hashing';
export * from './serde';
export * from './store';
export * from './engine';
export * from './bench';
export * from './notebook';
