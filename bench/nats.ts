// NATS JetStream end to end: every publish ack awaited (Nats-Msg-Id set), a durable pull consumer
// with explicit acks and 100 in flight. Raw @nats-io/jetstream with plain JSON (the ceiling) and
// with our ce- headers, the adapter alone, the bus in binary and structured mode.
import { randomBytes, randomUUID } from 'node:crypto';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, headers as natsHeaders } from '@nats-io/transport-node';
import { createEnvelope, createEventBus, encodeBinary, silentLogger } from '@org/eventbus';
import { NatsTransport } from '@org/eventbus-nats';
import { type BenchPath, data, measured, readStructured, runBench, Schema, type Setup, structuredBatch } from './lib/harness.js';

const NATS_URL = process.env.EVENTBUS_NATS_URL ?? 'nats://127.0.0.1:4222';
const SERVER = NATS_URL.replace(/^nats:\/\//, '');
const PREFETCH = 100;
const RUN = randomBytes(3).toString('hex');
const TYPE = 'bench.nats.measured';
let seq = 0;
const nextPrefix = (label: string) => `bench-${label}-${RUN}-${++seq}`;

const raw =
  (wire: 'plain' | 'binary'): Setup =>
  async (onEvent) => {
    const [pubConn, subConn] = await Promise.all([connect({ servers: SERVER }), connect({ servers: SERVER })]);
    const prefix = nextPrefix(`raw-${wire}`);
    const stream = prefix.toUpperCase().replace(/[^A-Z0-9_-]/g, '_');
    const jsm = await jetstreamManager(subConn);
    await jsm.streams.add({ name: stream, subjects: [`${prefix}.>`] });
    await jsm.consumers.add(stream, { durable_name: 'raw', ack_policy: AckPolicy.Explicit, filter_subject: `${prefix}.events` });
    const messages = await (await jetstream(subConn).consumers.get(stream, 'raw')).consume({ max_messages: PREFETCH });
    void (async () => {
      for await (const m of messages) {
        onEvent(Schema.parse(m.json()).sentAt);
        m.ack();
      }
    })();
    const js = jetstream(pubConn);
    const publishOne = (n: number) => {
      const value = Schema.parse(data(n));
      if (wire === 'plain') return js.publish(`${prefix}.events`, JSON.stringify(value), { msgID: randomUUID() });
      const event = createEnvelope(TYPE, 1, '/bench', value);
      const encoded = encodeBinary(event, 'ce-');
      const h = natsHeaders();
      for (const name in encoded.headers) h.set(name, encoded.headers[name]!);
      return js.publish(`${prefix}.events`, encoded.body, { msgID: event.id, headers: h });
    };
    return {
      send: (start, n) => Promise.all(Array.from({ length: n }, (_, i) => publishOne(start + i))).then(() => {}),
      close: async () => {
        await messages.close();
        await jsm.streams.delete(stream);
        await Promise.all([pubConn.close(), subConn.close()]);
      },
    };
  };

const transport = (prefix: string, wireMode?: 'binary' | 'structured') => new NatsTransport({ servers: NATS_URL, prefix, ...(wireMode ? { wireMode } : {}) });

/** The adapter alone: structured messages encoded as core would, JSON + zod on receive, ack. */
const adapterAlone: Setup = async (onEvent) => {
  const prefix = nextPrefix('tr');
  const consumer = transport(prefix);
  const publisher = transport(prefix);
  await Promise.all([consumer.connect(), publisher.connect()]);
  const sub = await consumer.subscribe({ group: 'bench', channels: ['events'], prefetch: PREFETCH }, async (d) => {
    onEvent(readStructured(d.message.body));
    await d.ack();
  });
  return {
    send: (start, n) => publisher.publish(structuredBatch('events', TYPE, start, n)),
    close: async () => {
      await sub.close();
      await Promise.all([publisher.close(), consumer.close()]);
    },
  };
};

const bus =
  (mode: 'binary' | 'structured'): Setup =>
  async (onEvent) => {
    const prefix = nextPrefix(`bus-${mode}`);
    const contract = measured(TYPE, 'events');
    const make = () => transport(prefix, mode);
    const consumer = createEventBus({ transport: make(), source: '/bench', logger: silentLogger });
    consumer.handle(contract, { group: 'bench', concurrency: PREFETCH }, (event) => onEvent(event.data.sentAt));
    await consumer.start();
    const publisher = createEventBus({ transport: make(), source: '/bench', logger: silentLogger });
    await publisher.transport.connect();
    return {
      send: async (start, n) => {
        if (n === 1) await publisher.publish(contract, data(start));
        else await publisher.publishBatch(Array.from({ length: n }, (_, i) => ({ contract, data: data(start + i) })));
      },
      close: async () => void (await Promise.all([publisher.stop(), consumer.stop()])),
    };
  };

/** Delete this run's streams (the adapter's are named from its prefix), so no round pays for the last one's. */
async function dropStreams(): Promise<void> {
  const nc = await connect({ servers: SERVER });
  const jsm = await jetstreamManager(nc);
  const ours = (text: string) => text.toLowerCase().includes(RUN);
  for await (const info of jsm.streams.list()) {
    if (ours(info.config.name) || info.config.subjects?.some(ours)) await jsm.streams.delete(info.config.name).catch(() => {});
  }
  await nc.close();
}

const path = (name: string, setup: Setup): BenchPath => ({ name, setup, after: dropStreams });
const paths = [
  path('raw @nats-io/jetstream, plain JSON', raw('plain')),
  path('raw @nats-io/jetstream, CloudEvents ce- headers', raw('binary')),
  path('NatsTransport alone, structured', adapterAlone),
  path('bus, binary mode', bus('binary')),
  path('bus, structured mode', bus('structured')),
];
await runBench({
  section: 'nats',
  title: 'NATS JetStream (@nats-io/jetstream 3)',
  intro:
    'Every publish sets Nats-Msg-Id and awaits its ack; one durable pull consumer with explicit acks and 100 in flight. The raw client uses `consume({ max_messages: 100 })`, the adapter its own credit-based pull. Reproduce: `EVENTBUS_NATS_URL=nats://… pnpm bench nats`.',
  paths,
  load: { total: Number(process.env.BENCH_EVENTS ?? 10_000), lanes: 8, batch: 50 },
  rounds: Number(process.env.BENCH_ROUNDS ?? 3),
  latency: { rate: 200, total: Number(process.env.BENCH_LATENCY_EVENTS ?? 1_500), paths: [paths[0]!, paths[3]!, paths[4]!] },
});
process.exit(0);
