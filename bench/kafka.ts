// Kafka end to end, 1 KB events, acks=all: the bus (encode → idempotent producer → topic → consumer group →
// decode → zod → handler → commit after settle) against raw @platformatic/kafka doing the same broker work
// (produce 1 KB records with the same headers with acks=all, consume in a group with the same fetch size,
// parse the JSON) in the same run, rounds alternating so machine noise hits both; raw kafkajs as a second
// reference. Each round also counts this process's CPU time per event (publisher and consumer both live
// here; the broker's CPU is not counted): on a shared machine a steadier signal than events/s. Then the
// latency (publish call → handler) at a paced rate through the bus and through the raw client.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createEnvelope, createEventBus, defineEvent, encodeBinary, silentLogger } from '@org/eventbus';
import { KafkaTransport } from '@org/eventbus-kafka';
import { Admin, Consumer, ProduceAcks, Producer } from '@platformatic/kafka';
import { Kafka as KafkaJs, logLevel } from 'kafkajs';
import { z } from 'zod';
import { inLanes as lanesOf } from './lib/lanes.js';
import { percentile, table, writeSection } from './lib/report.js';
import { clock, rotatingRounds, type Sample, summary } from './lib/rounds.js';

const BROKERS = (process.env.EVENTBUS_KAFKA_BROKERS ?? '127.0.0.1:9092').replace(/^kafka:\/\//, '').split(',');
const TOTAL = Number(process.env.BENCH_EVENTS ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const BATCH = 500;
const LANES = 4;
const PARTITIONS = 3;
/** The adapter's default `fetchMaxBytes`; the raw clients fetch in responses of the same size. */
const FETCH_MAX_BYTES = 1_048_576;
const RUN = randomUUID().slice(0, 8);
const Measured = defineEvent({
  type: 'bench.kafka.measured',
  description: 'A 1 KB benchmark event.',
  schema: z.object({ seq: z.number().int(), sentAt: z.number(), payload: z.string() }),
});
const payload = 'x'.repeat(1024 - 60);
const topics: string[] = [];
const fast = { sessionTimeoutMs: 6000, heartbeatIntervalMs: 500, maxWaitTimeMs: 100 };
let topicSeq = 0;
const topicName = (label: string) => {
  const t = `bench-${RUN}-${label}-${++topicSeq}`;
  topics.push(t);
  return t;
};

const inLanes = (total: number, work: (seq: number, n: number) => Promise<void>) =>
  lanesOf(total, { lanes: LANES, batch: BATCH }, work);

function rawRecord(seq: number) {
  const event = createEnvelope(Measured.type, 1, '/bench', { seq, sentAt: performance.now(), payload });
  const { headers, body } = encodeBinary(event, 'ce_', 'content-type');
  // encodeBinary makes a Buffer: a view of it, not a copy.
  return { value: Buffer.from(body.buffer, body.byteOffset, body.byteLength), headers };
}

/** Kafka record headers as a user writes them by hand: a Buffer per name and value. */
function headerBuffers(headers: Record<string, string>): Map<Buffer, Buffer> {
  const map = new Map<Buffer, Buffer>();
  for (const name in headers) map.set(Buffer.from(name), Buffer.from(headers[name]!));
  return map;
}

async function createTopic(topic: string): Promise<void> {
  const admin = new Admin({ clientId: 'bench', bootstrapBrokers: BROKERS });
  await admin.createTopics({ topics: [topic], partitions: PARTITIONS, replicas: 1 });
  await admin.close();
}

/** Raw @platformatic/kafka: a group consumer parsing each value; a producer with acks=all in 4 lanes. */
async function platformaticRound(total: number, onEvent: (sentAt: number) => void = () => {}, paced?: number): Promise<Sample> {
  const topic = topicName('plt');
  await createTopic(topic);
  const consumer = new Consumer({ groupId: `g-${topic}`, clientId: 'bench', bootstrapBrokers: BROKERS, maxWaitTime: 100 });
  const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: 100, maxBytes: FETCH_MAX_BYTES });
  let received = 0;
  let markDone: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    markDone = resolve;
  });
  stream.on('data', (m) => {
    onEvent((JSON.parse(m.value.toString('utf8')) as { sentAt: number }).sentAt);
    if (++received === total) markDone();
  });
  // Idempotence is off here: @platformatic/kafka 1.x refuses concurrent idempotent sends (see docs/adapters/kafka.md).
  const producer = new Producer({ clientId: 'bench', bootstrapBrokers: BROKERS, acks: ProduceAcks.ALL });
  const toRecords = (seq: number, n: number) =>
    Array.from({ length: n }, (_, i) => {
      const { value, headers } = rawRecord(seq + i);
      return { topic, value, headers: headerBuffers(headers) };
    });
  const stop = clock(total);
  if (paced) await pace(total, paced, (seq) => producer.send({ messages: toRecords(seq, 1) }));
  else await inLanes(total, async (seq, n) => void (await producer.send({ messages: toRecords(seq, n) })));
  await done;
  const sample = stop();
  await producer.close();
  await stream.close();
  await consumer.close(true);
  return sample;
}

