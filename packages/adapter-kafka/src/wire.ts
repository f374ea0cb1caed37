import { attemptFromHeaders, EventbusHeaders, type OutgoingMessage } from '@org/eventbus';
import type { Message, MessageToProduce } from '@platformatic/kafka';
import { HeaderDecoder, HeaderEncoder } from './header-codec.js';
import type { Entry } from './partition-state.js';

/** Where a retried message came from: the retry topic is shared by every channel of a group. */
export const RETRY_CHANNEL_HEADER = 'eventbus-retry-channel';

export type KafkaRecord = MessageToProduce<Buffer, Buffer, Buffer, Buffer>;
export type KafkaMessage = Message<Buffer, Buffer, Buffer, Buffer>;

const TOPIC_CHARS = /[^A-Za-z0-9._-]/g;

/** Kafka topic names allow [A-Za-z0-9._-] up to 249 characters; anything else becomes "_". */
export function topicName(name: string): string {
  let topic = topicNames.get(name);
  if (topic === undefined) {
    topic = name.replace(TOPIC_CHARS, '_').slice(0, 249);
    if (topicNames.size > 10_000) topicNames.clear();
    topicNames.set(name, topic);
  }
  return topic;
}

const topicNames = new Map<string, string>();

const NO_HEADERS: KafkaMessage['headers'] = new Map();

/** Per-record overhead the publisher counts towards a request's size (lengths, offsets, attributes). */
const RECORD_OVERHEAD = 32;
const HEADER_OVERHEAD = 4;

/** Outgoing messages as Kafka records; one per transport, so header Buffers are reused across publishes. */
export class RecordWriter {
  private readonly headers = new HeaderEncoder();
  /** Of the last record: body plus header names and values in bytes (what `maxMessageBytes` limits). */
  size = 0;
  /** Of the last record: its share of a produce request (size plus key and framing). */
  requestBytes = 0;

  record(topic: string, message: Pick<OutgoingMessage, 'key' | 'headers' | 'body'>): KafkaRecord {
    const headers = this.headers.encode(message.headers);
    const body = message.body;
    const value = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    this.size = value.byteLength + this.headers.bytes;
    if (message.key === undefined) {
      this.requestBytes = this.size + RECORD_OVERHEAD + HEADER_OVERHEAD * headers.size;
      return { topic, value, headers };
    }
    const key = Buffer.from(message.key);
    this.requestBytes = this.size + key.byteLength + RECORD_OVERHEAD + HEADER_OVERHEAD * headers.size;
    return { topic, key, value, headers };
  }
}

/** Received records as entries of the bus; one per subscription. Internal retry headers are read here and left out. */
export class RecordReader {
  private readonly headers = new HeaderDecoder();

  constructor(private readonly topicPrefix: string) {}

  entry(record: KafkaMessage): Entry {
    // Built without `delete`, which would slow every later property access on the object in the decoder.
    const headers: Record<string, string> = {};
    let retryChannel: string | undefined;
    let notBefore: number | undefined;
    let index = 0;
    for (const [nameBytes, valueBytes] of record.headers ?? NO_HEADERS) {
      const position = index++;
      if (nameBytes === undefined || nameBytes === null) continue;
      const slot = this.headers.slot(position, nameBytes);
      const text = valueBytes === undefined || valueBytes === null ? '' : slot.read(valueBytes);
      const name = slot.name;
      if (name === RETRY_CHANNEL_HEADER) retryChannel = text;
      else if (name === EventbusHeaders.notBefore) notBefore = Number(text);
      else headers[name] = text;
    }
    // The bus sees its own channel name, never the prefixed topic.
    const { topicPrefix } = this;
    const channel =
      retryChannel ??
      headers[EventbusHeaders.deadLetterChannel] ??
      (topicPrefix !== '' && record.topic.startsWith(topicPrefix) ? record.topic.slice(topicPrefix.length) : record.topic);
    const body = record.value ?? Buffer.alloc(0);
    const message =
      record.key === undefined || record.key === null ? { channel, headers, body } : { channel, key: record.key.toString(), headers, body };
    return {
      offset: record.offset,
      message,
      attempt: attemptFromHeaders(headers),
      notBefore: notBefore !== undefined && Number.isFinite(notBefore) ? notBefore : undefined,
      settled: false,
    };
  }
}

export function headersFrom(map: Map<Buffer, Buffer> | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  if (!map) return headers;
  for (const [name, value] of map) {
    if (name === undefined || name === null) continue;
    headers[name.toString()] = value === undefined || value === null ? '' : value.toString();
  }
  return headers;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
