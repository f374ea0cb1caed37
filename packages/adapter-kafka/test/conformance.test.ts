import { fileURLToPath } from 'node:url';
import { describeBroker, runTransportConformance } from '@org/eventbus/testing';
import { brokersFrom, deleteCreated, testTransport } from './helpers.js';
import { PrivateBroker } from './private-broker.js';

describeBroker('kafka conformance', { variable: 'EVENTBUS_KAFKA_BROKERS' }, (brokers) => {
  const privateBroker = new PrivateBroker();
  const [host = '127.0.0.1', port = '9092'] = (brokersFrom(process.env.EVENTBUS_KAFKA_BROKERS ?? '')[0] ?? '').split(':');
  runTransportConformance('kafka', ({ endpoint }) => testTransport(brokers(), endpoint ? { endpoint } : {}), {
    brokerEndpoint: { host, port: Number(port) },
    privateBroker: {
      start: () => privateBroker.start(),
      restart: () => privateBroker.restart(),
      stop: () => privateBroker.stop(),
      factory: () => testTransport(privateBroker.address),
    },
    child: { module: fileURLToPath(new URL('./child-transport.ts', import.meta.url)), export: 'createConformanceTransport' },
    timeoutMs: 60_000,
    cleanup: (created) => deleteCreated(brokers(), created),
  });
});
