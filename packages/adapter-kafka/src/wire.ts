import { attemptFromHeaders, EventbusHeaders, type OutgoingMessage, type ReceivedMessage } from '@org/eventbus';
import type { Message, MessageToProduce } from '@platformatic/kafka';
import type { Entry } from './partition-state.js';

/** Where a retried message came from: the retry topic is shared by every channel of a group. */
export const RETRY_CHANNEL_HEADER = 'eventbus-retry-channel';
/** A held copy (retry or delay topic) is not handed out before this time (ms since epoch): its topic's hop. */
export const HOP_UNTIL_HEADER = 'eventbus-kafka-hop-until';
/**
 * Where the hold of one `defer` or delayed nack ends (ms since epoch), when the copy's topic releases
 * it earlier (a delay tier shorter than the wait): the subscription moves it on to the next tier.
 */
export const HOLD_UNTIL_HEADER = 'eventbus-kafka-hold-until';

/**
 * The hold still ahead of a received copy whose delay tier released it early (HOLD_UNTIL_HEADER),
 * keyed by the bus message the reader made for it: the subscription's first look at a delivery.
 */
export const holdTargets = new WeakMap<ReceivedMessage, number>();

export type KafkaRecord = MessageToProduce<Buffer, Buffer, Buffer, Buffer>;
export type KafkaMessage = Message<Buffer, Buffer, Buffer, Buffer>;

const NO_HEADERS: KafkaMessage['headers'] = new Map();

/*
 * Header bytes ⇄ strings (Kafka headers are bytes, the bus's strings). Converting every name and
 * value of every record costs a native call and a fresh string or Buffer each (8–10 headers per
 * CloudEvent), and a fresh string used as a property key must then be interned. But names repeat
 * on every record, and many values do too (`ce_type`, `ce_source`, `ce_specversion`,
 * `content-type`), so both directions keep the last conversion per header and reuse it when the
 * input is the same. A header whose value differs every time (`ce_id`, `ce_time`) stops being
 * cached after a few misses in a row.
 */

/** Consecutive misses after which a header's value is no longer stored for reuse. */
const MAX_MISSES = 4;
/** Longest name or value kept (a large value is unlikely to repeat and costly to compare). */
const MAX_CACHED_BYTES = 128;
/** Distinct header names remembered by one encoder before it starts over (names chosen per message). */
const MAX_NAMES = 512;
/** Header positions remembered by one decoder. */
const MAX_POSITIONS = 64;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  const n = a.length;
  if (n !== b.length) return false;
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

class EncodedName {
  lastValue: string | undefined;
  lastBytes: Buffer | undefined;
  misses = 0;

  constructor(readonly bytes: Buffer) {}

  value(text: string): Buffer {
    if (text === this.lastValue) {
      this.misses = 0;
      return this.lastBytes!;
    }
    const bytes = Buffer.from(text);
    if (this.misses < MAX_MISSES && bytes.length <= MAX_CACHED_BYTES) {
      this.lastValue = text;
      this.lastBytes = bytes;
    }
    this.misses++;
    return bytes;
  }
}

/**
 * Headers of outgoing records. Buffers handed out are shared between records and never written
 * to: @platformatic/kafka copies them into the request.
 */
export class HeaderEncoder {
  private readonly names = new Map<string, EncodedName>();
  /** UTF-8 bytes of the names and values of the last `encode` call. */
  bytes = 0;

  encode(headers: Record<string, string>): Map<Buffer, Buffer> {
    const out = new Map<Buffer, Buffer>();
    let bytes = 0;
    for (const name in headers) {
      let slot = this.names.get(name);
      if (slot === undefined) {
        if (this.names.size >= MAX_NAMES) this.names.clear();
        slot = new EncodedName(Buffer.from(name));
        this.names.set(name, slot);
      }
      const value = slot.value(headers[name]!);
      bytes += slot.bytes.length + value.length;
      out.set(slot.bytes, value);
    }
    this.bytes = bytes;
    return out;
  }
}

/**
 * What was last read at one header position. Records of one producer carry their headers in one
 * order, so position i holds the same name record after record. Bytes kept here are copies: a
 * record's header bytes are views of a whole fetch response, which must not be kept alive.
 */
class ReadSlot {
  valueBytes: Buffer | undefined;
  value = '';
  misses = 0;

