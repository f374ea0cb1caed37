import type { Socket } from 'node:net';
import { buildApp, startFauxqs } from 'fauxqs';

export interface SqsEndpoint {
  /** Undefined for real AWS (EVENTBUS_SQS_ENDPOINT=aws), else the endpoint URL. */
  endpoint: string | undefined;
  /** host:port of the endpoint, for the TCP proxy of the connection-cut scenario. */
  address: { host: string; port: number } | undefined;
  stop(): Promise<void>;
}

/**
 * The endpoint the SQS tests use: EVENTBUS_SQS_ENDPOINT (an external emulator, or "aws" for real
 * AWS with the default credential chain), otherwise fauxqs started in this process on a free
 * loopback port — so these tests never need to skip.
 */
export async function sqsTestEndpoint(): Promise<SqsEndpoint> {
  const configured = process.env.EVENTBUS_SQS_ENDPOINT?.trim();
  if (configured === 'aws') return { endpoint: undefined, address: undefined, stop: async () => {} };
  if (configured) {
    const url = new URL(configured);
    return { endpoint: configured, address: { host: url.hostname, port: Number(url.port || 80) }, stop: async () => {} };
  }
  const server = await startFauxqs({ port: 0, host: 'localhost', logger: false });
  return {
    endpoint: `http://127.0.0.1:${server.port}`,
    address: { host: '127.0.0.1', port: server.port },
    stop: () => server.stop(),
  };
}

export interface RestartableEmulator {
  readonly endpoint: string;
  start(): Promise<void>;
  /** Drop every connection and the listener, then listen again on the same port: queues and messages stay. */
  restart(): Promise<void>;
  /** Drop every connection and stop listening until `start()` (an outage of any length). */
  pause(): Promise<void>;
  stop(): Promise<void>;
}

/** A private fauxqs that a test may restart without touching the shared one (its data survives, as a broker's disk would). */
export async function restartableEmulator(): Promise<RestartableEmulator> {
  const app = buildApp({ logger: false, host: 'localhost' });
  const sockets = new Set<Socket>();
  app.server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const dropAll = async () => {
    const closed = new Promise<void>((resolve) => app.server.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closed;
  };
  let running = true;
  const start = async () => {
    if (running) return;
    await new Promise<void>((resolve) => app.server.listen(port, '127.0.0.1', () => resolve()));
    running = true;
  };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    start,
    async pause() {
      await dropAll();
      running = false;
    },
    async restart() {
      await dropAll();
      running = false;
      await new Promise((r) => setTimeout(r, 300));
      await start();
    },
    async stop() {
      if (running) await app.close();
      running = false;
    },
  };
}
