import type { Transport } from '@org/eventbus';
import { testTransport } from './helpers.js';

/** Built in the SIGKILL scenario's child process, from the same environment as the tests. */
export function createConformanceTransport(): Transport {
  const brokers = process.env.EVENTBUS_KAFKA_BROKERS;
  if (!brokers) throw new Error('EVENTBUS_KAFKA_BROKERS is not set');
  return testTransport(brokers);
}
