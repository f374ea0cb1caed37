// Where a paced Kafka event's latency goes, raw client against the adapter and the bus: publish call →
// `producer.send` called → send resolved → the client stream's `data` event → handler start. Paced
// 200/s, one event per publish, rounds interleaved in rotating order. Exploratory, prints only:
// `pnpm bench kafka-latency-split` (docs/decisions/per-event-profile.md, "Kafka paced latency").
import type { Readable } from 'node:stream';
import { createEnvelope, createEventBus, encodeStructured, silentLogger, type Transport } from '@org/eventbus';
import { KafkaTransport } from '@org/eventbus-kafka';
import { Admin, Consumer, type Message, ProduceAcks, Producer } from '@platformatic/kafka';
import { data, measured, readStructured, Schema, structuredBatch } from './lib/harness.js';
import { BROKERS, dropTopics, FETCH_MAX_BYTES, PARTITIONS } from './lib/kafka-paths.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const PER_ROUND = Number(process.env.BENCH_LATENCY_EVENTS ?? 300);
const RATE = 200;
const fast = { sessionTimeoutMs: 6000, heartbeatIntervalMs: 500, maxWaitTimeMs: 100 };

/** One event's timestamps (performance.now()). */
interface Times {
  call: number;
  sendCalled?: number;
  sendResolved?: number;
  published?: number;
  data?: number;
  handler?: number;
}
interface Endpoint {
  send(seq: number): Promise<void>;
  close(): Promise<void>;
}
type Path = (times: Map<number, Times>) => Promise<Endpoint>;

// Paced publishes do not overlap (each resolves in ~1 ms, 5 ms apart): the producer's send belongs to the last call.
let current: Times | undefined;
const send = Producer.prototype.send;
Producer.prototype.send = function (this: Producer<Buffer, Buffer, Buffer, Buffer>, ...args: Parameters<typeof send>) {
  const times = current;
  if (times) times.sendCalled = performance.now();
  const result = send.apply(this, args);
  if (times && result) void result.then(() => (times.sendResolved = performance.now()));
  return result;
} as typeof send;

let n = 0;
const topicName = (label: string) => `bench-latsplit-${process.pid}-${label}-${++n}`;
const seqOf = (value: Buffer): number => JSON.parse(value.toString('utf8')).data.seq;

/** The consumer stream of a transport's only subscription, to time its `data` events (a private field, read for this probe only). */
function streamOf(transport: Transport): Readable {
  const { subscriptions } = transport as unknown as { subscriptions: Set<{ stream: Readable }> };
  return [...subscriptions][0]!.stream;
}
function timeData(stream: Readable, times: Map<number, Times>): void {
  stream.prependListener('data', (m: Message<Buffer, Buffer, Buffer, Buffer>) => {
    const t = times.get(seqOf(m.value));
    if (t) t.data = performance.now();
  });
}

const raw: Path = async (times) => {
  const topic = topicName('raw');
  const admin = new Admin({ clientId: 'bench', bootstrapBrokers: BROKERS });
  await admin.createTopics({ topics: [topic], partitions: PARTITIONS, replicas: 1 });
  await admin.close();
  const consumer = new Consumer({ groupId: `g-${topic}`, clientId: 'bench', bootstrapBrokers: BROKERS, maxWaitTime: 100 });
  const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: 100, maxBytes: FETCH_MAX_BYTES });
  timeData(stream, times);
  stream.on('data', (m) => {
    const t = times.get(seqOf(m.value));
    if (t) t.handler = performance.now();
    readStructured(m.value);
  });
  // Idempotent, as the adapter's producers are; the structured bytes and header the adapter sends.
  const producer = new Producer({ clientId: 'bench', bootstrapBrokers: BROKERS, acks: ProduceAcks.ALL, idempotent: true });
  const contentType = [Buffer.from('content-type'), Buffer.from('application/cloudevents+json')] as const;
  return {
    send: async (seq) => {
      const { body } = encodeStructured(createEnvelope('bench.latency', 1, '/bench', Schema.parse(data(seq))));
      await producer.send({ messages: [{ topic, value: Buffer.from(body.buffer, body.byteOffset, body.byteLength), headers: new Map([contentType]) }] });
    },
    close: async () => {
      await producer.close();
      await stream.close();
      await consumer.close(true);
    },
  };
};

