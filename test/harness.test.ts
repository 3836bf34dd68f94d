import { strict as assert } from 'node:assert';
import { RedisServer, RedisClusterHarness } from './harness/redis';

describe('test harness: real redis-server', function () {
  it('starts a server on a free port, answers PING, and stops', async () => {
    const server = await RedisServer.start();
    try {
      assert.equal((await server.cli('ping')).trim(), 'PONG');
    } finally {
      await server.stop();
    }
  });

  it('starts a 3-master cluster whose slots are all covered', async () => {
    const cluster = await RedisClusterHarness.start({ masters: 3 });
    try {
      const info = await cluster.nodes[0]!.cli('cluster', 'info');
      assert.match(info, /cluster_slots_assigned:16384/);
      assert.match(info, /cluster_known_nodes:3/);
    } finally {
      await cluster.stop();
    }
  });
});
