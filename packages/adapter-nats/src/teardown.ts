import { jetstreamManager } from '@nats-io/jetstream';
import { connectNats } from './connection.js';
import { type NatsTransportOptions, optionsFromUrl, resolveOptions } from './options.js';
import { deadLetterStream, deferredStream } from './topology.js';

/**
 * Delete the JetStream streams a transport with these options uses — its channel, dead-letter and
 * deferred streams, with their messages and consumers. For test runs and short-lived environments
 * on a shared server. `url` is a nats:// URL (its query may carry `prefix`) or the transport's options.
 */
export async function deleteTopology(target: string | NatsTransportOptions): Promise<void> {
  const options = resolveOptions(typeof target === 'string' ? optionsFromUrl(target) : target);
  // The transport's own connect: the same credentials, TLS and error messages.
  const nc = await connectNats(options);
  try {
    const jsm = await jetstreamManager(nc);
    for (const name of [options.stream, deadLetterStream(options), deferredStream(options)]) await jsm.streams.delete(name).catch(() => false);
  } finally {
    await nc.close();
  }
}
