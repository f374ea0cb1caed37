import type { Transport } from '@org/eventbus';
import { KafkaTransport } from './kafka-transport.js';
import { type KafkaTransportOptions, optionsFromUrl } from './options.js';

export { KafkaTransport } from './kafka-transport.js';
export type { KafkaTransportOptions } from './options.js';
export { optionsFromUrl } from './options.js';
export { deleteTopology, type KafkaTeardownOptions } from './teardown.js';

/** `createTransport('kafka://127.0.0.1:9092')` lands here; options override what the URL says. */
export function fromUrl(url: string, options: Record<string, unknown> = {}): Transport {
  return new KafkaTransport(optionsFromUrl(url, options));
}

export function createKafkaTransport(options: KafkaTransportOptions): KafkaTransport {
  return new KafkaTransport(options);
}
