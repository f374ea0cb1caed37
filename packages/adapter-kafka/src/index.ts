import type { EventbusAdapter, Transport } from '@org/eventbus';
import { type KafkaTransportOptions, optionsFromUrl } from './options.js';
import { KafkaTransport } from './transport.js';

export type { KafkaCompression, KafkaTransportOptions } from './options.js';
export { optionsFromUrl } from './options.js';
export { deleteTopology, type KafkaTeardownOptions } from './teardown.js';
export { KafkaTransport } from './transport.js';

/** URL schemes this adapter serves (`kafka://host:9092`), without the colon. */
export const schemes = ['kafka'] as const;

/** `createTransport('kafka://127.0.0.1:9092')` lands here; options override what the URL says. */
export function fromUrl(url: string, options: Record<string, unknown> = {}): Transport {
  return new KafkaTransport(optionsFromUrl(url, options));
}

export function createKafkaTransport(options: KafkaTransportOptions): KafkaTransport {
  return new KafkaTransport(options);
}

export const adapter: EventbusAdapter = { name: 'kafka', schemes, fromUrl };
