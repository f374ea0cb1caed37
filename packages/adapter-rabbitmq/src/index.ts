import { ConfigError, redact, type Transport } from '@org/eventbus';
import type { RabbitMqTransportOptions } from './options.js';
import { RabbitMqTransport } from './rabbitmq-transport.js';

export type { QueueType, RabbitMqTransportOptions } from './options.js';
export { RabbitMqTransport } from './rabbitmq-transport.js';

export function createRabbitMqTransport(options: RabbitMqTransportOptions): RabbitMqTransport {
  return new RabbitMqTransport(options);
}

/** eventbus options that may ride in the URL's query; amqplib's own (heartbeat, frameMax…) stay in the URL. */
const URL_OPTIONS = {
  exchange: 'string',
  queueType: 'string',
  mandatory: 'boolean',
  publishTimeoutMs: 'number',
  connectTimeoutMs: 'number',
  drainTimeoutMs: 'number',
  maxMessageBytes: 'number',
} as const;

function fromQuery(name: string, kind: 'string' | 'number' | 'boolean', raw: string): unknown {
  if (kind === 'string') return raw;
  if (kind === 'number') return Number(raw);
  if (raw === 'true' || raw === 'false') return raw === 'true';
  throw new ConfigError(name, `must be true or false (got "${raw}")`);
}

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
  const fromUrlQuery: Record<string, unknown> = {};
  for (const [name, kind] of Object.entries(URL_OPTIONS)) {
    const raw = parsed.searchParams.get(name);
    if (raw === null) continue;
    fromUrlQuery[name] = fromQuery(name, kind, raw);
    parsed.searchParams.delete(name);
  }
  return new RabbitMqTransport({ ...(options as Partial<RabbitMqTransportOptions>), ...fromUrlQuery, url: parsed.toString() });
}
