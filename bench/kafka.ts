// Kafka end to end (publish → topic of 3 partitions → group consumer → handler), acks=all: raw
// @platformatic/kafka with plain JSON (the ceiling) and with our CloudEvents binary headers, the
// adapter alone, and the bus in binary and structured mode.
import { randomUUID } from 'node:crypto';
import { createEnvelope, createEventBus, encodeBinary, encodeStructured, silentLogger } from '@org/eventbus';
import { KafkaTransport } from '@org/eventbus-kafka';
import { Admin, Consumer, ProduceAcks, Producer } from '@platformatic/kafka';
import { type BenchPath, data, measured, runBench, Schema, type Setup } from './lib/harness.js';

const BROKERS = (process.env.EVENTBUS_KAFKA_BROKERS ?? '127.0.0.1:9092').replace(/^kafka:\/\//, '').split(',');
const PARTITIONS = 3;
/** The adapter's default `fetchMaxBytes`; the raw clients fetch in responses of the same size. */
const FETCH_MAX_BYTES = 1_048_576;
const RUN = randomUUID().slice(0, 8);
const TYPE = 'bench.kafka.measured';
const fast = { sessionTimeoutMs: 6000, heartbeatIntervalMs: 500, maxWaitTimeMs: 100 };
const topics: string[] = [];
let topicSeq = 0;
const topicName = (label: string) => {
  const t = `bench-${RUN}-${label}-${++topicSeq}`;
  topics.push(t);
  return t;
};

/** Kafka record headers as a user writes them by hand: a Buffer per name and value. */
function headerBuffers(headers: Record<string, string>): Map<Buffer, Buffer> {
  const map = new Map<Buffer, Buffer>();
  for (const name in headers) map.set(Buffer.from(name), Buffer.from(headers[name]!));
  return map;
}

const raw =
  (wire: 'plain' | 'binary'): Setup =>
  async (onEvent) => {
    const topic = topicName(`raw-${wire}`);
    const admin = new Admin({ clientId: 'bench', bootstrapBrokers: BROKERS });
    await admin.createTopics({ topics: [topic], partitions: PARTITIONS, replicas: 1 });
    await admin.close();
    const consumer = new Consumer({ groupId: `g-${topic}`, clientId: 'bench', bootstrapBrokers: BROKERS, maxWaitTime: 100 });
    const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: 100, maxBytes: FETCH_MAX_BYTES });
    stream.on('data', (m) => onEvent(Schema.parse(JSON.parse(m.value.toString('utf8'))).sentAt));
    const producer = new Producer({ clientId: 'bench', bootstrapBrokers: BROKERS, acks: ProduceAcks.ALL });
    const record = (seq: number) => {
      const value = Schema.parse(data(seq));
      if (wire === 'plain') return { topic, value: Buffer.from(JSON.stringify(value)) };
      const { headers, body } = encodeBinary(createEnvelope(TYPE, 1, '/bench', value), 'ce_', 'content-type');
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
const groupOf = (channel: string) => {
  const group = `g-${channel}`;
  topics.push(`${group}.retry`, `${group}.dlt`);
  return group;
};

/** The adapter alone: structured messages encoded as core would, JSON + zod on receive, ack (prefetch 10, the bus default). */
const adapterAlone: Setup = async (onEvent) => {
  const channel = topicName('tr');
  const consumer = transport();
  const publisher = transport();
  await Promise.all([consumer.connect(), publisher.connect()]);
  await consumer.subscribe({ group: groupOf(channel), channels: [channel], prefetch: 10 }, async (d) => {
    const { body } = d.message;
    const event = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
    onEvent(Schema.parse(event.data).sentAt);
    await d.ack();
  });
  return {
    send: (seq, n) =>
      publisher.publish(
        Array.from({ length: n }, (_, i) => {
          const event = createEnvelope(TYPE, 1, '/bench', Schema.parse(data(seq + i)));
          return { channel, id: event.id, ...encodeStructured(event) };
        }),
      ),
    close: async () => void (await Promise.all([publisher.close(), consumer.close()])),
  };
};

const bus =
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

/** Delete the topics made so far, so the broker's page cache and log segments do not grow round after round. */
async function dropTopics(): Promise<void> {
  const admin = new Admin({ clientId: 'bench', bootstrapBrokers: BROKERS });
  await admin.deleteTopics({ topics: topics.splice(0) }).catch(() => {});
  await admin.close();
}

const path = (name: string, setup: Setup): BenchPath => ({ name, setup, after: dropTopics });
const paths = [
  path('raw @platformatic/kafka, plain JSON', raw('plain')),
  path('raw @platformatic/kafka, CloudEvents binary headers', raw('binary')),
  path('KafkaTransport alone, structured', adapterAlone),
  path('bus, binary mode', bus('binary')),
  path('bus, structured mode', bus('structured')),
];
try {
  await runBench({
    section: 'kafka',
    title: 'Kafka (@platformatic/kafka 2, acks=all, 3 partitions)',
    intro: `One Apache Kafka broker (scripts/kafka.sh), a fresh topic per run. The raw producer sends with acks=all (not idempotent); the adapter's producer is idempotent with acks=all. Consumers fetch at most ${FETCH_MAX_BYTES.toLocaleString('en-US')} bytes per response; the bus handler runs at its default concurrency (10) and the adapter alone subscribes with prefetch 10 to match. Reproduce: \`EVENTBUS_KAFKA_BROKERS=127.0.0.1:9092 pnpm bench kafka\`.`,
    paths,
    load: { total: Number(process.env.BENCH_EVENTS ?? 20_000), lanes: 4, batch: 500 },
    rounds: Number(process.env.BENCH_ROUNDS ?? 3),
    latency: { rate: 200, total: Number(process.env.BENCH_LATENCY_EVENTS ?? 1_000), paths: [paths[0]!, paths[3]!, paths[4]!] },
  });
} finally {
  await dropTopics();
}
process.exit(0);
