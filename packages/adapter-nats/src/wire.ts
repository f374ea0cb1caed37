import { createHash } from 'node:crypto';
import { ConfigError, TransportError } from '@org/eventbus';
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';

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

/** Our headers as NATS headers; a name NATS cannot carry is a clear error, not a broken message. */
export function toNatsHeaders(headers: Record<string, string>, msgId?: string): MsgHdrs {
  const h = natsHeaders();
  for (const [name, value] of Object.entries(headers)) {
    if (/[\r\n]/.test(value)) throw new TransportError(`header "${name}" holds a line break, which NATS headers cannot carry`);
    try {
      h.set(name, value);
    } catch (error) {
      throw new TransportError(`header ${JSON.stringify(name)} cannot travel in NATS headers: ${(error as Error).message}`);
    }
  }
  if (msgId !== undefined) h.set('Nats-Msg-Id', msgId);
  return h;
}

/** NATS headers as a plain record, without the server's own `Nats-*` control headers. */
export function fromNatsHeaders(h: MsgHdrs | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  if (!h) return result;
  for (const [name, values] of h) {
    if (name.toLowerCase().startsWith('nats-')) continue;
    result[name] = values.length === 1 ? values[0]! : values.join(',');
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
 * Bytes a message occupies in NATS's HPUB frame (what max_payload counts), from its messageSize:
 * each header line adds ": " and CRLF, plus the version line, the blank line and Nats-Msg-Id.
 */
export function wireSize(size: number, message: { id: string; headers: Record<string, string> }): number {
  const lines = Object.keys(message.headers).length + 1;
  return size + lines * 4 + 'NATS/1.0\r\n\r\n'.length + 'Nats-Msg-Id'.length + Buffer.byteLength(message.id);
}