/** Raw kafkajs doing the same work, as a second reference. */
async function kafkajsRound(total: number): Promise<Sample> {
  const topic = topicName('kjs');
  await createTopic(topic);
  const kafka = new KafkaJs({ clientId: 'bench', brokers: BROKERS, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `g-${topic}`, maxWaitTimeInMs: 100, maxBytes: FETCH_MAX_BYTES });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let received = 0;
  let markDone: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    markDone = resolve;
  });
  await consumer.run({
    eachMessage: async ({ message }) => {
      JSON.parse(message.value!.toString('utf8'));
      if (++received === total) markDone();
    },
  });
  const producer = kafka.producer();
  await producer.connect();
  const stop = clock(total);
  await inLanes(total, async (seq, n) => {
    await producer.send({ topic, acks: -1, messages: Array.from({ length: n }, (_, i) => rawRecord(seq + i)) });
  });
  await done;
  const sample = stop();
  await producer.disconnect();
  await consumer.disconnect();
  return sample;
}

async function busRound(total: number, onEvent: (sentAt: number) => void = () => {}, paced?: number): Promise<Sample> {
  const channel = topicName('bus');
  const group = `g-${channel}`;
  topics.push(`${group}.retry`, `${group}.dlt`);
  const contract = defineEvent({ ...Measured, channel });
  const transport = () => new KafkaTransport({ brokers: BROKERS, partitions: PARTITIONS, ...fast });
  const consumer = createEventBus({ transport: transport(), source: '/bench', logger: silentLogger });
  let received = 0;
  let markDone: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    markDone = resolve;
  });
  // The bus's default concurrency (10), as docs/adapters/kafka.md recommends for handlers that finish at once.
  consumer.handle(contract, { group }, (event) => {
    onEvent(event.data.sentAt);
    if (++received === total) markDone();
  });
  await consumer.start();
  const publisher = createEventBus({ transport: transport(), source: '/bench', logger: silentLogger });
  await publisher.transport.connect();
  const data = (seq: number) => ({ seq, sentAt: performance.now(), payload });
  const stop = clock(total);
  if (paced) await pace(total, paced, (seq) => publisher.publish(contract, data(seq)));
  else await inLanes(total, async (seq, n) => void (await publisher.publishBatch(Array.from({ length: n }, (_, i) => ({ contract, data: data(seq + i) })))));
  await done;
  const sample = stop();
  await Promise.all([publisher.stop(), consumer.stop()]);
  return sample;
}

/** The adapter alone (no bus pipeline): pre-encoded 1 KB events published and acked through KafkaTransport. */
async function transportRound(total: number): Promise<Sample> {
  const channel = topicName('tr');
  const group = `g-${channel}`;
  topics.push(`${group}.retry`, `${group}.dlt`);
  const consumer = new KafkaTransport({ brokers: BROKERS, partitions: PARTITIONS, ...fast });
  const publisher = new KafkaTransport({ brokers: BROKERS, partitions: PARTITIONS, ...fast });
  await Promise.all([consumer.connect(), publisher.connect()]);
  let received = 0;
  let markDone: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    markDone = resolve;
  });
  // prefetch 10: what the bus subscribes with for one handler of default concurrency.
  await consumer.subscribe({ group, channels: [channel], prefetch: 10 }, async (delivery) => {
    const { body } = delivery.message;
    JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
    await delivery.ack();
    if (++received === total) markDone();
  });
  const stop = clock(total);
  await inLanes(total, (seq, n) =>
    publisher.publish(
      Array.from({ length: n }, (_, i) => {
        const { value, headers } = rawRecord(seq + i);
        return { channel, id: headers.ce_id ?? '', headers, body: value };
      }),
    ),
  );
  await done;
  const sample = stop();
  await Promise.all([publisher.close(), consumer.close()]);
  return sample;
}

