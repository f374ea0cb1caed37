import { fileURLToPath } from 'node:url';
import type { Logger } from '@org/eventbus';
import { describeBroker, runTransportConformance } from '@org/eventbus/testing';
import { Admin, ConfigResourceTypes, IncrementalAlterConfigOperationTypes } from '@platformatic/kafka';
import { afterAll } from 'vitest';
import { brokersFrom, deleteCreated, heldTopics, testTransport } from './helpers.js';
import { PrivateBroker } from './private-broker.js';
import { SASL_USER, SaslBroker } from './sasl-broker.js';

/**
 * Break a group's dead-letter or retry path on the broker itself: its topic accepts no record larger
 * than 1 byte, so the produce a settle makes is refused (MESSAGE_TOO_LARGE). The repair removes the
 * override. The topics exist already: subscribe() created them.
 */
async function breakTopic(brokers: string, topic: string): Promise<() => Promise<void>> {
  const alter = async (configs: Parameters<Admin['incrementalAlterConfigs']>[0]['resources'][number]['configs']) => {
    const admin = new Admin({ clientId: 'conformance-break', bootstrapBrokers: brokersFrom(brokers) });
    try {
      await admin.incrementalAlterConfigs({ resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: topic, configs }] });
    } finally {
      await admin.close();
    }
  };
  await alter([{ name: 'max.message.bytes', configOperation: IncrementalAlterConfigOperationTypes.SET, value: '1' }]);
  return () => alter([{ name: 'max.message.bytes', configOperation: IncrementalAlterConfigOperationTypes.DELETE }]);
}

describeBroker('kafka conformance', { variable: 'EVENTBUS_KAFKA_BROKERS' }, (brokers) => {
  const privateBroker = new PrivateBroker();
  // The machine's broker has no SASL listener; the credential scenarios get a private one that checks
  // SASL/PLAIN passwords, started on first use (about 25 s) and stopped after the suite.
  const saslBroker = new SaslBroker(`right-${Date.now()}`);
  let saslStarted: Promise<void> | undefined;
  afterAll(() => (saslStarted ? saslStarted.finally(() => saslBroker.stop()) : undefined), 60_000);
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
    makeTransport: ({ maxDelayMs }) => testTransport(brokers(), { maxDelayMs }),
    timeoutMs: 60_000,
    cleanup: (created) => deleteCreated(brokers(), created),
    // A delayed nack goes to the group's delay topics (or, under a second, its retry topic): all of them break.
    breakSettle: async (what, group) => {
      const topics = what === 'dead-letter' ? [`${group}.dlt`] : heldTopics(`${group}.retry`);
      const repairs = await Promise.all(topics.map((topic) => breakTopic(brokers(), topic)));
      return async () => {
        await Promise.all(repairs.map((repair) => repair()));
      };
    },
    withCredentials: async (password: string, logger: Logger) => {
      saslStarted ??= saslBroker.start();
      await saslStarted;
      return testTransport(saslBroker.address, { sasl: { mechanism: 'PLAIN', username: SASL_USER, password }, logger });
    },
    checksCredentials: true,
  });
});
