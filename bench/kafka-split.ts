// Where the adapter's per-event cost over the raw client lies, publish and consume apart: each side of
// bench/kafka.ts's paths measured alone (rounds interleaved, CPU of this process per event). Publish:
// raw producer plain JSON (not idempotent, then idempotent), raw producer with the structured body alone
// and with its content-type header, KafkaTransport.publish. Consume: a topic filled beforehand with structured
// records, read by the raw consumer stream and by KafkaTransport.subscribe (prefetch 10 and 100). Exploratory,
// prints only: `pnpm bench kafka-split`.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import os from 'node:os';
import { randomUUID } from 'node:crypto';
import { createEnvelope, encodeStructured } from '@org/eventbus';
import { KafkaTransport } from '@org/eventbus-kafka';
import { Admin, Consumer, ProduceAcks, Producer } from '@platformatic/kafka';
import { counter, data, Schema } from './lib/harness.js';
import { inLanes } from './lib/lanes.js';
import { clock, median, type Sample } from './lib/rounds.js';
import { BROKERS, FETCH_MAX_BYTES, PARTITIONS } from './lib/kafka-paths.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const load = { lanes: 4, batch: 500 };
const RUN = randomUUID().slice(0, 8);
const TYPE = 'bench.kafka.split';
const fast = { sessionTimeoutMs: 6000, heartbeatIntervalMs: 500, maxWaitTimeMs: 100 };
let seqNo = 0;
const admin = new Admin({ clientId: 'bench', bootstrapBrokers: BROKERS });

async function freshTopic(label: string): Promise<string> {
  const topic = `split-${RUN}-${label}-${++seqNo}`;
  await admin.createTopics({ topics: [topic], partitions: PARTITIONS, replicas: 1 });
  return topic;
}

const structured = (seq: number) => encodeStructured(createEnvelope(TYPE, 1, '/bench', Schema.parse(data(seq))));
const headerMap = (headers: Record<string, string>) => new Map(Object.entries(headers).map(([k, v]) => [Buffer.from(k), Buffer.from(v)]));

type Run = () => Promise<Sample>;

/** This run's topics, each group's retry, delay and dead-letter topics with them (found by name). */
async function dropTopics(): Promise<void> {
  const ours = (await admin.listTopics().catch(() => [] as string[])).filter((t) => t.startsWith(`split-${RUN}-`) || t.startsWith(`g-split-${RUN}-`));
  if (ours.length > 0) await admin.deleteTopics({ topics: ours }).catch(() => {});
}

/** SPLIT_PROFILE=<dir>: each clocked part under the CPU profiler, one .cpuprofile per run. */
const PROFILE_DIR = process.env.SPLIT_PROFILE;
const session = PROFILE_DIR ? new Session() : undefined;
session?.connect();
async function profiled(name: string, clocked: () => Promise<Sample>): Promise<Sample> {
  if (!session) return clocked();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
  const sample = await clocked();
  const { profile } = await session.post('Profiler.stop');
  writeFileSync(`${PROFILE_DIR}/${name.replace(/\W+/g, '-')}-${++seqNo}.cpuprofile`, JSON.stringify(profile));
  return sample;
}

const rawPublish =
  (body: 'plain' | 'structured' | 'structured-bare', idempotent: boolean): Run =>
  async () => {
    const topic = await freshTopic('p');
    const producer = new Producer({ clientId: 'bench', bootstrapBrokers: BROKERS, acks: ProduceAcks.ALL, idempotent });
    await producer.send({ messages: [{ topic, value: Buffer.from('warm') }] });
    const stop = clock(EVENTS);
    await inLanes(EVENTS, load, async (seq, n) => {
      const messages = Array.from({ length: n }, (_, i) => {
        if (body === 'plain') return { topic, value: Buffer.from(JSON.stringify(Schema.parse(data(seq + i)))) };
        const { headers, body: bytes } = structured(seq + i);
        return body === 'structured' ? { topic, value: bytes as Buffer, headers: headerMap(headers) } : { topic, value: bytes as Buffer };
      });
      await producer.send({ messages });
    });
    const sample = stop();
    await producer.close();
    return sample;
  };

