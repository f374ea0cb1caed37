import type { Transport } from '@org/eventbus';
import { NatsTransport } from './transport.js';
import { type NatsTransportOptions, optionsFromUrl } from './options.js';

export { NatsTransport } from './transport.js';
export type { NatsTransportOptions } from './options.js';
export { deleteTopology } from './teardown.js';

export function createNatsTransport(options: NatsTransportOptions): NatsTransport {
  return new NatsTransport(options);
}

/**
 * `createTransport('nats://user:pass@host:4222')` lands here: connection details from the URL
 * (several hosts separated by commas), everything else (prefix, ackWaitMs, …) from `options`.
 */
export function fromUrl(url: string, options: Record<string, unknown> = {}): Transport {
  return new NatsTransport(optionsFromUrl(url, options));
}