/** Publish one event at a time at `rate` per second without waiting for each to be confirmed. */
async function pace(total: number, rate: number, send: (seq: number) => Promise<unknown>): Promise<void> {
  const started = performance.now();
  const sends: Promise<unknown>[] = [];
  for (let seq = 0; seq < total; seq++) {
    const wait = started + (seq * 1000) / rate - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    sends.push(send(seq));
  }
  await Promise.all(sends);
}

async function latency(round: typeof busRound, total: number, rate: number) {
  const samples: number[] = [];
  await round(total, (sentAt) => samples.push(performance.now() - sentAt), rate);
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99) };
}

await platformaticRound(2000); // warm-up: JIT, connections, the broker's page cache
await busRound(2000);
const results = await rotatingRounds(
  [
    { name: 'raw', run: () => platformaticRound(TOTAL) },
    { name: 'bus', run: () => busRound(TOTAL) },
    { name: 'transport', run: () => transportRound(TOTAL) },
    { name: 'kafkajs', run: () => kafkajsRound(TOTAL) },
  ],
  ROUNDS,
);
const LAT_EVENTS = 3000;
const LAT_RATE = 1000;
const busLat = await latency(busRound, LAT_EVENTS, LAT_RATE);
const rawLat = await latency(platformaticRound, LAT_EVENTS, LAT_RATE);

const admin = new Admin({ clientId: 'bench', bootstrapBrokers: BROKERS });
await admin.deleteTopics({ topics }).catch(() => {});
await admin.close();

const row = (path: string, samples: Sample[]) => {
  const s = summary(samples, results.raw);
  return {
    path,
    'median events/s': Math.round(s.medianRate),
    'per round': s.perRound,
    'ratio vs raw (median of rounds)': s.ratio,
    'CPU µs/event (median)': s.cpuPerEvent,
  };
};
const rows = [
  row('bus (KafkaTransport, idempotent, acks=all)', results.bus),
  row('KafkaTransport alone, no bus pipeline', results.transport),
  row('raw @platformatic/kafka (acks=all)', results.raw),
  row('raw kafkajs (acks=all)', results.kafkajs),
];
const latRows = [
  { path: 'bus', 'p50 ms': busLat.p50, 'p99 ms': busLat.p99 },
  { path: 'raw @platformatic/kafka', 'p50 ms': rawLat.p50, 'p99 ms': rawLat.p99 },
];
const markdown = `## Kafka (bench/kafka.ts)

End to end (publish → broker → group consumer → handler), ${TOTAL.toLocaleString('en-US')} events of 1 KB per round,
${LANES} publishing lanes of ${BATCH}-event batches, ${PARTITIONS} partitions, ${ROUNDS} rounds (each runs every path back to back, in an order that rotates) on one
Apache Kafka ${'3.9.1'} broker (scripts/kafka.sh). Target: bus ÷ raw @platformatic/kafka ≥ 0.9. The bus handler uses the
default concurrency (10; the transport alone subscribes with prefetch 10 to match), the raw consumers fetch at most
${FETCH_MAX_BYTES.toLocaleString('en-US')} bytes per response like the adapter. CPU is this process's (publisher and consumer; not the broker's).

${table(rows)}

Latency, publish call → handler, ${LAT_EVENTS.toLocaleString('en-US')} events paced at ${LAT_RATE}/s, one event per publish call
(the raw producer sends each as its own acks=all request; the bus coalesces the calls that arrive while a request is
in flight):

${table(latRows)}
`;
writeSection('kafka', markdown);
const ratio = (samples: Sample[]) => summary(samples, results.raw).ratio.toFixed(3);
console.log(`ratio bus/raw = ${ratio(results.bus)}, transport/raw = ${ratio(results.transport)}, kafkajs/raw = ${ratio(results.kafkajs)}`);
process.exit(0);
