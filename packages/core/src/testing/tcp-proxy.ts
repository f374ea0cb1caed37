import net from 'node:net';

export interface TcpProxy {
  /** The proxy's own address: point the transport here. */
  readonly host: string;
  readonly port: number;
  /** Destroy every open connection at once (the client sees a reset, the broker a vanished peer). */
  cut(): void;
  /** While refusing, new connections are closed as soon as they arrive. */
  refuse(on: boolean): void;
  readonly connectionCount: number;
  close(): Promise<void>;
}

/**
 * A loopback TCP proxy in front of a broker, for fault scenarios that must not stop the machine's
 * shared brokers: cut every connection, or refuse new ones for a while.
 */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  let refusing = false;
  const server = net.createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = net.connect(target.port, target.host);
    sockets.add(client);
    sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address() as net.AddressInfo;
  const cut = () => {
    for (const socket of sockets) socket.resetAndDestroy();
    sockets.clear();
  };
  return {
    host: '127.0.0.1',
    port: address.port,
    cut,
    refuse(on: boolean) {
      refusing = on;
    },
    get connectionCount() {
      return sockets.size / 2;
    },
    close() {
      cut();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
