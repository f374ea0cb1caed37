import { ConfigError, optionsFromQuery, redact, type Transport } from '@org/eventbus';
import type { RabbitMqTransportOptions } from './options.js';
import { RabbitMqTransport } from './rabbitmq-transport.js';

export type { QueueType, RabbitMqTransportOptions } from './options.js';
export { RabbitMqTransport } from './rabbitmq-transport.js';
export { deleteTopology, type TeardownOptions } from './teardown.js';

export function createRabbitMqTransport(options: RabbitMqTransportOptions): RabbitMqTransport {
  return new RabbitMqTransport(options);
}

/** eventbus options that may ride in the URL's query; amqplib's own (heartbeat, frameMax…) stay in the URL. */
const URL_OPTIONS = {
  exchange: 'string',
  queueType: 'string',
  mandatory: 'boolean',
  publishers: 'number',
  publishTimeoutMs: 'number',
  connectTimeoutMs: 'number',
  drainTimeoutMs: 'number',
  maxMessageBytes: 'number',
} as const;

/**
 * What `createTransport('amqp://…')` calls. Connection details come from the URL, eventbus options
 * from its query (`?exchange=orders&queueType=classic`) or from `options`; where both give one, the URL wins.
 */
export function fromUrl(url: string, options: Record<string, unknown> = {}): Transport {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError('url', `"${redact(url)}" is not a URL (expected amqp://user:pass@host:5672/vhost)`);
  }
  const fromUrlQuery = optionsFromQuery(parsed.searchParams, URL_OPTIONS);
  return new RabbitMqTransport({ ...(options as Partial<RabbitMqTransportOptions>), ...fromUrlQuery, url: parsed.toString() });
}