  constructor(
    readonly nameBytes: Buffer,
    readonly name: string,
  ) {}

  read(bytes: Buffer): string {
    const cached = this.valueBytes;
    if (cached !== undefined && sameBytes(cached, bytes)) {
      this.misses = 0;
      return this.value;
    }
    const text = bytes.toString();
    if (this.misses < MAX_MISSES && bytes.length <= MAX_CACHED_BYTES) {
      this.valueBytes = Buffer.from(bytes);
      this.value = text;
    }
    this.misses++;
    return text;
  }
}

/** Headers of received records, for one subscription. */
export class HeaderDecoder {
  private readonly slots: (ReadSlot | undefined)[] = [];

  /** The slot of the name at position `index` of a record's headers: `slot(i, name).read(value)`. */
  slot(index: number, nameBytes: Buffer): ReadSlot {
    const slot = this.slots[index];
    if (slot !== undefined && sameBytes(slot.nameBytes, nameBytes)) return slot;
    const fresh = new ReadSlot(Buffer.from(nameBytes), nameBytes.toString());
    // Only the first positions and short names are kept: odd records cannot grow this without bound.
    if (index < MAX_POSITIONS && nameBytes.length <= MAX_CACHED_BYTES) this.slots[index] = fresh;
    return fresh;
  }
}

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

/**
 * Received records as entries of the bus; one per subscription. Internal retry and hold headers are
 * read here and left out; `eventbus-not-before` stays only where it lies beyond what this copy was
 * held for (a retry-after longer than `maxDelayMs`), so core's receive check defers it again.
 */
export class RecordReader {
  private readonly headers = new HeaderDecoder();

  constructor(private readonly topicPrefix: string) {}

  entry(record: KafkaMessage): Entry {
    // Built without `delete`, which would slow every later property access on the object in the decoder.
    const headers: Record<string, string> = {};
    let retryChannel: string | undefined;
    let hopUntil: number | undefined;
    let holdUntil: number | undefined;
    let waitUntil: string | undefined;
    let index = 0;
    for (const [nameBytes, valueBytes] of record.headers ?? NO_HEADERS) {
      const position = index++;
      if (nameBytes === undefined || nameBytes === null) continue;
      const slot = this.headers.slot(position, nameBytes);
      const text = valueBytes === undefined || valueBytes === null ? '' : slot.read(valueBytes);
      const name = slot.name;
      if (name === RETRY_CHANNEL_HEADER) retryChannel = text;
      else if (name === EventbusHeaders.notBefore) waitUntil = text;
      else if (name === HOP_UNTIL_HEADER) hopUntil = Number(text);
      else if (name === HOLD_UNTIL_HEADER) holdUntil = Number(text);
      else headers[name] = text;
    }
    if (waitUntil !== undefined) {
      const until = Number(waitUntil);
      // A retry record written before delay tiers existed is held by its not-before alone.
      if (hopUntil === undefined && retryChannel !== undefined) hopUntil = until;
      // Not-before is passed on only where it lies beyond this copy's hold (a wait longer than
      // maxDelayMs), for core's receive check to defer it again: a hold this copy served is not news.
      if (!(until <= (holdUntil ?? hopUntil ?? Number.NEGATIVE_INFINITY))) headers[EventbusHeaders.notBefore] = waitUntil;
    }
    // The bus sees its own channel name, never the prefixed topic.
    const { topicPrefix } = this;
    const channel =
      retryChannel ??
      headers[EventbusHeaders.deadLetterChannel] ??
      (topicPrefix !== '' && record.topic.startsWith(topicPrefix) ? record.topic.slice(topicPrefix.length) : record.topic);
    const body = record.value ?? Buffer.alloc(0);
    const message: ReceivedMessage =
      record.key === undefined || record.key === null ? { channel, headers, body } : { channel, key: record.key.toString(), headers, body };
    const notBefore = hopUntil !== undefined && Number.isFinite(hopUntil) ? hopUntil : undefined;
    if (holdUntil !== undefined && Number.isFinite(holdUntil) && holdUntil > (notBefore ?? 0)) holdTargets.set(message, holdUntil);
    return { offset: record.offset, message, attempt: attemptFromHeaders(headers), notBefore, settled: false };
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
