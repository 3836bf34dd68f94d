import { strict as assert } from 'node:assert';
import { commandDelta, formatStoreBench, parseCommandStats, runStoreBenchmark } from '../../lib/src/bench/store';
import { RedisServer } from '../harness/redis';

describe('store: benchmark (tiny run)', function () {
  let server: RedisServer;
  before(async () => {
    server = await RedisServer.start();
  });
  after(async () => {
    await server.stop();
  });

  it('measures raw vs store reads on the same bytes and a one-round-trip lookup', async () => {
    const steps: number[] = [];
    const decodedIndices = new Set<number>();
    const r = await runStoreBenchmark({
      redisUrl: server.url,
      tokens: 160,
      tokensPerBlock: 16,
      kvBytesPerToken: 4096,
      iterations: 2,
      decode: (b, i) => {
        decodedIndices.add(i);
        return b.readUInt8(0);
      },
      onProgress: (done) => steps.push(done),
    });
    assert.equal(r.config.blocks, 10);
    assert.equal(r.config.blockBytes, 65536);
    assert.equal(r.config.totalBytes, 655360);
    assert.equal(r.measurements.put.stored, 10);
    assert.equal(r.measurements.get.verified, true);
    assert.ok(r.measurements.get.ratio > 0, 'ratio');
    assert.ok(r.measurements.get.storeDecode, 'decode timing');
    const l = r.measurements.lookup;
    assert.equal(l.blocks, 128);
    assert.equal(l.longestPrefix, 96);
    assert.deepEqual(l.commandsByName, { exists: 128 });
    assert.equal(l.commands, 128);
    assert.equal(l.roundTrips, 1);
    assert.equal(l.roundTripsOnWire, 1);
    assert.equal(l.sequential.commands, 97);
    assert.equal(l.sequential.roundTrips, 97);
    assert.deepEqual([...decodedIndices].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'the decode hook sees each block with its index in the prefix');
    // The CPU budget: measured costs, and ceilings that follow from them.
    const c = r.measurements.cpu!;
    assert.ok(c.receiveNsPerByte > 0 && c.decodeNsPerByte > 0 && c.redisNsPerByte > 0, JSON.stringify(c));
    assert.equal(c.redisLocal, true);
    const round = (x: number): number => Math.round(x * 1000) / 1000;
    const close = (a: number, b: number): boolean => Math.abs(a - b) <= 0.002 * Math.max(a, b) + 0.002;
    assert.ok(close(c.oneThreadGbps, round(Math.min(1 / (c.receiveNsPerByte + c.decodeNsPerByte), 1 / c.redisNsPerByte))), `one thread: ${JSON.stringify(c)}`);
    assert.ok(close(c.allCoresGbps, round(Math.min(1 / c.redisNsPerByte, c.cores / (c.receiveNsPerByte + c.decodeNsPerByte + c.redisNsPerByte)))), `all cores: ${JSON.stringify(c)}`);
    assert.match(formatStoreBench(r), /ceiling for one client thread/);
    assert.match(r.versions.redis, /^\d+\.\d+/);
    assert.match(formatStoreBench(r), /b\/a = /);
    assert.deepEqual(steps, steps.slice().sort((a, b) => a - b));
    // The benchmark cleaned up after itself.
    assert.equal((await server.cli('DBSIZE')).trim(), '0');
  });

  it('parses INFO commandstats and computes deltas without INFO itself', () => {
    const before = parseCommandStats('# Commandstats\r\ncmdstat_exists:calls=3,usec=1\r\ncmdstat_info:calls=1,usec=9\r\n');
    const after = parseCommandStats('# Commandstats\r\ncmdstat_exists:calls=131,usec=1\r\ncmdstat_info:calls=2,usec=9\r\ncmdstat_mget:calls=2,usec=3\r\n');
    assert.deepEqual(commandDelta(before, after), { exists: 128, mget: 2 });
  });
});
