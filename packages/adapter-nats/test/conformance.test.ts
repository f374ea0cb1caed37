import { fileURLToPath } from 'node:url';
import type { Logger } from '@org/eventbus';
import { describeBroker, runTransportConformance, SCENARIOS, type ScenarioName } from '@org/eventbus/testing';
import { afterAll } from 'vitest';
import { fromUrl, NatsTransport } from '../src/index.js';
import { CONFORMANCE_OPTIONS, PREFIX_VARIABLE } from './child-transport.js';
import { deleteStreams, refuseDeadLetters, runPrefix, URL_VARIABLE } from './helpers.js';
import { PrivateNatsServer } from './private-server.js';

const childModule = fileURLToPath(new URL('./child-transport.ts', import.meta.url));

/** Why the delayed-nack settle-failure scenarios do not apply to NATS. */
const NO_DELAYED_NACK_BREAK =
  'a delayed nack is one -NAK {"delay"} protocol message the server always takes: no retry queue or topic exists to be refused';

/** The credentials scenarios' server: a private nats-server that checks them (the shared one has no auth). */
const AUTH_USER = 'eventbus-conformance';

describeBroker('nats conformance', { variable: URL_VARIABLE }, (url) => {
  const prefix = runPrefix('cf');
  // The SIGKILL scenario's child process inherits this and joins the same stream.
  process.env[PREFIX_VARIABLE] = prefix;
  const broker = new URL(process.env[URL_VARIABLE] ?? 'nats://127.0.0.1:4222');
  const server = new PrivateNatsServer();
  const authServer = new PrivateNatsServer(['--user', AUTH_USER, '--pass', 'the-right-password']);
  afterAll(async () => {
    await server.stop();
    await authServer.stop();
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
      // The delay-beyond-max scenario scales the longest hold down so its hops run in seconds.
      makeTransport: ({ maxDelayMs }) => new NatsTransport({ servers: url(), prefix, ...CONFORMANCE_OPTIONS, maxDelayMs }),
      redeliveryTimeoutMs: CONFORMANCE_OPTIONS.ackWaitMs,
      breakSettle: async (what) => {
        if (what === 'delayed-nack') throw new Error(NO_DELAYED_NACK_BREAK);
        return refuseDeadLetters(url(), prefix);
      },
      // Named by whatever the suite calls them, so a renamed scenario still finds its reason.
      skip: Object.fromEntries(
        SCENARIOS.filter((name) => name.includes('delayed-nack')).map((name) => [name, NO_DELAYED_NACK_BREAK]),
      ) as Partial<Record<ScenarioName, string>>,
      // The shared server accepts any credentials; a private one started here checks them, so the
      // auth-failure scenario runs for real. Its password is never the one given.
      checksCredentials: true,
      withCredentials: async (password: string, logger: Logger) => {
        await authServer.start();
        return fromUrl(`nats://${AUTH_USER}:${encodeURIComponent(password)}@127.0.0.1:${authServer.port}`, { prefix, logger });
      },
    },
  );
});
