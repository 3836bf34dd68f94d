/**
 * kvcache-lab — the public API of the core library, by layer (bottom up). Each name here is chosen;
 * everything else in `lib/src` is internal and may change. The teaching helpers (charts, tables,
 * exercises, the environment doctor, scenario drivers) live behind `kvcache-lab/notebook`, so
 * installing the core pulls no browser or plotting package. `docs/api.md` lists this API with each
 * name's summary; `npm run docs` regenerates it and `npm test` checks that it is current.
 */

// ── runtime: errors, seeded randomness, the TensorFlow.js backend, progress, local servers ─────────
export {
  type KVLabErrorCode,
  type ErrorDetails,
  KVLabError,
  InvalidInputError,
  ModelMismatchError,
  CorruptEntryError,
  MisplacedEntryError,
  UnauthenticatedEntryError,
  UnsupportedFormatError,
  StoreUnavailableError,
  ValueTooLargeError,
  BackendUnavailableError,
  ConfigError,
} from './runtime/errors';
export { SeededRng } from './runtime/rng';
export { type BackendName, type BackendReport, type GpuAdapterReport, BACKEND_PREFERENCE, WEBGPU_PACKAGES, initBackend, backendReport } from './runtime/backend';
export { isFastMode, sized, redisUrlFromEnv } from './runtime/env';
export { type ProgressReporter, type ProgressOptions, DEFAULT_PROGRESS_OPTIONS, progress } from './runtime/progress';
export { libVersion } from './runtime/versions';

// ── model: a Llama-architecture transformer with an explicit KV cache, and its tokenizer ───────────
export {
  type ModelConfig,
  type KVShapeConfig,
  validateModelConfig,
  kvBytesPerToken,
  parameterCount,
} from './model/config';
export {
  type PresetName,
  type RunnablePresetName,
  type SizeOnlyPresetName,
  MODEL_PRESETS,
  getPreset,
  isPresetName,
  isSizeOnlyPreset,
} from './model/presets';
export { type HuggingFaceLlamaConfig, configFromHuggingFace, configToHuggingFace } from './model/hf-config';
export { readCheckpoint, writeCheckpoint } from './model/checkpoint';
export { type KVCacheArrays, KVCache, KV_BYTES_PER_VALUE } from './model/kv-cache';
export { argmax } from './model/inputs';
export { type RankHeads, kvHeadsOfRank, shardKV, joinKVShards, reshardKV } from './model/tensor-parallel';
export {
  type ModelOptions,
  type CreateModelOptions,
  type GenerateOptions,
  type ForwardResult,
  type GenerateResult,
  DEFAULT_MODEL_OPTIONS,
  DEFAULT_GENERATE_OPTIONS,
  LlamaModel,
  createModel,
  loadModel,
} from './model/transformer';
export { Tokenizer } from './model/tokenizer';
export type { AttentionTrace } from './model/attention-trace';

// ── hashing: namespaces, block-chained prefix hashes, longest-prefix lookup, near-duplicates ────────
export type { BlockHash, BlockPresence, TokenIds } from './hashing/types';
export { isBlockHash } from './hashing/checks';
export {
  DEFAULT_BLOCK_SIZE,
  MAX_BLOCK_SIZE,
  fullBlocks,
  loadableBlocks,
  uncacheableTokens,
  type RecommendBlockSizeOptions,
  recommendBlockSize,
} from './hashing/block-size';
export { type NamespaceSpec, type Namespace, type KVLayout, DEFAULT_NAMESPACE_OPTIONS, createNamespace, describeNamespace } from './hashing/namespace';
export { type HashBlocksOptions, hashBlocks, type PrefixHasherOptions, PrefixHasher } from './hashing/block-hash';
export { type LookupOptions, type PrefixMatch, longestPrefix, prefixLength } from './hashing/lookup';
export { exactPromptKey } from './hashing/exact-prompt';
export {
  type MinHashOptions,
  DEFAULT_MINHASH_OPTIONS,
  type MinHashCandidate,
  MinHashIndex,
  shingleSet,
  minhashSignature,
  estimateJaccard,
  exactJaccard,
} from './hashing/minhash';
export { type HitStats, HitCounter } from './hashing/accounting';
export { type HashingCost, type HashingCostOptions, measureHashingCost } from './hashing/measure';

