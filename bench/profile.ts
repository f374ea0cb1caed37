// Where a bus's per-event CPU goes: `PROFILE_BROKER=nats|kafka|rabbitmq pnpm bench profile`. One bus
// path (1 KB validated events, lanes of batches, publisher and consumer in one process, the adapter's
// default wire mode) runs once to warm up, then once under the inspector's CPU profiler; self time is
// summed per package (node_modules name, our packages, node internals, GC, native) and printed as
// shares with µs per event. Used for docs/decisions/per-event-profile.md. On Kafka,
// PROFILE_PATH=raw (raw @platformatic/kafka, plain JSON), raw-structured (the raw client sending the
// adapter's structured CloudEvent) or transport (the adapter alone)
// profiles bench/kafka.ts's paths instead of the bus, to see what the adapter adds to the raw client.
import { randomBytes } from 'node:crypto';
import { createEventBus, silentLogger, type Transport } from '@org/eventbus';
import { KafkaTransport } from '@org/eventbus-kafka';
import { NatsTransport } from '@org/eventbus-nats';
import { RabbitMqTransport } from '@org/eventbus-rabbitmq';
import { data, measured, type Setup, throughput } from './lib/harness.js';
import { Admin } from '@platformatic/kafka';
import { adapterAlone, BROKERS, dropTopics, raw } from './lib/kafka-paths.js';
import { profiled } from './lib/self-time.js';

const BROKER = process.env.PROFILE_BROKER ?? 'nats';
const PATH = process.env.PROFILE_PATH ?? 'bus';
const EVENTS = Number(process.env.BENCH_EVENTS ?? 20_000);
const RUN = randomBytes(3).toString('hex');
let n = 0;

const transports: Record<string, (name: string) => Transport> = {
  nats: (name) => new NatsTransport({ servers: process.env.EVENTBUS_NATS_URL ?? 'nats://127.0.0.1:4222', prefix: name }),
  kafka: () => new KafkaTransport({ brokers: (process.env.EVENTBUS_KAFKA_BROKERS ?? '127.0.0.1:9092').split(','), partitions: 3, sessionTimeoutMs: 6000, heartbeatIntervalMs: 500, maxWaitTimeMs: 100 }),
  rabbitmq: (name) => new RabbitMqTransport({ url: process.env.EVENTBUS_RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672', exchange: name }),
};
const make = transports[BROKER];
if (!make) throw new Error(`PROFILE_BROKER must be one of ${Object.keys(transports).join(', ')}`);

const bus: Setup = async (onEvent) => {
  const name = `profile-${BROKER}-${RUN}-${++n}`;
  const contract = measured(`bench.profile.${BROKER}`, name);
  const consumer = createEventBus({ transport: make(name), source: '/bench', logger: silentLogger });
  consumer.handle(contract, { group: `${name}-g`, concurrency: 100 }, (event) => onEvent(event.data.sentAt));
  await consumer.start();
  const publisher = createEventBus({ transport: make(name), source: '/bench', logger: silentLogger });
  await publisher.transport.connect();
  return {
    send: (seq, count) => publisher.publishBatch(Array.from({ length: count }, (_, i) => ({ contract, data: data(seq + i) }))).then(() => {}),
    close: async () => void (await Promise.all([publisher.stop(), consumer.stop()])),
  };
};

const kafkaPaths: Record<string, Setup> = { raw: raw('plain'), 'raw-structured': raw('structured'), transport: adapterAlone };
if (PATH !== 'bus' && (BROKER !== 'kafka' || !kafkaPaths[PATH])) throw new Error('PROFILE_PATH=raw|raw-structured|transport is for PROFILE_BROKER=kafka');
const setup = PATH === 'bus' ? bus : kafkaPaths[PATH]!;

const load = { total: EVENTS, lanes: 4, batch: 500 };
await throughput(setup, load);
await profiled(EVENTS, () => throughput(setup, load), `${BROKER} ${PATH}`);
if (BROKER === 'kafka') {
  // The bus path's topics (channel, and the group's retry, delay and dead-letter topics) as well as bench/kafka.ts's.
  await dropTopics();
  const admin = new Admin({ clientId: 'bench', bootstrapBrokers: BROKERS });
  const ours = (await admin.listTopics()).filter((t) => t.startsWith(`profile-kafka-${RUN}-`));
  if (ours.length > 0) await admin.deleteTopics({ topics: ours }).catch(() => {});
  await admin.close();
}
process.exit(0);
