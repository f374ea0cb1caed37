import type { MessageAttributeValue } from '@aws-sdk/client-sqs';

/** Attributes the adapter itself writes next to the user's headers. */
export const SqsAttributes = {
  /** The channel (SNS topic) a message was published to: raw delivery drops the topic ARN. */
  channel: 'eventbus-channel',
  /** The ordering key, for standard queues (FIFO queues carry it as the message group id). */
  key: 'eventbus-key',
  /** Every header as one JSON object, when they do not fit SQS's attribute rules one by one. */
  headers: 'eventbus-headers',
  /** "base64" when the body is not text SQS accepts. */
  bodyEncoding: 'eventbus-body-encoding',
} as const;

/** The largest message SQS and SNS accept: body plus attribute names, types and values. */
export const SQS_MAX_MESSAGE_BYTES = 256 * 1024;
/** SQS carries at most 10 message attributes per message. */
const MAX_ATTRIBUTES = 10;
const RESERVED = new Set<string>(Object.values(SqsAttributes));
const NAME = /^[A-Za-z0-9_.-]{1,256}$/;
// Characters SQS refuses in bodies and string attributes (XML 1.0's excluded ranges).
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are exactly the characters SQS rejects.
const INVALID_TEXT = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

const PRINTABLE_ASCII = /^[\x20-\x7E\t\n\r]*$/;
const decoder = new TextDecoder('utf-8', { fatal: true });

function validName(name: string): boolean {
  return NAME.test(name) && !/^(aws|amazon)\./i.test(name) && !name.startsWith('.') && !name.endsWith('.') && !name.includes('..');
}

function validValue(value: string): boolean {
  return value !== '' && !INVALID_TEXT.test(value);
}

export interface WireMessage {
  body: string;
  attributes: Record<string, MessageAttributeValue>;
  /** Bytes as SQS counts them against its 256 KiB limit. */
  size: number;
}

function text(value: string): MessageAttributeValue {
  return { DataType: 'String', StringValue: value };
}

/**
 * Lay a message out for SQS/SNS: headers become String attributes one by one when they fit the
 * rules (names, non-empty values, at most 10), otherwise all of them travel as one JSON attribute,
 * so any header survives the round trip. A body that is not valid SQS text goes as base64.
 */
export function toWire(message: { channel: string; key?: string; headers: Record<string, string>; body: Uint8Array }): WireMessage {
  const attributes: Record<string, MessageAttributeValue> = { [SqsAttributes.channel]: text(message.channel) };
  if (message.key !== undefined && message.key !== '') attributes[SqsAttributes.key] = text(message.key);
  let body: string;
  try {
    body = decoder.decode(message.body);
    // Printable ASCII (most JSON) needs no look at the unicode ranges.
    if (body === '' || (!PRINTABLE_ASCII.test(body) && INVALID_TEXT.test(body))) throw new Error('not SQS text');
  } catch {
    body = Buffer.from(message.body).toString('base64') || '=';
    attributes[SqsAttributes.bodyEncoding] = text('base64');
  }
  const entries = Object.entries(message.headers);
  const fits =
    entries.length + Object.keys(attributes).length <= MAX_ATTRIBUTES &&
    entries.every(([name, value]) => validName(name) && !RESERVED.has(name) && validValue(value));
  if (fits) {
    for (const [name, value] of entries) attributes[name] = text(value);
  } else {
    // U+FFFE/U+FFFF survive JSON.stringify unescaped but are refused by SQS: escape them too.
    const json = JSON.stringify(message.headers).replace(/[\uFFFE\uFFFF]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
    attributes[SqsAttributes.headers] = text(json);
  }
  return { body, attributes, size: wireSize(body, attributes) };
}

export function wireSize(body: string, attributes: Record<string, MessageAttributeValue>): number {
  let size = Buffer.byteLength(body);
  for (const [name, value] of Object.entries(attributes)) {
    size += Buffer.byteLength(name) + Buffer.byteLength(value.DataType ?? '');
    size += value.StringValue !== undefined ? Buffer.byteLength(value.StringValue) : (value.BinaryValue?.byteLength ?? 0);
  }
  return size;
}

export interface DecodedWire {
  channel: string | undefined;
  key: string | undefined;
  headers: Record<string, string>;
  body: Uint8Array;
}

/** Read a received SQS message back into headers and body; plain clients' attributes become headers. */
export function fromWire(body: string | undefined, attributes: Record<string, MessageAttributeValue> | undefined): DecodedWire {
  const headers: Record<string, string> = {};
  let channel: string | undefined;
  let key: string | undefined;
  let base64 = false;
  for (const [name, value] of Object.entries(attributes ?? {})) {
    const v = value.StringValue ?? (value.BinaryValue ? Buffer.from(value.BinaryValue).toString('base64') : '');
    if (name === SqsAttributes.channel) channel = v;
    else if (name === SqsAttributes.key) key = v;
    else if (name === SqsAttributes.bodyEncoding) base64 = v === 'base64';
    else if (name === SqsAttributes.headers) Object.assign(headers, parseHeaders(v));
    else headers[name] = v;
  }
  const raw = body ?? '';
  const buffer = base64 ? Buffer.from(raw === '=' ? '' : raw, 'base64') : Buffer.from(raw, 'utf8');
  // A plain Uint8Array view of the same bytes (no second copy), as other transports hand out.
  const bytes = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  return { channel, key, headers, body: bytes };
}

function parseHeaders(json: string): Record<string, string> {
  try {
    const parsed: unknown = JSON.parse(json);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return {};
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(parsed)) if (typeof v === 'string') out[k] = v;
    return out;
  } catch {
    // A plain client's own attribute that happens to share our name: keep nothing rather than fail.
    return {};
  }
}
