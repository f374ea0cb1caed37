import { fileURLToPath } from 'node:url';
import type { DeliveryHandler, GroupTopology, SubscribeOptions, Subscription } from '@org/eventbus';
import { describeBroker, runTransportConformance } from '@org/eventbus/testing';
import { afterAll } from 'vitest';
import { RabbitMqTransport } from '../src/index.js';
import { TopologyNames } from '../src/topology.js';
import { breakDeadLetter, breakRetryQueues } from './break-settle.js';
import { CONFORMANCE_EXCHANGE } from './child-transport.js';
import { deleteTopology, URL_VARIABLE } from './helpers.js';
import { PrivateBroker, privateBrokerAvailable } from './private-broker.js';

const childModule = fileURLToPath(new URL('./child-transport.ts', import.meta.url));

/** Remembers the groups the suite subscribes or provisions, so their queues can be deleted afterwards. */
const groups = new Set<string>();
class TrackedTransport extends RabbitMqTransport {
  override subscribe(options: SubscribeOptions, onDelivery: DeliveryHandler): Promise<Subscription> {
    groups.add(options.group);
    return super.subscribe(options, onDelivery);
  }

  override provision(topology: readonly GroupTopology[]): Promise<void> {
    for (const { group } of topology) groups.add(group);
    return super.provision(topology);
  }
}

describeBroker('rabbitmq conformance', { variable: URL_VARIABLE }, (url) => {
  afterAll(() => deleteTopology(url(), [CONFORMANCE_EXCHANGE], groups), 60_000);
  const broker = new URL(process.env[URL_VARIABLE] ?? 'amqp://127.0.0.1:5672');
  // broker-restart needs a broker this test may restart: a node of its own, never the shared one.
  const own = privateBrokerAvailable() ? new PrivateBroker() : undefined;
  runTransportConformance(
    'rabbitmq',
    ({ endpoint }) => new TrackedTransport({ url: url(), exchange: CONFORMANCE_EXCHANGE, ...(endpoint ? { endpoint } : {}) }),
    {
      brokerEndpoint: { host: broker.hostname, port: Number(broker.port || 5672) },
      child: { module: childModule, export: 'createConformanceTransport' },
      breakSettle: (what, group) => {
        const names = new TopologyNames(CONFORMANCE_EXCHANGE);
        return what === 'dead-letter' ? breakDeadLetter(url(), names, group) : breakRetryQueues(url(), names, group);
      },
      // maxDelayMs scaled down, so delay-beyond-max chains hops in seconds.
      makeTransport: ({ maxDelayMs }) => new TrackedTransport({ url: url(), exchange: CONFORMANCE_EXCHANGE, maxDelayMs }),
      // The shared broker checks credentials: a user that does not exist is refused (403 ACCESS_REFUSED).
      checksCredentials: true,
      withCredentials: (password, logger) => {
        const withPassword = new URL(url());
        withPassword.username = 'eventbus-conformance';
        withPassword.password = password;
        return new TrackedTransport({ url: withPassword.toString(), exchange: CONFORMANCE_EXCHANGE, logger, connectTimeoutMs: 5_000 });
      },
      ...(own
        ? {
            privateBroker: {
              start: () => own.start(),
              restart: () => own.restart(),
              stop: () => own.dispose(),
              factory: () => new RabbitMqTransport({ url: own.url, exchange: CONFORMANCE_EXCHANGE }),
            },
          }
        : {}),
    },
  );
});
