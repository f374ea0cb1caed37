import { fileURLToPath } from 'node:url';
import { describeBroker, runTransportConformance } from '@org/eventbus/testing';
import { afterAll } from 'vitest';
import { NatsTransport } from '../src/index.js';
import { CONFORMANCE_OPTIONS, PREFIX_VARIABLE } from './child-transport.js';
import { deleteStreams, runPrefix, URL_VARIABLE } from './helpers.js';
import { PrivateNatsServer } from './private-server.js';

const childModule = fileURLToPath(new URL('./child-transport.ts', import.meta.url));

describeBroker('nats conformance', { variable: URL_VARIABLE }, (url) => {
  const prefix = runPrefix('cf');
  // The SIGKILL scenario's child process inherits this and joins the same stream.
  process.env[PREFIX_VARIABLE] = prefix;
  const broker = new URL(process.env[URL_VARIABLE] ?? 'nats://127.0.0.1:4222');
  const server = new PrivateNatsServer();
  afterAll(async () => {
    await server.stop();
    await deleteStreams(url(), prefix);
  });
  runTransportConformance(
    'nats',
    ({ endpoint }) =>
      new NatsTransport({
        servers: endpoint ? `nats://${endpoint.host}:${endpoint.port}` : url(),
        prefix,
        ...CONFORMANCE_OPTIONS,
      }),
    {
      brokerEndpoint: { host: broker.hostname, port: Number(broker.port || 4222) },
      privateBroker: {
        start: () => server.start(),
        restart: () => server.restart(),
        stop: () => server.stop(),
        factory: () => new NatsTransport({ servers: server.url, prefix, ...CONFORMANCE_OPTIONS }),
      },
      child: { module: childModule, export: 'createConformanceTransport' },
      redeliveryTimeoutMs: CONFORMANCE_OPTIONS.ackWaitMs,
    },
  );
});
