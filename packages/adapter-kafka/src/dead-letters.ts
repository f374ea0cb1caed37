import type { DeadLetterVisitor } from '@org/eventbus';
import { Consumer } from '@platformatic/kafka';
import { clientClass, clientOptions } from './connection.js';
import type { ResolvedKafkaOptions } from './options.js';
import { groupTopics } from './topology.js';
import { type KafkaMessage, type KafkaRecord, RETRY_CHANNEL_HEADER, RecordReader, RecordWriter } from './wire.js';

export interface DeadLetterScanDeps {
  options: ResolvedKafkaOptions;
  /** Create the topics if missing (a group that never subscribed gets an empty dead-letter topic). */
  ensure(topics: readonly string[]): Promise<void>;
  /** Produce records and resolve once the broker has them all (acks=all). */
  send(records: KafkaRecord[], bytes: number): Promise<void>;
}

/** The reader group of a dead-letter topic: its committed offsets mark "scanned and settled up to here". */
export function scanGroupId(deadLetterTopic: string): string {
  return `${deadLetterTopic}.scan`;
}

/** How long a scan waits for the records it counted at the start before it calls the broker stuck. */
const READ_TIMEOUT_MS = 30_000;

/**
 * A scan of one group's dead-letter topic (docs/decisions/kafka-dead-letter-scan.md). Kafka cannot
 * delete one record, so the topic's live dead letters are those past the committed offsets of a
 * reader group of its own (`<dlt>.scan`). The scan reads every record from there up to the end
 * offsets taken when it starts, visits them oldest first, publishes each redrive to the group's
 * retry topic (that group only, as a nack does), and — only if it removed something — appends the
 * kept ones again and then commits the end offsets. A scan that removed nothing changes nothing.
 */
export async function scanDeadLetters(deps: DeadLetterScanDeps, group: string, visit: DeadLetterVisitor): Promise<void> {
  const { options } = deps;
  const { retryTopic, deadLetterTopic } = groupTopics(options, group);
  await deps.ensure([deadLetterTopic]);
  const ConsumerClass = clientClass(Consumer<Buffer, Buffer, Buffer, Buffer>, options.endpoint);
  const consumer = new ConsumerClass({ ...clientOptions(options), groupId: scanGroupId(deadLetterTopic), autocommit: false });
  try {
    const range = await offsetRange(consumer, deadLetterTopic);
    if (range.every(({ start, end }) => start >= end)) return;
    const records = await readRange(consumer, deadLetterTopic, range, options);
    const reader = new RecordReader(options.topicPrefix);
    const writer = new RecordWriter();
    const kept: KafkaRecord[] = [];
    let keptBytes = 0;
    let removed = 0;
    for (const record of records) {
      const { message } = reader.entry(record);
      const answer = await visit(message);
      if (answer.action === 'keep') {
        kept.push(writer.record(deadLetterTopic, message));
        keptBytes += writer.requestBytes;
        continue;
      }
      removed++;
      if (answer.action === 'redrive') {
        const copy = writer.record(retryTopic, { ...message, headers: { ...answer.headers, [RETRY_CHANNEL_HEADER]: message.channel } });
        await deps.send([copy], writer.requestBytes);
      }
    }
    if (removed === 0) return;
    // Kept ones first, commit second: a crash between the two leaves a kept one twice, never none.
    if (kept.length > 0) await deps.send(kept, keptBytes);
    await consumer.commit({
      offsets: range.map(({ partition, end }) => ({ topic: deadLetterTopic, partition, offset: end, leaderEpoch: -1 })),
    });
  } finally {
    await consumer.close(true).catch(() => {});
  }
}

interface PartitionRange {
  partition: number;
  start: bigint;
  end: bigint;
}

/** Per partition: from the reader group's committed offset (or the earliest record still kept) to the end now. */
async function offsetRange(consumer: Consumer<Buffer, Buffer, Buffer, Buffer>, topic: string): Promise<PartitionRange[]> {
  const ends = (await consumer.listOffsets({ topics: [topic] })).get(topic) ?? [];
  const earliest = (await consumer.listOffsets({ topics: [topic], timestamp: -2n })).get(topic) ?? [];
  const partitions = ends.map((_, i) => i);
  const committed = (await consumer.listCommittedOffsets({ topics: [{ topic, partitions }] })).get(topic) ?? [];
  return partitions.map((partition) => {
    const first = earliest[partition] ?? 0n;
    const done = committed[partition] ?? -1n;
    // Retention may have dropped records below the committed offset.
    return { partition, start: done > first ? done : first, end: ends[partition] ?? 0n };
  });
}

/** Every record of the ranges, oldest first across partitions (by record timestamp, then offset). */
async function readRange(
  consumer: Consumer<Buffer, Buffer, Buffer, Buffer>,
  topic: string,
  range: PartitionRange[],
  options: ResolvedKafkaOptions,
): Promise<KafkaMessage[]> {
  const open = range.filter(({ start, end }) => start < end);
  const next = new Map(open.map(({ partition, start }) => [partition, start]));
  const ends = new Map(open.map(({ partition, end }) => [partition, end]));
  const stream = await consumer.consume({
    topics: [topic],
    mode: 'manual',
    offsets: open.map(({ partition, start }) => ({ topic, partition, offset: start })),
    autocommit: false,
    maxWaitTime: options.maxWaitTimeMs,
    sessionTimeout: options.sessionTimeoutMs,
    heartbeatInterval: options.heartbeatIntervalMs,
    rebalanceTimeout: options.rebalanceTimeoutMs,
  });
  const records: KafkaMessage[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`reading dead-letter topic "${topic}" took over ${READ_TIMEOUT_MS} ms`)), READ_TIMEOUT_MS);
      const finish = () => {
        clearTimeout(timer);
        resolve();
      };
      if (next.size === 0) return finish();
      stream.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      stream.on('data', (record: KafkaMessage) => {
        const end = ends.get(record.partition);
        // Past the end counted at the start: appended during the scan (perhaps by it), left for the next one.
        if (end === undefined || record.offset >= end) return;
        records.push(record);
        if (record.offset + 1n >= end) next.delete(record.partition);
        else next.set(record.partition, record.offset + 1n);
        if (next.size === 0) finish();
      });
    });
  } finally {
    await stream.close().catch(() => {});
  }
  return records.sort((a, b) => (a.timestamp === b.timestamp ? Number(a.offset - b.offset) : a.timestamp < b.timestamp ? -1 : 1));
}
