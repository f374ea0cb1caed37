// RabbitMQ end to end, 1 KB events, publisher confirms on, manual ack with a tuned prefetch:
// the bus (encode → confirm-channel publish → quorum queue → decode → zod → handler → ack) against
// raw amqplib doing the same broker work (confirm publish of 1 KB with the same headers, consume,
// ack) in the same run, alternating rounds so machine noise hits both. Also publish-only rate with
// confirms, and latency (publish call → handler) at a paced rate.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createEventBus, createEnvelope, defineEvent, encodeBinary, redact } from '@org/eventbus';
import { RabbitMqTransport } from '@org/eventbus-rabbitmq';
import amqp, { type ConfirmChannel } from 'amqplib';
import { z } from 'zod';
import { percentile, table, writeSection } from './lib/report.js';
import { inLanes as lanesOf } from './lib/lanes.js';
import { clock, rotatingRounds, type Sample, summary } from './lib/rounds.js';

const URL = process.env.EVENTBUS_RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const TOTAL = Number(process.env.BENCH_EVENTS ?? 30_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const BATCH = 500;
const LANES = 4;
const PREFETCH = 500;
const EXCHANGE = `bench-${randomUUID().slice(0, 8)}`;
const Measured = defineEvent({
  type: 'bench.rabbitmq.measured',
  description: 'A 1 KB benchmark event.',
  schema: z.object({ seq: z.number().int(), sentAt: z.number(), payload: z.string() }),
});
const payload = 'x'.repeat(1024 - 60);
const queues: string[] = [];

const inLanes = (total: number, work: (seq: number, n: number) => Promise<void>) =>
  lanesOf(total, { lanes: LANES, batch: BATCH }, work);

function raw1kMessage(seq: number) {
  const event = createEnvelope(Measured.type, 1, '/bench', { seq, sentAt: performance.now(), payload });
  const { headers, body } = encodeBinary(event, 'cloudEvents_', 'content-type');
  const { 'content-type': contentType, ...rest } = headers;
  return { body: Buffer.from(body), options: { persistent: true, contentType, messageId: event.id, headers: rest } };
}

function publishRaw(ch: ConfirmChannel, routingKey: string, seq: number, n: number): Promise<void> {
  const confirms: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const { body, options } = raw1kMessage(seq + i);
    confirms.push(new Promise((resolve, reject) => ch.publish(EXCHANGE, routingKey, body, options, (e) => (e ? reject(e) : resolve()))));
  }
  return Promise.all(confirms).then(() => {});
}

async function rawRound(total: number, consume: boolean): Promise<Sample> {
  // Two connections, as the bus side has (a publishing service and a consuming one).
  const conn = await amqp.connect(URL);
  const subConn = await amqp.connect(URL);
  const pub = await conn.createConfirmChannel();
  const sub = await subConn.createChannel();
  const group = `raw-${randomUUID().slice(0, 8)}`;
  const queue = `${EXCHANGE}.${group}`;
  queues.push(queue);
  await pub.assertExchange(EXCHANGE, 'topic', { durable: true });
  await sub.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await sub.bindQueue(queue, EXCHANGE, 'bench');
  await sub.prefetch(PREFETCH);
  let received = 0;
  let markDone: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    markDone = resolve;
  });
  if (consume) {
    await sub.consume(queue, (msg) => {
      if (!msg) return;
      JSON.parse(msg.content.toString('utf8'));
      sub.ack(msg);
      if (++received === total) markDone();
    });
  }
  const stop = clock(total);
  await inLanes(total, (seq, n) => publishRaw(pub, 'bench', seq, n));
  if (consume) await done;
  const sample = stop();
  await Promise.all([conn.close(), subConn.close()]);
  return sample;
}

/** The adapter alone (no bus): publish the same encoded messages, JSON-parse and ack on receive. */
async function transportRound(total: number): Promise<Sample> {
  const group = `tr-${randomUUID().slice(0, 8)}`;
  queues.push(`${EXCHANGE}.${group}`, `${EXCHANGE}.${group}.dead-letter`);
  const consumer = new RabbitMqTransport({ url: URL, exchange: EXCHANGE });
  const publisher = new RabbitMqTransport({ url: URL, exchange: EXCHANGE });
  await Promise.all([consumer.connect(), publisher.connect()]);
  let received = 0;
  let markDone: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    markDone = resolve;
  });
  await consumer.subscribe({ group, channels: ['bench'], prefetch: PREFETCH }, async (d) => {
    JSON.parse(Buffer.from(d.message.body).toString('utf8'));
    await d.ack();
    if (++received === total) markDone();
  });
  const stop = clock(total);
  await inLanes(total, async (seq, n) => {
    const messages = Array.from({ length: n }, (_, i) => {
      const event = createEnvelope(Measured.type, 1, '/bench', { seq: seq + i, sentAt: performance.now(), payload });
      return { channel: 'bench', id: event.id, ...encodeBinary(event, 'cloudEvents_', 'content-type') };
    });
    await publisher.publish(messages);
  });
  await done;
  const sample = stop();
  await Promise.all([publisher.close(), consumer.close()]);
  return sample;
}

async function busSetup(expected: number, onEvent: (sentAt: number) => void) {
  const group = `bus-${randomUUID().slice(0, 8)}`;
  queues.push(`${EXCHANGE}.${group}`, `${EXCHANGE}.${group}.dead-letter`);
  const consumer = createEventBus({ transport: new RabbitMqTransport({ url: URL, exchange: EXCHANGE }), source: '/bench' });
  let received = 0;
  let markDone: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    markDone = resolve;
  });
  consumer.handle(Measured, { group, concurrency: PREFETCH }, (event) => {
    onEvent(event.data.sentAt);
    if (++received === expected) markDone();
  });
  await consumer.start();
  const publisher = createEventBus({ transport: new RabbitMqTransport({ url: URL, exchange: EXCHANGE }), source: '/bench' });
  await publisher.transport.connect();
  return { consumer, publisher, done };
}

