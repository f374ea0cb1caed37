import { createHash } from 'node:crypto';
import { ConfigError, EventbusHeaders, errorMessage, MessageTooLargeError, TransportError } from '@org/eventbus';
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';

/** A message as it goes to the server: subject, event id (the Nats-Msg-Id), headers, body. */
export interface RawMessage {
  subject: string;
  id: string;
  headers: Record<string, string>;
  body: Uint8Array;
}

/** Carries OutgoingMessage.key when the CloudEvents partitionkey does not already say it. */
export const KEY_HEADER = 'eventbus-key';

const TOKEN = /^[^\s.*>]+$/;

const validChannels = new Set<string>();

/** `<prefix>.<channel>`; a channel is one or more subject tokens without wildcards or spaces. */
export function channelSubject(prefix: string, channel: string): string {
  if (!validChannels.has(channel)) {
    if (typeof channel !== 'string' || channel === '' || !channel.split('.').every((t) => TOKEN.test(t))) {
      throw new ConfigError('channel', `${JSON.stringify(channel)} is not a NATS subject (dot-separated tokens, no spaces, "*" or ">")`);
    }
    // Channels are few (one per event type); the bound only guards against generated names.
    if (validChannels.size > 10_000) validChannels.clear();
    validChannels.add(channel);
  }
  return `${prefix}.${channel}`;
}

function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 10);
}

/** A name the server accepts for consumers and subject tokens, unique per input. */
export function safeName(...parts: string[]): string {
  const readable = parts.map((p) => p.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 40)).join('__');
  return `${readable}__${shortHash(parts.join('\u0000'))}`;
}

/** Durable consumer of one group on one channel (the 2.9 server filters one subject per consumer). */
export function groupDurable(group: string, channel: string): string {
  return safeName(group, channel);
}

export function deadLetterSubject(deadLetterPrefix: string, group: string): string {
  return `${deadLetterPrefix}.${safeName(group)}`;
}

export function deadLetterDurable(group: string): string {
  return `dead-letters__${safeName(group)}`;
}

/**
 * The subject token of one reader's deferred copies: a group's, or its dead-letter reader's (a
 * deferral made while reading dead letters comes back to that reader, not to the live handlers).
 */
export function deferredToken(group: string, deadLetters: boolean): string {
  return deadLetters ? safeName(group, 'dead-letters') : safeName(group);
}

/** `<deferredPrefix>.<token>.<channel>`: the copy names its channel; the group's consumer reads `<token>.>`. */
export function deferredSubject(deferredPrefix: string, token: string, channel: string): string {
  return `${deferredPrefix}.${token}.${channel}`;
}

export function deferredDurable(token: string): string {
  return `deferred__${token}`;
}

/** Dead letters keep the channel they failed on. */
export function deadLetterChannel(subject: string, headers: Record<string, string>): string {
  return headers[EventbusHeaders.deadLetterChannel] ?? subject;
}

/** Bytes the binding says travel as is: printable ASCII except space, `"` and `%` (NATS binding 3.1.3.2). */
const NEEDS_ENCODING = /[^\x21\x23\x24\x26-\x7e]/;

/**
 * A header value as the CloudEvents NATS binding (3.1.3.2) writes it: space, `"`, `%`, control
 * characters and everything outside printable ASCII become `%XX` of their UTF-8 bytes (upper case).
 * So any string travels — leading spaces, line breaks, `日本` — and a plain client decodes it.
 */
