import type { EventbusAdapter } from '@org/eventbus';
import { optionsFromUrl, type RabbitMqTransportOptions } from './options.js';
import { RabbitMqTransport } from './transport.js';

export type { QueueType, RabbitMqTransportOptions } from './options.js';
export { deleteTopology, type TeardownOptions } from './teardown.js';
export { RabbitMqTransport } from './transport.js';

export function createRabbitMqTransport(options: RabbitMqTransportOptions): RabbitMqTransport {
  return new RabbitMqTransport(options);
}

/** The URL schemes this adapter serves (`createTransport('amqp://…')`, `amqps://` for TLS). */
export const schemes = ['amqp', 'amqps'] as const;

/**
 * What `createTransport('amqp://…')` calls. Connection details come from the URL, eventbus options
 * from its query (`?exchange=orders&queueType=classic`) or from `options`; where both give one, the URL wins.
 */
export function fromUrl(url: string, options: Record<string, unknown> = {}): RabbitMqTransport {
  return new RabbitMqTransport(optionsFromUrl(url, options));
}

export const adapter: EventbusAdapter = { name: 'rabbitmq', schemes, fromUrl };
