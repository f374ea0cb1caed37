// Delayed publish per broker: `pnpm bench delays [memory|rabbitmq|kafka|nats|sqs …]` (default: all five).
// Each broker runs the code path of the conformance scenario `delay-never-early` (measureDelayedDelivery):
// EVENTS events with delays spread over 1–3 s, published BENCH_DELAY_LANES at a time in shuffled order,
// each handled once; then lateness (handler start − scheduled time) p50/p99/max, and how many ran early
// (must be 0). Writes the `delays` section of docs/benchmarks.md.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEventBus, defineEvent, MemoryTransport, silentLogger, type Transport } from '@org/eventbus';
import { type DelayedDeliveryReport, formatDelayReport, measureDelayedDelivery } from '@org/eventbus/testing';
import { z } from 'zod';
import { type Row, table, writeSection } from './lib/report.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000);
const LANES = Number(process.env.BENCH_DELAY_LANES ?? 50);
const MIN_DELAY_MS = 1_000;
const MAX_DELAY_MS = 3_000;
const RUN = randomBytes(3).toString('hex');

const BROKERS = ['memory', 'rabbitmq', 'kafka', 'nats', 'sqs'] as const;
type Broker = (typeof BROKERS)[number];

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** The SQS emulator (fauxqs) in a child process, unless EVENTBUS_SQS_ENDPOINT names one. */
async function sqsEndpoint(): Promise<string> {
  if (process.env.EVENTBUS_SQS_ENDPOINT) return process.env.EVENTBUS_SQS_ENDPOINT;
  const port = await freePort();
  const cli = join(dirname(fileURLToPath(import.meta.resolve('fauxqs'))), 'cli.js');
  const child: ChildProcess = spawn(process.execPath, [cli], { env: { ...process.env, FAUXQS_PORT: String(port), FAUXQS_LOGGER: 'false' }, stdio: 'ignore' });
  process.once('exit', () => child.kill());
  const endpoint = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (await fetch(`${endpoint}/health`).then((r) => r.ok, () => false)) return endpoint;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill();
  throw new Error('fauxqs did not start');
}

/** A factory of transports for one broker (publisher and consumer each get their own), or why it cannot run. */
async function transportsFor(broker: Broker): Promise<(() => Transport | Promise<Transport>) | string> {
  const prefix = `bench-delays-${RUN}`;
  switch (broker) {
    case 'memory':
      return () => new MemoryTransport({ broker: prefix });
    case 'rabbitmq': {
      const { RabbitMqTransport } = await import('@org/eventbus-rabbitmq');
      const url = process.env.EVENTBUS_RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
      return () => new RabbitMqTransport({ url, exchange: prefix, logger: silentLogger });
    }
    case 'kafka': {
      const { KafkaTransport } = await import('@org/eventbus-kafka');
      const brokers = (process.env.EVENTBUS_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
      return () => new KafkaTransport({ brokers, topicPrefix: `${prefix}.` });
    }
    case 'nats': {
      const { NatsTransport } = await import('@org/eventbus-nats');
      const servers = process.env.EVENTBUS_NATS_URL ?? 'nats://127.0.0.1:4222';
      return () => new NatsTransport({ servers, prefix: prefix.replace(/-/g, '') });
    }
    case 'sqs': {
      const { SqsTransport } = await import('@org/eventbus-sqs');
      const endpoint = await sqsEndpoint();
      const credentials = { accessKeyId: 'bench', secretAccessKey: 'bench' };
      return () => new SqsTransport({ endpoint, credentials, prefix: `${prefix}-`, waitTimeSeconds: 1 });
    }
  }
}

const Due = defineEvent({ type: 'bench.delays.due', description: 'A delayed bench event.', schema: z.object({ n: z.number().int() }) });

async function measure(broker: Broker): Promise<DelayedDeliveryReport | string> {
  const factory = await transportsFor(broker);
  if (typeof factory === 'string') return factory;
  const consumer = createEventBus({ transport: await factory(), source: '/bench', logger: silentLogger });
  const publisher = createEventBus({ transport: await factory(), source: '/bench', logger: silentLogger });
  try {
    // Declare the group before anything is published (some brokers reject or drop an unrouted publish).
    return await measureDelayedDelivery(publisher, consumer, Due, `bench-delays-${RUN}`, {
      count: EVENTS,
      minDelayMs: MIN_DELAY_MS,
      maxDelayMs: MAX_DELAY_MS,
      publishConcurrency: LANES,
      graceMs: 60_000,
    });
  } catch (error) {
    return `failed: ${error instanceof Error ? error.message : String(error)}`;
  } finally {
    await Promise.allSettled([publisher.stop(), consumer.stop()]);
  }
}

const asked = process.argv.slice(3).filter((a): a is Broker => (BROKERS as readonly string[]).includes(a));
const rows: Row[] = [];
for (const broker of asked.length > 0 ? asked : BROKERS) {
  const report = await measure(broker);
  if (typeof report === 'string') {
    console.log(`[delays] ${broker}: ${report}`);
    rows.push({ broker, events: EVENTS, 'publishes/s': '—', 'lateness p50 ms': '—', 'p99 ms': '—', 'max ms': '—', early: '—', note: report });
    continue;
  }
  console.log(formatDelayReport(report));
  rows.push({
    broker,
    events: report.count,
    'publishes/s': report.publishPerSecond,
    'lateness p50 ms': report.latenessMs.p50,
    'p99 ms': report.latenessMs.p99,
    'max ms': report.latenessMs.max,
    early: report.early,
    note: report.attempts.join(',') === '1' ? '' : `attempts seen: ${report.attempts.join(', ')}`,
  });
}

writeSection(
  'delays',
  `## Delays

\`pnpm bench delays [broker …]\` (bench/delays.ts): ${EVENTS} events per broker, each published with
\`deliverAt\` spread evenly over ${MIN_DELAY_MS / 1000}–${MAX_DELAY_MS / 1000} s (shuffled), ${LANES} publishes in
flight; one consumer group. Lateness = handler start − scheduled time; "early" counts events handled more
than 5 ms before their time (must be 0). The same code path as the conformance scenario
\`delay-never-early\` (\`measureDelayedDelivery\`). How each broker holds an event: [delays.md](delays.md).

${table(rows)}`,
);

// Client sockets (the SQS SDK keeps its agent alive) and the emulator child would hold the process open.
process.exit(0);
