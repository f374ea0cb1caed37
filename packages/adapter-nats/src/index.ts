import type { EventbusAdapter, Transport } from '@org/eventbus';
import { type NatsTransportOptions, optionsFromUrl } from './options.js';
import { NatsTransport } from './transport.js';

export type { NatsTransportOptions } from './options.js';
export { deleteTopology } from './teardown.js';
export { NatsTransport } from './transport.js';

/** URL schemes this adapter serves (a `tls://` URL connects with TLS). */
export const schemes = ['nats', 'tls'] as const;

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

export const adapter: EventbusAdapter = { name: 'nats', schemes, fromUrl };