const transport = () => new KafkaTransport({ brokers: BROKERS, partitions: PARTITIONS, ...fast });

const adapterAlone: Path = async (times) => {
  const channel = topicName('tr');
  const [consumer, publisher] = [transport(), transport()];
  await Promise.all([consumer.connect(), publisher.connect()]);
  await consumer.subscribe({ group: `g-${channel}`, channels: [channel], prefetch: 10 }, async (d) => {
    const t = times.get(seqOf(Buffer.from(d.message.body)));
    if (t) t.handler = performance.now();
    readStructured(d.message.body);
    await d.ack();
  });
  timeData(streamOf(consumer), times);
  return {
    send: (seq) => publisher.publish(structuredBatch(channel, 'bench.latency', seq, 1)),
    close: async () => void (await Promise.all([publisher.close(), consumer.close()])),
  };
};

const bus: Path = async (times) => {
  const channel = topicName('bus');
  const contract = measured('bench.latency', channel);
  const consumer = createEventBus({ transport: transport(), source: '/bench', logger: silentLogger });
  consumer.handle(contract, { group: `g-${channel}` }, (event) => {
    const t = times.get(event.data.seq);
    if (t) t.handler = performance.now();
  });
  await consumer.start();
  timeData(streamOf(consumer.transport), times);
  const publisher = createEventBus({ transport: transport(), source: '/bench', logger: silentLogger });
  await publisher.transport.connect();
  return {
    send: async (seq) => void (await publisher.publish(contract, data(seq))),
    close: async () => void (await Promise.all([publisher.stop(), consumer.stop()])),
  };
};

const until = async (done: () => boolean) => {
  const deadline = performance.now() + 30_000;
  while (!done()) {
    if (performance.now() > deadline) throw new Error('events did not arrive within 30 s');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};

/** One path's round: a warm-up event, then PER_ROUND events paced at RATE. */
async function round(path: Path, firstSeq: number): Promise<Times[]> {
  const times = new Map<number, Times>();
  const endpoint = await path(times);
  const warm: Times = { call: performance.now() };
  times.set(firstSeq, warm);
  await endpoint.send(firstSeq);
  await until(() => warm.handler !== undefined);
  times.clear();
  const started = performance.now();
  const sends: Promise<void>[] = [];
  for (let i = 1; i <= PER_ROUND; i++) {
    const wait = started + (i * 1000) / RATE - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    const t: Times = { call: performance.now() };
    times.set(firstSeq + i, t);
    current = t;
    sends.push(
      endpoint.send(firstSeq + i).then(() => {
        t.published = performance.now();
      }),
    );
  }
  await Promise.all(sends);
  await until(() => [...times.values()].every((t) => t.handler !== undefined));
  await endpoint.close();
  await dropTopics();
  return [...times.values()];
}

const paths: [string, Path][] = [
  ['raw, structured', raw],
  ['KafkaTransport alone', adapterAlone],
  ['bus, structured', bus],
];
const all = new Map<string, Times[]>(paths.map(([name]) => [name, []]));
let seq = 0;
for (let r = 0; r < ROUNDS; r++) {
  for (let i = 0; i < paths.length; i++) {
    const [name, path] = paths[(r + i) % paths.length]!;
    all.get(name)!.push(...(await round(path, seq)));
    seq += PER_ROUND + 1;
  }
}
const pct = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * q)]!;
const span = (times: Times[], from: keyof Times, to: keyof Times) => {
  const xs = times.map((t) => t[to]! - t[from]!);
  return `${pct(xs, 0.5).toFixed(3)} / ${pct(xs, 0.9).toFixed(3)}`;
};
console.log(`ms, p50 / p90, ${ROUNDS} rounds of ${PER_ROUND} events a path at ${RATE}/s`);
console.log('| path | call → producer.send | producer.send | publish resolved | call → stream data | stream data → handler | call → handler |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const [name, times] of all) {
  const cells = [span(times, 'call', 'sendCalled'), span(times, 'sendCalled', 'sendResolved'), span(times, 'call', 'published'), span(times, 'call', 'data'), span(times, 'data', 'handler'), span(times, 'call', 'handler')];
  console.log(`| ${name} | ${cells.join(' | ')} |`);
}
process.exit(0);
