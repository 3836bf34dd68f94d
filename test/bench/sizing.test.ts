import { strict as assert } from 'node:assert';
import { measureEntryCost } from '../../lib/src/bench/sizing-measure';
import { RedisServer } from '../harness/redis';

describe('Redis sizing model against MEMORY USAGE on a real server', function () {
  this.timeout(30_000);
  let server: RedisServer;
  before(async () => {
    server = await RedisServer.start();
  });
  after(async () => {
    await server?.stop();
  });

  it("predicts what every course block costs Redis, to the byte (jemalloc's size classes)", async () => {
    const r = await measureEntryCost(server.url);
    assert.ok(r.rows.length >= 6);
    for (const row of r.rows) assert.equal(row.modelBytes, row.memoryUsageBytes, `${row.block}: model ${row.modelBytes}, Redis ${row.memoryUsageBytes}`);
    const big = r.rows.find((x) => x.block.startsWith('llama3-8b, fp16'))!;
    assert.ok(big.overhead > 0.2, `a 2 MiB block costs Redis ${(big.overhead * 100).toFixed(1)} % more than its bytes`);
  });
});
