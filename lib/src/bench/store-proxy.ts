import * as net from 'node:net';

export interface RoundTripProxy {
  /** Port the proxy listens on (loopback). */
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  /**
   * Round trips seen so far: times a client started sending after it had received data (or for the
   * first time). A pipeline of any length is one; n awaited commands are n.
   */
  readonly roundTrips: number;
  /** Bytes client → server and server → client. */
  readonly bytesUp: number;
  readonly bytesDown: number;
  /** Zero the counters (e.g. after the client's connection handshake). */
  reset(): void;
  close(): Promise<void>;
}

/**
 * A TCP proxy on loopback in front of a server that counts request/response round trips: a way to
 * prove from outside the client that a batched lookup costs one round trip.
 */
export function startRoundTripProxy(target: { host: string; port: number }): Promise<RoundTripProxy> {
  let roundTrips = 0;
  let bytesUp = 0;
  let bytesDown = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    sockets.add(client);
    sockets.add(upstream);
    let lastDirection: 'up' | 'down' | undefined;
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.on('data', (d: Buffer) => {
      if (lastDirection !== 'up') roundTrips++;
      lastDirection = 'up';
      bytesUp += d.length;
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      lastDirection = 'down';
      bytesDown += d.length;
      client.write(d);
    });
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      resolve({
        port,
        url: `redis://127.0.0.1:${port}`,
        get roundTrips() {
          return roundTrips;
        },
        get bytesUp() {
          return bytesUp;
        },
        get bytesDown() {
          return bytesDown;
        },
        reset() {
          roundTrips = 0;
          bytesUp = 0;
          bytesDown = 0;
        },
        close() {
          for (const s of sockets) s.destroy();
          return new Promise<void>((r) => server.close(() => r()));
        },
      });
    });
  });
}