// ── serde: the KV entry format, value encodings, codecs, checksums ──────────────────────────────────
export { type KVShape, type KVBlockData, type KVDtype, DTYPES, isDtype, isQuantized } from './serde/types';
export { type KVCodec, CODECS } from './serde/codecs';
export {
  FORMAT_VERSION,
  HEADER_BYTES,
  DEFAULT_GROUP_SIZES,
  type EncodeOptions,
  DEFAULT_ENCODE_OPTIONS,
  type DecodeOptions,
  type KVBlobHeader,
  type EntryIdentity,
  formatId,
  encodedSize,
  encodeKV,
  decodeKV,
  readKVHeader,
  verifyKV,
} from './serde/container';
export type { TokenSpan } from './serde/payload';
export { EntryKey } from './serde/mac';
export { xxh64 } from './serde/xxh64';
export { fp32ToFp16, fp16ToFp32, fp32ToFp16Bits, fp16BitsToFp32, hasNativeFloat16 } from './serde/fp16';
export { halfPrecisionPaths, halfPrecisionReport } from './serde/half-paths';
export { fp32ToBf16, bf16ToFp32, fp32ToBf16Bits, bf16BitsToFp32 } from './serde/bf16';
export { quantizeInt8, dequantizeInt8 } from './serde/int8';
export { byteShuffle, byteUnshuffle } from './serde/shuffle';
export { type KVErrorStats, type KVComparison, compareKV } from './serde/quality';
export { type SyntheticKVOptions, syntheticKV } from './serde/synthetic';

// ── store: where serialized blocks live (memory, Redis, Redis Cluster, tiers), health, metrics ──────
export {
  type KVStore,
  type StoreEntry,
  type PutStatus,
  type PutResult,
  type ValidateHook,
  type CallOptions,
  type CallReport,
  type StreamOptions,
  newCallReport,
  type GetOptions,
  type StoreOp,
  type FallbackReason,
  type CircuitState,
  type StoreStats,
  type StoreHealth,
  type RedisNodeHealth,
  type StoreMetricsView,
  type RejectReason,
} from './store/types';
export { MemoryStore, DEFAULT_MEMORY_STORE_OPTIONS, type MemoryStoreOptions } from './store/memory-store';
export { DEFAULT_REDIS_COMMON_OPTIONS, type RedisCommonOptions } from './store/redis-base';
export { RedisStore, DEFAULT_REDIS_STORE_OPTIONS, type RedisStoreOptions } from './store/redis-store';
export { RedisClusterStore, DEFAULT_REDIS_CLUSTER_STORE_OPTIONS, type RedisClusterStoreOptions } from './store/redis-cluster-store';
export { TieredStore, DEFAULT_TIERED_STORE_OPTIONS, type TieredStoreOptions } from './store/tiered-store';
export { createStore, fromUrl, type StoreConfig, type CreateStoreOptions } from './store/factory';
export { parseStoreUrl, redactStoreUrl, type ParsedStoreUrl } from './store/url';
export { CircuitBreaker, DEFAULT_CIRCUIT_BREAKER_OPTIONS, type CircuitBreakerOptions } from './store/circuit-breaker';
export { StoreMetrics, mergeExpositions, DEFAULT_STORE_METRICS_OPTIONS, type StoreMetricsOptions } from './store/metrics';
export { keySlot, CLUSTER_SLOTS } from './store/cluster-slot';
export { startEmbeddedRedis, DEFAULT_EMBEDDED_REDIS_OPTIONS, type EmbeddedRedis, type EmbeddedRedisOptions } from './store/embedded-redis';
export {
  LocalRedisNode,
  type LocalRedisNodeOptions,
  LocalRedisCluster,
  startLocalRedisCluster,
  DEFAULT_LOCAL_REDIS_CLUSTER_OPTIONS,
  type LocalRedisClusterOptions,
} from './store/local-cluster';

