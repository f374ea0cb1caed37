import type { Transport } from '@org/eventbus';
import type { RabbitMqTransportOptions } from './options.js';
import { RabbitMqTransport } from './rabbitmq-transport.js';

export type { QueueType, RabbitMqTransportOptions } from './options.js';
export { RabbitMqTransport } from './rabbitmq-transport.js';

export function createRabbitMqTransport(options: RabbitMqTransportOptions): RabbitMqTransport {
  return new RabbitMqTransport(options);
}

/** What `createTransport('amqp://…')` calls: connection details from the URL, the rest from options. */
export function fromUrl(url: string, options: Record<string, unknown> = {}): Transport {
  return new RabbitMqTransport({ ...(options as Partial<RabbitMqTransportOptions>), url });
}
