// Where a bus's per-event CPU goes: `PROFILE_BROKER=nats|kafka|rabbitmq pnpm bench profile`. One bus
// path (1 KB validated events, lanes of batches, publisher and consumer in one process, the adapter's
// default wire mode) runs once to warm up, then once under the inspector's CPU profiler; self time is
// summed per package (node_modules name, our packages, node internals, GC, native) and printed as
// shares with µs per event. Used for docs/decisions/per-event-profile.md. On Kafka,
// PROFILE_PATH=raw (raw @platformatic/kafka, plain JSON), raw-structured (the raw client sending the
// adapter's structured CloudEvent) or transport (the adapter alone)
// profiles bench/kafka.ts's paths instead of the bus, to see what the adapter adds to the raw client.
import { Session } from 'node:inspector/promises';
import { randomBytes } from 'node:crypto';
import { createEventBus, silentLogger, type Transport } from '@org/eventbus';
import { KafkaTransport } from '@org/eventbus-kafka';
import { NatsTransport } from '@org/eventbus-nats';
import { RabbitMqTransport } from '@org/eventbus-rabbitmq';
import { data, measured, type Setup, throughput } from './lib/harness.js';
import { Admin } from '@platformatic/kafka';
import { adapterAlone, BROKERS, dropTopics, raw } from './lib/kafka-paths.js';

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
const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 200 });
await session.post('Profiler.start');
const cpu = process.cpuUsage();
const sample = await throughput(setup, load);
const used = process.cpuUsage(cpu);
const { profile } = await session.post('Profiler.stop');
session.disconnect();

/** Which package a frame belongs to, from its script URL. */
function owner(url: string, fn: string): string {
  if (fn === '(garbage collector)') return 'garbage collector';
  if (fn === '(program)' || fn === '(idle)') return fn;
  if (!url) return 'native (JSON, UTF-8, Buffer, socket writes)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules)/.exec(url);
  if (pkg) return pkg[1]!;
  const ours = /packages\/([^/]+)\//.exec(url);
  if (ours) return `@org/${ours[1]}`;
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  return 'other';
}

const selfUs = new Map<string, number>();
const ourFunctions = new Map<string, number>();
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const deltas = profile.timeDeltas ?? [];
(profile.samples ?? []).forEach((id, i) => {
  const node = byId.get(id);
  if (!node) return;
  const key = owner(node.callFrame.url, node.callFrame.functionName);
  selfUs.set(key, (selfUs.get(key) ?? 0) + (deltas[i] ?? 0));
  if (!key.startsWith('(') && key !== 'garbage collector') {
    const { functionName, url } = node.callFrame;
    const name = `${key.startsWith('native') ? 'native' : key} ${functionName || '(anonymous)'}${url ? ` (${url.split('/').pop()}:${node.callFrame.lineNumber + 1})` : ''}`;
    ourFunctions.set(name, (ourFunctions.get(name) ?? 0) + (deltas[i] ?? 0));
  }
});
selfUs.delete('(idle)');
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
console.log(`\n${BROKER} ${PATH}: ${EVENTS} events, ${Math.round(sample.rate)} events/s under the profiler, CPU ${((used.user + used.system) / EVENTS).toFixed(1)} µs/event (process.cpuUsage), load ${(await import('node:os')).loadavg()[0]!.toFixed(1)}`);
console.log('| share | µs/event (profiled) | where |\n| --- | --- | --- |');
for (const [key, us] of [...selfUs].sort((a, b) => b[1] - a[1]).slice(0, 14)) {
  console.log(`| ${((100 * us) / total).toFixed(1)}% | ${(us / EVENTS).toFixed(1)} | ${key} |`);
}
console.log('\n| share | function (any package, native builtins) |\n| --- | --- |');
for (const [name, us] of [...ourFunctions].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`| ${((100 * us) / total).toFixed(1)}% | ${name} |`);
if (BROKER === 'kafka') {
  // The bus path's topics (channel, and the group's retry, delay and dead-letter topics) as well as bench/kafka.ts's.
  await dropTopics();
  const admin = new Admin({ clientId: 'bench', bootstrapBrokers: BROKERS });
  const ours = (await admin.listTopics()).filter((t) => t.startsWith(`profile-kafka-${RUN}-`));
  if (ours.length > 0) await admin.deleteTopics({ topics: ours }).catch(() => {});
  await admin.close();
}
process.exit(0);
