import type { MessageToProduce } from '@platformatic/kafka';
import type { OutgoingMessage } from '@org/eventbus';

/** Where a retried message came from: the retry topic is shared by every channel of a group. */
export const RETRY_CHANNEL_HEADER = 'eventbus-retry-channel';

export type KafkaRecord = MessageToProduce<Buffer, Buffer, Buffer, Buffer>;

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

export function toRecord(topic: string, message: Pick<OutgoingMessage, 'key' | 'headers' | 'body'>): KafkaRecord {
  const headers = new Map<Buffer, Buffer>();
  for (const [name, value] of Object.entries(message.headers)) headers.set(Buffer.from(name), Buffer.from(value));
  const body = message.body;
  const record: KafkaRecord = {
    topic,
    value: Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength),
    headers,
  };
  if (message.key !== undefined) record.key = Buffer.from(message.key);
  return record;
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