export function encodeHeaderValue(value: string): string {
  if (!NEEDS_ENCODING.test(value)) return value;
  let out = '';
  for (const char of value) {
    if (!NEEDS_ENCODING.test(char)) {
      out += char;
      continue;
    }
    for (const byte of Buffer.from(char, 'utf8')) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * A header value as the binding reads it: a double-quoted string is unquoted first (older senders),
 * then one round of percent-decoding, lower-case hex accepted. A `%` not followed by two hex digits
 * (a plain client that never encoded) and escapes that are not UTF-8 (`%C0%A0`) leave the value as
 * received: the header stays readable rather than the message being refused.
 */
export function decodeHeaderValue(raw: string): string {
  let value = raw;
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1).replace(/\\(.)/g, '$1');
  if (!value.includes('%')) return value;
  try {
    // Decodes exactly %XX sequences as UTF-8, keeps every other character, and throws on a bare `%`
    // or bytes that are not UTF-8 (overlong forms, surrogates).
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** Our headers as NATS headers, values percent-encoded; a name NATS cannot carry is a clear error. */
export function toNatsHeaders(headers: Record<string, string>, msgId?: string): MsgHdrs {
  const h = natsHeaders();
  for (const [name, value] of Object.entries(headers)) {
    try {
      h.set(name, encodeHeaderValue(value));
    } catch (error) {
      throw new TransportError(`header ${JSON.stringify(name)} cannot travel in NATS headers: ${errorMessage(error)}`);
    }
  }
  if (msgId !== undefined) h.set('Nats-Msg-Id', msgId);
  return h;
}

/** NATS headers as a plain record, values decoded, without the server's own `Nats-*` control headers. */
export function fromNatsHeaders(h: MsgHdrs | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  if (!h) return result;
  for (const [name, values] of h) {
    if (name.toLowerCase().startsWith('nats-')) continue;
    result[name] = decodeHeaderValue(values.length === 1 ? values[0]! : values.join(','));
  }
  return result;
}

export interface AckInfo {
  stream: string;
  consumer: string;
  deliveryCount: number;
  streamSequence: number;
  /** Messages left for the consumer after this one, when it was sent. */
  pending: number;
}

/** Delivery facts from a JetStream ack subject (`$JS.ACK.[domain.hash.]stream.consumer.count.sseq.dseq.ts.pending`). */
export function parseAckSubject(reply: string): AckInfo | undefined {
  const tokens = reply.split('.');
  if (tokens.length === 9) tokens.splice(2, 0, '_', '');
  if (tokens.length < 11 || tokens[0] !== '$JS' || tokens[1] !== 'ACK') return undefined;
  return {
    stream: tokens[4]!,
    consumer: tokens[5]!,
    deliveryCount: Number.parseInt(tokens[6]!, 10),
    streamSequence: Number.parseInt(tokens[7]!, 10),
    pending: Number.parseInt(tokens[10]!, 10),
  };
}

const encoder = new TextEncoder();
export const ACK = encoder.encode('+ACK');
export const PROGRESS = encoder.encode('+WPI');
export const TERM = encoder.encode('+TERM');
export function nakPayload(delayMs: number): Uint8Array {
  // Always an explicit delay: without one, a consumer with `backoff` would use its backoff table.
  const ns = Math.max(1, Math.round(delayMs)) * 1_000_000;
  return encoder.encode(`-NAK ${JSON.stringify({ delay: ns })}`);
}

/**
 * Bytes a message occupies in NATS's HPUB frame, what the server's max_payload counts: the body and
 * the header block (`NATS/1.0` line, `name: value` lines with their percent-encoded values and
 * CRLFs, the blank line), Nats-Msg-Id included.
 */
export function wireSize(message: Pick<RawMessage, 'id' | 'headers' | 'body'>): number {
  let size = message.body.byteLength + 'NATS/1.0\r\n\r\n'.length + 'Nats-Msg-Id: \r\n'.length + Buffer.byteLength(message.id);
  for (const [name, value] of Object.entries(message.headers)) {
    size += Buffer.byteLength(name) + 4 + Buffer.byteLength(encodeHeaderValue(value));
  }
  return size;
}

/** Dead-letter headers that may go, in this order, when the copy would not fit max_payload. */
const EXPENDABLE = [EventbusHeaders.deadLetterTime, EventbusHeaders.deadLetterAttempts, EventbusHeaders.deadLetterReason] as const;

/**
 * The dead-letter copy of a message the server delivered, made to fit the server's max_payload.
 * The publish limit (`maxMessageBytes`) does not apply: the server already accepted the original,
 * so an oversized event (the very thing poison often is) must still reach the dead-letter stream.
 * Only an original within a few hundred bytes of max_payload (a foreign client's; the default
 * maxMessageBytes leaves 48 KB) lacks room for the reason headers: the reason is shortened first,
 * then the time, attempt and reason headers go; group and channel stay (reading the dead letters back
 * needs them). If even that does not fit, this throws and the original is redelivered, never
 * dropped.
 */
export function fitDeadLetter(message: RawMessage, maxPayload: number): RawMessage {
  let size = wireSize(message);
  if (size <= maxPayload) return message;
  const headers = { ...message.headers };
  const fitted = { ...message, headers };
  const reason = headers[EventbusHeaders.deadLetterReason] ?? '';
  // Shorten the reason by what is over (its ellipsis travels as 9 percent-encoded bytes), again
  // by what is still over where encoding made characters longer than one byte.
  const ELLIPSIS_BYTES = 9;
  let keep = reason.length - (size - maxPayload) - ELLIPSIS_BYTES;
  while (keep > 0) {
    headers[EventbusHeaders.deadLetterReason] = `${reason.slice(0, keep)}…`;
    size = wireSize(fitted);
    if (size <= maxPayload) return fitted;
    keep -= size - maxPayload;
  }
  headers[EventbusHeaders.deadLetterReason] = '…';
  for (const name of EXPENDABLE) {
    if (wireSize(fitted) <= maxPayload) return fitted;
    delete headers[name];
  }
  size = wireSize(fitted);
  if (size <= maxPayload) return fitted;
  throw new MessageTooLargeError(size, maxPayload, 'dead letter with its group and channel headers (the server max_payload)');
}