const transportPublish: Run = async () => {
  const channel = `split-${RUN}-tp-${++seqNo}`;
  const transport = new KafkaTransport({ brokers: BROKERS, partitions: PARTITIONS, ...fast });
  await transport.publish([{ channel, id: 'warm', ...structured(-1) }]);
  const stop = clock(EVENTS);
  await inLanes(EVENTS, load, (seq, n) =>
    transport.publish(
      Array.from({ length: n }, (_, i) => {
        const encoded = structured(seq + i);
        return { channel, id: String(seq + i), ...encoded };
      }),
    ),
  );
  const sample = stop();
  await transport.close();
  return sample;
};

/** A topic holding EVENTS structured records, written by the raw producer (not clocked). */
async function filledTopic(): Promise<string> {
  const topic = await freshTopic('c');
  const producer = new Producer({ clientId: 'bench', bootstrapBrokers: BROKERS, acks: ProduceAcks.ALL });
  await inLanes(EVENTS, load, async (seq, n) => {
    const messages = Array.from({ length: n }, (_, i) => {
      const { headers, body } = structured(seq + i);
      return { topic, value: body as Buffer, headers: headerMap(headers) };
    });
    await producer.send({ messages });
  });
  await producer.close();
  return topic;
}

const parse = (body: Uint8Array) => Schema.parse(JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8')).data);

const rawConsume: Run = async () => {
  const topic = await filledTopic();
  const { tick, done } = counter(EVENTS);
  const consumer = new Consumer({ groupId: `g-${topic}`, clientId: 'bench', bootstrapBrokers: BROKERS, maxWaitTime: 100 });
  let stream: Awaited<ReturnType<typeof consumer.consume>> | undefined;
  const sample = await profiled('raw-consume', async () => {
    const stop = clock(EVENTS);
    stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: 100, maxBytes: FETCH_MAX_BYTES });
    stream.on('data', (m) => {
      parse(m.value);
      tick();
    });
    await done;
    return stop();
  });
  await stream?.close();
  await consumer.close(true);
  return sample;
};

const transportConsume =
  (prefetch: number): Run =>
  async () => {
    const channel = await filledTopic();
    const group = `g-${channel}`;
    const { tick, done } = counter(EVENTS);
    const transport = new KafkaTransport({ brokers: BROKERS, partitions: PARTITIONS, ...fast });
    await transport.connect();
    const sample = await profiled('transport-consume', async () => {
      const stop = clock(EVENTS);
      await transport.subscribe({ group, channels: [channel], prefetch }, async (d) => {
        parse(d.message.body);
        await d.ack();
        tick();
      });
      await done;
      return stop();
    });
    await transport.close();
    return sample;
  };

const runs: [string, Run][] = [
  ['publish: raw, plain JSON', rawPublish('plain', false)],
  ['publish: raw idempotent, plain JSON', rawPublish('plain', true)],
  ['publish: raw, structured, no header', rawPublish('structured-bare', false)],
  ['publish: raw, structured + header', rawPublish('structured', false)],
  ['publish: KafkaTransport', transportPublish],
  ['consume: raw stream', rawConsume],
  ['consume: KafkaTransport prefetch 10', transportConsume(10)],
  ['consume: KafkaTransport prefetch 100', transportConsume(100)],
];
// SPLIT_ONLY=consume (a substring of the names) runs only those, e.g. under node --cpu-prof.
const only = process.env.SPLIT_ONLY;
if (only) runs.splice(0, runs.length, ...runs.filter(([name]) => name.includes(only)));
const results = new Map<string, Sample[]>(runs.map(([name]) => [name, []]));
console.log(`load at start ${os.loadavg().map((x) => x.toFixed(2)).join(' / ')}`);
for (let r = 0; r < ROUNDS + 1; r++) {
  for (let i = 0; i < runs.length; i++) {
    const [name, run] = runs[(r + i) % runs.length]!;
    const sample = await run();
    // Round 0 warms up (JIT, connections) and is not kept.
    if (r > 0) results.get(name)!.push(sample);
  }
  await dropTopics();
}
for (const [name, samples] of results) {
  const cpu = samples.map((s) => s.cpuPerEvent.toFixed(1)).join(' / ');
  console.log(`${name.padEnd(40)} CPU µs/event median ${median(samples.map((s) => s.cpuPerEvent)).toFixed(1)} (${cpu}), events/s median ${Math.round(median(samples.map((s) => s.rate)))}`);
}
console.log(`load at end ${os.loadavg().map((x) => x.toFixed(2)).join(' / ')}`);
await admin.close();
process.exit(0);
