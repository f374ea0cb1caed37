import { RabbitMqTransport } from '../src/index.js';

/** Exchange shared by the conformance run and its child consumer process (groups are unique per run). */
export const CONFORMANCE_EXCHANGE = 'eventbus-conformance';

/** Builds the transport a conformance child process uses: same broker and exchange as its parent. */
export function createConformanceTransport(): RabbitMqTransport {
  const url = process.env.EVENTBUS_RABBITMQ_URL;
  if (!url) throw new Error('EVENTBUS_RABBITMQ_URL is not set');
  return new RabbitMqTransport({ url, exchange: CONFORMANCE_EXCHANGE });
}
