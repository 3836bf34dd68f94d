/**
 * Real Redis servers for tests: the library's own loopback launchers (`redis-server` child processes
 * on free ports, each with its own temporary folder, stopped at the end). No mocks.
 */
export { LocalRedisNode as RedisServer, LocalRedisCluster as RedisClusterHarness } from '../../lib/src/store/local-cluster';
