// The Kafka paths bench/kafka.ts compares and bench/profile.ts profiles (PROFILE_BROKER=kafka,
// PROFILE_PATH=raw|transport|bus): raw @platformatic/kafka, the adapter alone, and the bus.
import { randomUUID } from 'node:crypto';
import { createEnvelope, createEventBus, encodeBinary, encodeStructured, silentLogger } from '@org/eventbus';
import { KafkaTransport } from '@org/eventbus-kafka';
import { Admin, Consumer, ProduceAcks, Producer } from '@platformatic/kafka';
import { data, measured, readStructured, Schema, type Setup, structuredBatch } from './harness.js';

export const BROKERS = (process.env.EVENTBUS_KAFKA_BROKERS ?? '127.0.0.1:9092').replace(/^kafka:\/\//, '').split(',');
export const PARTITIONS = 3;
/** The adapter's default `fetchMaxBytes`; the raw clients fetch in responses of the same size. */
export const FETCH_MAX_BYTES = 1_048_576;
const RUN = randomUUID().slice(0, 8);
const TYPE = 'bench.kafka.measured';
const fast = { sessionTimeoutMs: 6000, heartbeatIntervalMs: 500, maxWaitTimeMs: 100 };
let topicSeq = 0;
const topicName = (label: string) => `bench-${RUN}-${label}-${++topicSeq}`;

/** Kafka record headers as a user writes them by hand: a Buffer per name and value. */
function headerBuffers(headers: Record<string, string>): Map<Buffer, Buffer> {
  const map = new Map<Buffer, Buffer>();
  for (const name in headers) map.set(Buffer.from(name), Buffer.from(headers[name]!));
  return map;
}

export const raw =
  (wire: 'plain' | 'structured' | 'binary'): Setup =>
  async (onEvent) => {
    const topic = topicName(`raw-${wire}`);
    const admin = new Admin({ clientId: 'bench', bootstrapBrokers: BROKERS });
    await admin.createTopics({ topics: [topic], partitions: PARTITIONS, replicas: 1 });
    await admin.close();
    const consumer = new Consumer({ groupId: `g-${topic}`, clientId: 'bench', bootstrapBrokers: BROKERS, maxWaitTime: 100 });
    const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: 100, maxBytes: FETCH_MAX_BYTES });
    stream.on('data', (m) => {
      const json = JSON.parse(m.value.toString('utf8'));
      // Structured: the envelope around the data; binary: the data alone, attributes in the headers.
      onEvent(Schema.parse(wire === 'structured' ? json.data : json).sentAt);
    });
    const producer = new Producer({ clientId: 'bench', bootstrapBrokers: BROKERS, acks: ProduceAcks.ALL });
    const record = (seq: number) => {
      const value = Schema.parse(data(seq));
      if (wire === 'plain') return { topic, value: Buffer.from(JSON.stringify(value)) };
      const event = createEnvelope(TYPE, 1, '/bench', value);
      const { headers, body } = wire === 'structured' ? encodeStructured(event) : encodeBinary(event, 'ce_', 'content-type');
      return { topic, value: Buffer.from(body.buffer, body.byteOffset, body.byteLength), headers: headerBuffers(headers) };
    };
    return {
      send: async (seq, n) => void (await producer.send({ messages: Array.from({ length: n }, (_, i) => record(seq + i)) })),
      close: async () => {
        await producer.close();
        await stream.close();
        await consumer.close(true);
      },
    };
  };

const transport = (wireMode?: 'binary' | 'structured') => new KafkaTransport({ brokers: BROKERS, partitions: PARTITIONS, ...fast, ...(wireMode ? { wireMode } : {}) });
const groupOf = (channel: string) => `g-${channel}`;

/** The adapter alone: structured messages encoded as core would, JSON + zod on receive, ack (prefetch 10, the bus default). */
export const adapterAlone: Setup = async (onEvent) => {
  const channel = topicName('tr');
  const consumer = transport();
  const publisher = transport();
  await Promise.all([consumer.connect(), publisher.connect()]);
  await consumer.subscribe({ group: groupOf(channel), channels: [channel], prefetch: 10 }, async (d) => {
    onEvent(readStructured(d.message.body));
    await d.ack();
  });
  return {
    send: (seq, n) => publisher.publish(structuredBatch(channel, TYPE, seq, n)),
    close: async () => void (await Promise.all([publisher.close(), consumer.close()])),
  };
};

export const bus =
  (mode: 'binary' | 'structured'): Setup =>
  async (onEvent) => {
    const channel = topicName(`bus-${mode}`);
    const contract = measured(TYPE, channel);
    const make = () => transport(mode);
    const consumer = createEventBus({ transport: make(), source: '/bench', logger: silentLogger });
    // The bus's default concurrency (10), as docs/adapters/kafka.md recommends for handlers that finish at once.
    consumer.handle(contract, { group: groupOf(channel) }, (event) => onEvent(event.data.sentAt));
    await consumer.start();
    const publisher = createEventBus({ transport: make(), source: '/bench', logger: silentLogger });
    await publisher.transport.connect();
    return {
      send: async (seq, n) => {
        if (n === 1) await publisher.publish(contract, data(seq));
        else await publisher.publishBatch(Array.from({ length: n }, (_, i) => ({ contract, data: data(seq + i) })));
      },
      close: async () => void (await Promise.all([publisher.stop(), consumer.stop()])),
    };
  };

/**
 * Delete this run's topics made so far — channels, and each group's retry, delay and dead-letter
 * topics, found by name so none is missed (nine per group) — so the broker's partitions, page cache
 * and log segments do not grow round after round, nor run after run.
 */
export async function dropTopics(): Promise<void> {
  const admin = new Admin({ clientId: 'bench', bootstrapBrokers: BROKERS });
  const ours = (await admin.listTopics().catch(() => [] as string[])).filter((t) => t.startsWith(`bench-${RUN}-`) || t.startsWith(`g-bench-${RUN}-`));
  if (ours.length > 0) await admin.deleteTopics({ topics: ours }).catch(() => {});
  await admin.close();
}