// ── engine: the KV connector (lookup → load → prefill the rest → save) and a serving loop ──────────
export type { ServeRequest } from './engine/types';
export { type BlockCodec, type BlockCodecOptions, serdeBlockCodec, secretFromEnv, sliceArrays, joinArrays } from './engine/codec';
export {
  type KVConnector,
  type MatchResult,
  type LoadResult,
  type SaveResult,
  type PrefixMatchHandle,
  type ExactMatchHandle,
  type PrefixConnectorOptions,
  DEFAULT_PREFIX_CONNECTOR_OPTIONS,
  NoCacheConnector,
  PrefixCacheConnector,
  tenantSaltSecretFromEnv,
  ExactPromptConnector,
} from './engine/connector';
export { type RequestRecord, ServingEngine } from './engine/engine';

// ── bench: workloads, strategies, the oracle, many workers, the cost model ─────────────────────────
export { type WorkloadName, WORKLOADS, type WorkloadOptions, DEFAULT_WORKLOAD_OPTIONS, makeWorkload } from './bench/workloads';
export { type StrategyName, STRATEGIES, isStrategy, makeConnector, oracleReuse } from './bench/strategies';
export { quantile, median, type TimingSummary, summarizeTimings } from './bench/stats';
export { type StreamResult, type StreamSummary, summarize, serveAll, runInProcess, runWorkers } from './bench/runner';
export { type BenchmarkOptions, type BenchmarkResults, defaultBenchmarkOptions, runBenchmark, writeResults, readResults } from './bench/suite';
export {
  type PrefillMeasurement,
  loadPrefillTable,
  type CostInputs,
  DEFAULT_COST_INPUTS,
  type CostProjection,
  prefillSpeed,
  projectCost,
} from './bench/cost';
export { breakEvenGBps, type PrefillWork, prefillWork } from './bench/cost';
export { reuseVsOracle } from './bench/runner';
export { type ClaimRow, SEED_CLAIMS, compareWithSeedClaims } from './bench/claims';
export { type SizingInputs, DEFAULT_SIZING_INPUTS, type SizingResult, sizeRedis } from './bench/sizing';
export {
  type SerdeBenchOptions,
  DEFAULT_SERDE_BENCH_OPTIONS,
  type SerdeBenchResult,
  type EncodingResult,
  type CodecResult,
  runSerdeBench,
} from './bench/serde';
export { type RoiInputs, DEFAULT_ROI_INPUTS, type RoiProjection, projectRoi, paybackMonths, breakEvenTokensPerMonth } from './bench/roi';
export {
  DeviceBlockCache,
  type TierTokens,
  CACHE_TIERS,
  type ThreeTierHandle,
  type ThreeTierConnectorOptions,
  DEFAULT_THREE_TIER_CONNECTOR_OPTIONS,
  ThreeTierConnector,
} from './bench/three-tier';
export {
  type GpuBenchOptions,
  DEFAULT_GPU_BENCH_OPTIONS,
  type GpuBenchRun,
  type GpuTtft,
  type GpuBreakEven,
  type GpuBenchResult,
  runGpuBench,
} from './bench/gpu';
export { formatGpuBench, gpuRunPlace, gpuPrefillRows, gpuDecodeRows, gpuTtftRows, gpuBreakEvenRows } from './bench/gpu-report';
export { type TierCapacities, type TiersBenchOptions, defaultTiersBenchOptions, type TierSetup, TIER_SETUPS, type TierSetupResult, type TiersBenchResult, runTiersBench } from './bench/tiers';
export {
  type RestartScenario,
  RESTART_SCENARIOS,
  RESTART_SERVER_ARGS,
  type RestartBenchOptions,
  defaultRestartBenchOptions,
  type AfterRestartRequest,
  type RestartScenarioResult,
  type RestartBenchResult,
  runRestartBench,
  requestsToWarm,
} from './bench/restart';
export { type AofMode, AOF_MODES, type AofCostOptions, DEFAULT_AOF_COST_OPTIONS, type AofCostRow, type AofCostResult, measureAofWriteCost } from './bench/aof-cost';
export { loadSecondsFromLog, bgsave, crashAndRestart, type LoadTimeOptions, type LoadTimeRow, measureLoadTime } from './bench/persistence';
export { type RolloutPhase, ROLLOUT_PHASES, type RolloutOptions, DEFAULT_ROLLOUT_OPTIONS, type RolloutHandle, type RolloutCounts, RolloutConnector, sliceOf } from './bench/rollout';