const batch = (seq: number, n: number) =>
  Array.from({ length: n }, (_, i) => ({ contract: Measured, data: { seq: seq + i, sentAt: performance.now(), payload } }));

async function busRound(total: number, consume: boolean): Promise<Sample> {
  const { consumer, publisher, done } = await busSetup(total, () => {});
  if (!consume) await consumer.stop();
  const stop = clock(total);
  await inLanes(total, async (seq, n) => {
    await publisher.publishBatch(batch(seq, n));
  });
  if (consume) await done;
  const sample = stop();
  await Promise.all([publisher.stop(), consume ? consumer.stop() : undefined]);
  return sample;
}

async function latency(total: number, ratePerSecond: number): Promise<{ p50: number; p99: number }> {
  const samples: number[] = [];
  const { consumer, publisher, done } = await busSetup(total, (sentAt) => samples.push(performance.now() - sentAt));
  const started = performance.now();
  const sends: Promise<unknown>[] = [];
  for (let seq = 0; seq < total; seq++) {
    const due = started + (seq * 1000) / ratePerSecond;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    sends.push(publisher.publish(Measured, { seq, sentAt: performance.now(), payload }));
  }
  await Promise.all(sends);
  await done;
  await Promise.all([publisher.stop(), consumer.stop()]);
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99) };
}

/** Delete the queues made so far (and the exchanges at the end), so no round pays for the last one's backlog. */
async function cleanup(exchanges = true): Promise<void> {
  const conn = await amqp.connect(URL);
  const ch = await conn.createChannel();
  for (const q of queues.splice(0)) await ch.deleteQueue(q);
  if (exchanges) {
    await ch.deleteExchange(EXCHANGE);
    await ch.deleteExchange(`${EXCHANGE}.dead-letter`);
  }
  await conn.close();
}

const dropQueues = () => cleanup(false);
try {
  await rawRound(2_000, true); // warm-up: connections, JIT, quorum queue creation
  await busRound(2_000, true);
  await dropQueues();
  const e2e = await rotatingRounds(
    [
      { name: 'raw', run: () => rawRound(TOTAL, true), after: dropQueues },
      { name: 'bus', run: () => busRound(TOTAL, true), after: dropQueues },
      { name: 'adapter', run: () => transportRound(TOTAL), after: dropQueues },
    ],
    ROUNDS,
  );
  // A publish-only round leaves its events queued: each is dropped before the next round.
  const pubOnly = await rotatingRounds(
    [
      { name: 'raw publish', run: () => rawRound(TOTAL, false), after: dropQueues },
      { name: 'bus publish', run: () => busRound(TOTAL, false), after: dropQueues },
    ],
    ROUNDS,
  );
  const lat = await latency(3_000, 500);
  const row = (measure: string, path: Sample[], baseline: Sample[]) => {
    const s = summary(path, baseline);
    const raw = summary(baseline, baseline);
    return {
      measure,
      'raw amqplib events/s': Math.round(raw.medianRate),
      'bus events/s': Math.round(s.medianRate),
      'bus ÷ raw (median of rounds)': s.ratio,
      'CPU µs/event raw / bus': `${raw.cpuPerEvent.toFixed(1)} / ${s.cpuPerEvent.toFixed(1)}`,
    };
  };
  const rows = [
    row('end to end (publish → handler → ack)', e2e.bus, e2e.raw),
    row('end to end, the adapter alone (no bus)', e2e.adapter, e2e.raw),
    row('publish with confirms (group queue bound)', pubOnly['bus publish'], pubOnly['raw publish']),
  ];
  const md = table(rows);
  const latencyRow = table([{ 'paced rate': '500 events/s', events: 3_000, 'p50 ms': lat.p50, 'p99 ms': lat.p99 }]);
  const perRound = (xs: Sample[]) => summary(xs, xs).perRound;
  writeSection(
    'rabbitmq',
    `## RabbitMQ (amqplib 2, quorum queues, confirms on)

1 KB events, ${TOTAL.toLocaleString('en-US')} per run, ${LANES} publishing lanes of batches of ${BATCH}, prefetch ${PREFETCH}, ${ROUNDS} rounds, each running every path back to back in an order that rotates; a ratio is taken within a round and the table gives the median of the per-round ratios (the noise between rounds, mostly the broker's fsyncs, is larger than the difference measured). CPU is this process's, publisher and consumer together (the broker's is not counted): the steadier measure of what the bus adds. The bus side is \`bus.publishBatch\` → confirm channel → quorum queue → decode → zod validation → handler → ack; the raw side is amqplib publishing the same 1 KB body and CloudEvents headers on a confirm channel into a quorum queue, JSON-parsing and acking each message. Latency is the publish call → handler start, paced. Targets: bus ÷ raw ≥ 0.9 end to end, ≥ 10,000 events/s published with confirms. Reproduce: \`EVENTBUS_RABBITMQ_URL=amqp://… pnpm bench rabbitmq\`.

${md}

${latencyRow}

Every round (events/s), to show the noise of a shared 2-core machine: end to end raw ${perRound(e2e.raw)}, bus ${perRound(e2e.bus)}, adapter alone ${perRound(e2e.adapter)}; publish raw ${perRound(pubOnly['raw publish'])}, bus ${perRound(pubOnly['bus publish'])}. Broker: ${process.env.BENCH_BROKER_NOTE ?? redact(URL)}.`,
  );
} finally {
  await cleanup().catch((e: unknown) => console.error('cleanup failed', e));
}
