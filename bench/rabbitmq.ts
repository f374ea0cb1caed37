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

const URL = process.env.EVENTBUS_RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const TOTAL = Number(process.env.BENCH_EVENTS ?? 15_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
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

async function rawRound(total: number, consume: boolean): Promise<number> {
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
  const started = performance.now();
  await inLanes(total, (seq, n) => publishRaw(pub, 'bench', seq, n));
  if (consume) await done;
  const seconds = (performance.now() - started) / 1000;
  await Promise.all([conn.close(), subConn.close()]);
  return total / seconds;
}

/** The adapter alone (no bus): publish the same encoded messages, JSON-parse and ack on receive. */
async function transportRound(total: number): Promise<number> {
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
  const started = performance.now();
  await inLanes(total, async (seq, n) => {
    const messages = Array.from({ length: n }, (_, i) => {
      const event = createEnvelope(Measured.type, 1, '/bench', { seq: seq + i, sentAt: performance.now(), payload });
      return { channel: 'bench', id: event.id, ...encodeBinary(event, 'cloudEvents_', 'content-type') };
    });
    await publisher.publish(messages);
  });
  await done;
  const seconds = (performance.now() - started) / 1000;
  await Promise.all([publisher.close(), consumer.close()]);
  return total / seconds;
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

async function busRound(total: number, consume: boolean): Promise<number> {
  const { consumer, publisher, done } = await busSetup(total, () => {});
  if (!consume) await consumer.stop();
  const started = performance.now();
  await inLanes(total, async (seq, n) => {
    await publisher.publishBatch(batch(seq, n));
  });
  if (consume) await done;
  const seconds = (performance.now() - started) / 1000;
  await Promise.all([publisher.stop(), consume ? consumer.stop() : undefined]);
  return total / seconds;
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

const step = async (label: string, run: () => Promise<number>) => {
  const value = await run();
  console.log(`${label}: ${Math.round(value)} events/s`);
  // A publish-only round leaves its events queued: drop them before the next round.
  await cleanup(false);
  return value;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const e2e = { raw: [] as number[], bus: [] as number[], transport: [] as number[] };
const pubOnly = { raw: [] as number[], bus: [] as number[] };
try {
  await rawRound(2_000, true); // warm-up: connections, JIT, quorum queue creation
  await busRound(2_000, true);
  for (let round = 0; round < ROUNDS; round++) {
    e2e.raw.push(await step('raw end to end', () => rawRound(TOTAL, true)));
    e2e.bus.push(await step('bus end to end', () => busRound(TOTAL, true)));
    e2e.transport.push(await step('adapter end to end', () => transportRound(TOTAL)));
    pubOnly.raw.push(await step('raw publish', () => rawRound(TOTAL, false)));
    pubOnly.bus.push(await step('bus publish', () => busRound(TOTAL, false)));
  }
  const lat = await latency(3_000, 500);
  const rows = [
    { measure: 'end to end (publish → handler → ack), events/s', 'raw amqplib': Math.round(median(e2e.raw)), bus: Math.round(median(e2e.bus)), 'bus ÷ raw': median(e2e.bus) / median(e2e.raw) },
    { measure: 'end to end, the adapter alone (no bus), events/s', 'raw amqplib': Math.round(median(e2e.raw)), bus: Math.round(median(e2e.transport)), 'bus ÷ raw': median(e2e.transport) / median(e2e.raw) },
    { measure: 'publish with confirms (group queue bound), events/s', 'raw amqplib': Math.round(median(pubOnly.raw)), bus: Math.round(median(pubOnly.bus)), 'bus ÷ raw': median(pubOnly.bus) / median(pubOnly.raw) },
  ];
  const md = table(rows);
  const latencyRow = table([{ 'paced rate': '500 events/s', events: 3_000, 'p50 ms': lat.p50, 'p99 ms': lat.p99 }]);
  console.log(`rounds: e2e raw ${e2e.raw.map(Math.round)} bus ${e2e.bus.map(Math.round)} transport ${e2e.transport.map(Math.round)}; publish raw ${pubOnly.raw.map(Math.round)} bus ${pubOnly.bus.map(Math.round)}`);
  writeSection(
    'rabbitmq',
    `## RabbitMQ (amqplib 2, quorum queues, confirms on)

1 KB events, ${TOTAL.toLocaleString('en-US')} per run, ${LANES} publishing lanes of batches of ${BATCH}, prefetch ${PREFETCH}, median of ${ROUNDS} alternating rounds. The bus side is \`bus.publishBatch\` → confirm channel → quorum queue → decode → zod validation → handler → ack; the raw side is amqplib publishing the same 1 KB body and CloudEvents headers on a confirm channel into a quorum queue, JSON-parsing and acking each message. Latency is the publish call → handler start, paced. Targets: bus ÷ raw ≥ 0.9 end to end, ≥ 10,000 events/s published with confirms. Reproduce: \`EVENTBUS_RABBITMQ_URL=amqp://… pnpm bench rabbitmq\`.

${md}

${latencyRow}

Every round (events/s), to show the noise of a shared 2-core machine: end to end raw ${e2e.raw.map(Math.round).join(' / ')}, bus ${e2e.bus.map(Math.round).join(' / ')}, adapter alone ${e2e.transport.map(Math.round).join(' / ')}; publish raw ${pubOnly.raw.map(Math.round).join(' / ')}, bus ${pubOnly.bus.map(Math.round).join(' / ')}. Broker: ${process.env.BENCH_BROKER_NOTE ?? redact(URL)}.`,
  );
} finally {
  await cleanup().catch((e: unknown) => console.error('cleanup failed', e));
}
