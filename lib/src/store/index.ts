/**
 * The store layer: where serialized KV blocks live. One `KVStore` interface; memory (LRU), Redis,
 * Redis Cluster and tiered implementations; URL parsing and a factory; health, Prometheus metrics,
 * circuit breaker; a private redis-server for demos and benchmarks.
 */
export type {
  KVStore,
  StoreEntry,
  PutStatus,
  PutResult,
  ValidateHook,
  GetOptions,
  StoreOp,
  FallbackReason,
  StoreErrorKind,
  CircuitState,
  StoreStats,
  StoreHealth,
  RedisNodeHealth,
} from './types';
export { BaseStore, type BaseStoreOptions } from './base-store';
export { MemoryStore, DEFAULT_MEMORY_STORE_OPTIONS, type MemoryStoreOptions } from './memory-store';
export {
  RedisStoreBase,
  StoreTimeoutError,
  DEFAULT_REDIS_COMMON_OPTIONS,
  REDIS_MAX_BULK_BYTES,
  type RedisCommonOptions,
} from './redis-base';
export { RedisStore, DEFAULT_REDIS_STORE_OPTIONS, type RedisStoreOptions } from './redis-store';
export { RedisClusterStore, DEFAULT_REDIS_CLUSTER_STORE_OPTIONS, type RedisClusterStoreOptions } from './redis-cluster-store';
export { TieredStore, DEFAULT_TIERED_STORE_OPTIONS, type TieredStoreOptions } from './tiered-store';
export { createStore, fromUrl, DEFAULT_CREATE_STORE_OPTIONS, type StoreConfig, type CreateStoreOptions } from './factory';
export { parseStoreUrl, redactStoreUrl, DEFAULT_REDIS_PORT, type ParsedStoreUrl, type StoreUrlParams, type RedisEndpoint } from './url';
export { CircuitBreaker, DEFAULT_CIRCUIT_BREAKER_OPTIONS, type CircuitBreakerOptions } from './circuit-breaker';
export { StoreMetrics, mergeExpositions, DEFAULT_STORE_METRICS_OPTIONS, type StoreMetricsOptions } from './metrics';
export { parseInfo, memoryWarnings } from './health';
export { keySlot, crc16, CLUSTER_SLOTS } from './cluster-slot';
export { parseByteSize } from './checks';
export {
  startEmbeddedRedis,
  freeLoopbackPort,
  DEFAULT_EMBEDDED_REDIS_OPTIONS,
  type EmbeddedRedis,
  type EmbeddedRedisOptions,
} from './embedded-redis';
export { LocalRedisNode, LocalRedisCluster, startLocalRedisCluster, DEFAULT_LOCAL_REDIS_CLUSTER_OPTIONS, type LocalRedisNodeOptions, type LocalRedisClusterOptions } from './local-cluster';
