import { encodeEvent } from '../codec.js';
import type { CloudEvent } from '../envelope.js';
import type { ReceivedMessage } from '../transport.js';

/** The wire layout of the memory transport: the CloudEvents binary mode with `ce-` headers. */
export const MEMORY_ENCODING = { mode: 'binary', attributePrefix: 'ce-', contentTypeHeader: 'content-type' } as const;

/** A dead letter is kept as bytes even when events travel as objects, so anything can read it later. */
export function encodedCopy(message: ReceivedMessage, event: CloudEvent): ReceivedMessage {
  const { headers, body } = encodeEvent(event, MEMORY_ENCODING);
  return message.key === undefined ? { channel: message.channel, headers, body } : { channel: message.channel, key: message.key, headers, body };
}
