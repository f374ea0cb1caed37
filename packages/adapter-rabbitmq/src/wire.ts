import type { OutgoingMessage, ReceivedMessage } from '@org/eventbus';
import type { ConsumeMessage, Message, Options } from 'amqplib';

/** The CloudEvents AMQP binding puts `datacontenttype` in the AMQP `content-type` property. */
const CONTENT_TYPE = 'content-type';
/** Original channel of a message that came back through a retry queue (its routing key was the queue's). */
export const CHANNEL_HEADER = 'eventbus-channel';
/** Ordering key, when it is not already carried as the CloudEvents partitionkey attribute. */
export const KEY_HEADER = 'eventbus-key';
const PARTITION_KEY_HEADER = 'cloudEvents_partitionkey';

/** AMQP properties for an outgoing message: persistent, content-type as a property, the rest as headers. */
export function toPublishOptions(message: OutgoingMessage, extraHeaders: Record<string, string> = {}): Options.Publish {
  const headers: Record<string, string> = {};
  let contentType: string | undefined;
  for (const name in message.headers) {
    if (isBrokerHeader(name)) continue;
    const value = message.headers[name]!;
    if (isContentType(name)) contentType = value;
    else headers[name] = value;
  }
  if (message.key !== undefined && headers[PARTITION_KEY_HEADER] !== message.key) headers[KEY_HEADER] = message.key;
  Object.assign(headers, extraHeaders);
  const options: Options.Publish = { persistent: true, headers, messageId: message.id };
  if (contentType !== undefined) options.contentType = contentType;
  return options;
}

/**
 * Headers the broker itself writes (dead-lettering history, quorum delivery count) are not part of
 * the message: copying them into a republished message would confuse the broker's bookkeeping.
 * Other `x-` headers are the application's and travel untouched.
 */
const BROKER_HEADERS = new Set(['x-death', 'x-delivery-count', 'x-received-from']);
function isBrokerHeader(name: string): boolean {
  // Every broker header starts "x-": most names are out after two character checks.
  if (name.charCodeAt(0) !== 120 || name.charCodeAt(1) !== 45) return false;
  return BROKER_HEADERS.has(name) || name.startsWith('x-first-death-') || name.startsWith('x-last-death-');
}

function isContentType(name: string): boolean {
  return name === CONTENT_TYPE || (name.length === CONTENT_TYPE.length && name.toLowerCase() === CONTENT_TYPE);
}

/** The CloudEvents `time` attribute, which the AMQP binding carries as an AMQP timestamp. */
const TIME_HEADER = 'cloudEvents_time';

/** An AMQP timestamp (POSIX seconds) as the RFC 3339 text CloudEvents uses. */
function rfc3339(seconds: number | bigint): string | undefined {
  const ms = Number(seconds) * 1000;
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : undefined;
}

function headerString(value: unknown, isTime: boolean): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint') return (isTime && rfc3339(value)) || String(value);
  if (typeof value === 'boolean') return String(value);
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (value instanceof Date) return value.toISOString();
  // AMQP typed values, as amqplib decodes them: { '!': 'timestamp' | 'decimal' | …, value }.
  if (value && typeof value === 'object' && 'value' in value) {
    const typed = value as { '!'?: unknown; value: unknown };
    const inner = typed.value;
    if (typed['!'] === 'timestamp' && (typeof inner === 'number' || typeof inner === 'bigint')) return rfc3339(inner) ?? String(inner);
    return headerString(inner, isTime);
  }
  return undefined;
}

/**
 * Binding 3.1.3.1: attributes may be named `cloudEvents:<attr>` (AMQP 1.0 application properties)
 * as well as `cloudEvents_<attr>`; core reads the latter.
 */
function attributeName(name: string): string {
  // Every other header is out after one length check and one character check.
  return name.length > 12 && name.charCodeAt(11) === 58 && name.startsWith('cloudEvents:') ? `cloudEvents_${name.slice(12)}` : name;
}

/** A message off the wire, as core reads it: string headers, content-type back as a header. */
export function fromConsumeMessage(msg: Message): ReceivedMessage {
  const headers: Record<string, string> = {};
  let channel = msg.fields.routingKey;
  let key: string | undefined;
  const wire: Record<string, unknown> = msg.properties.headers ?? {};
  for (const wireName in wire) {
    if (isBrokerHeader(wireName)) continue;
    const name = attributeName(wireName);
    // A name sent both ways: the `cloudEvents_` one wins.
    if (name !== wireName && name in wire) continue;
    const raw = wire[wireName];
    const value = typeof raw === 'string' ? raw : headerString(raw, name === TIME_HEADER);
    if (value === undefined) continue;
    if (name === CHANNEL_HEADER) channel = value;
    else if (name === KEY_HEADER) key = value;
    else headers[name] = value;
  }
  if (typeof msg.properties.contentType === 'string') headers[CONTENT_TYPE] = msg.properties.contentType;
  key ??= headers[PARTITION_KEY_HEADER];
  const received: ReceivedMessage = { channel, headers, body: msg.content };
  if (key !== undefined) received.key = key;
  return received;
}

/** Previous deliveries the broker counted: quorum queues say how many, classic queues only whether. */
export function brokerRedeliveries(msg: ConsumeMessage): number {
  const count = Number(msg.properties.headers?.['x-delivery-count']);
  if (Number.isInteger(count) && count > 0) return count;
  return msg.fields.redelivered ? 1 : 0;
}
