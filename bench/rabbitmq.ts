// RabbitMQ end to end (publish → quorum queue → handler → ack), confirms on, prefetch 500: the raw
// amqplib client with plain JSON (the ceiling), with our CloudEvents binary headers and with a
// structured CloudEvent body, the adapter alone, the bus in binary and structured mode, and
// message-queue-toolkit on a confirm channel with the same prefetch.
import { randomUUID } from 'node:crypto';
import { AbstractAmqpTopicConsumer, AbstractAmqpTopicPublisher, AmqpConnectionManager, AmqpConsumerErrorResolver } from '@message-queue-toolkit/amqp';
import { createEnvelope, createEventBus, type EncodedEvent, encodeBinary, encodeStructured, silentLogger } from '@org/eventbus';
import { RabbitMqTransport } from '@org/eventbus-rabbitmq';
import amqp, { type ConfirmChannel, type Options } from 'amqplib';
import { type BenchPath, data, measured, readStructured, runBench, Schema, type Setup, structuredBatch } from './lib/harness.js';
import { type MqtMessage, MqtSchema, mqtHandlers, mqtMessage, mqtOptions, quietDependencies } from './lib/mqt.js';

const AMQP_URL = process.env.EVENTBUS_RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const PREFETCH = 500;
const EXCHANGE = `bench-${randomUUID().slice(0, 8)}`;
const Measured = measured('bench.rabbitmq.measured');
const QUORUM = { durable: true, arguments: { 'x-queue-type': 'quorum' } };
const queues: string[] = [];
const exchanges = new Set([EXCHANGE, `${EXCHANGE}.dead-letter`]);

type Wire = 'plain' | 'binary' | 'structured';
type WireMode = 'binary' | 'structured';
function rawMessage(seq: number, wire: Wire): { body: Buffer; options: Options.Publish } {
  const value = Schema.parse(data(seq));
  if (wire === 'plain') return { body: Buffer.from(JSON.stringify(value)), options: { persistent: true, contentType: 'application/json' } };
  const event = createEnvelope(Measured.type, 1, '/bench', value);
  const encoded: EncodedEvent = wire === 'binary' ? encodeBinary(event, 'cloudEvents_', 'content-type') : encodeStructured(event);
  const { 'content-type': contentType, ...headers } = encoded.headers;
  // A view, not a copy: the adapter hands amqplib the encoded body as it is.
  return { body: Buffer.from(encoded.body.buffer, encoded.body.byteOffset, encoded.body.byteLength), options: { persistent: true, contentType, messageId: event.id, headers } };
}

/** Raw amqplib: a confirm channel on one connection, a consumer with prefetch on another. */
const raw =
  (wire: Wire): Setup =>
  async (onEvent) => {
    const [pubConn, subConn] = await Promise.all([amqp.connect(AMQP_URL), amqp.connect(AMQP_URL)]);
    const pub: ConfirmChannel = await pubConn.createConfirmChannel();
    const sub = await subConn.createChannel();
    const queue = `${EXCHANGE}.raw-${randomUUID().slice(0, 8)}`;
    queues.push(queue);
    await pub.assertExchange(EXCHANGE, 'topic', { durable: true });
    await sub.assertQueue(queue, QUORUM);
    await sub.bindQueue(queue, EXCHANGE, 'bench');
    await sub.prefetch(PREFETCH);
    await sub.consume(queue, (msg) => {
      if (!msg) return;
      const body = JSON.parse(msg.content.toString('utf8'));
      onEvent(Schema.parse(wire === 'plain' ? body : wire === 'binary' ? body : body.data).sentAt);
      sub.ack(msg);
    });
    return {
      send: (seq, n) =>
        Promise.all(
          Array.from({ length: n }, (_, i) => {
            const { body, options } = rawMessage(seq + i, wire);
            return new Promise<void>((resolve, reject) => pub.publish(EXCHANGE, 'bench', body, options, (e) => (e ? reject(e) : resolve())));
          }),
        ).then(() => {}),
      close: async () => void (await Promise.all([pubConn.close(), subConn.close()])),
    };
  };

const transport = (wireMode?: WireMode) => new RabbitMqTransport({ url: AMQP_URL, exchange: EXCHANGE, ...(wireMode ? { wireMode } : {}) });
const group = (label: string) => {
  const name = `${label}-${randomUUID().slice(0, 8)}`;
  queues.push(`${EXCHANGE}.${name}`, `${EXCHANGE}.${name}.dead-letter`);
  return name;
};

/** The adapter alone: structured messages encoded as core would, JSON + zod on receive, ack. */
const adapterAlone: Setup = async (onEvent) => {
  const consumer = transport();
  const publisher = transport();
  await Promise.all([consumer.connect(), publisher.connect()]);
  await consumer.subscribe({ group: group('tr'), channels: [Measured.channel], prefetch: PREFETCH }, async (d) => {
    onEvent(readStructured(d.message.body));
    await d.ack();
  });
  return {
    send: (seq, n) => publisher.publish(structuredBatch(Measured.channel, Measured.type, seq, n)),
    close: async () => void (await Promise.all([publisher.close(), consumer.close()])),
  };
};

/** The bus in the adapter's `wireMode`: its binary binding or structured mode (the default). */
const bus =
  (mode: WireMode): Setup =>
  async (onEvent) => {
    const make = () => transport(mode);
    const consumer = createEventBus({ transport: make(), source: '/bench', logger: silentLogger });
    consumer.handle(Measured, { group: group('bus'), concurrency: PREFETCH }, (event) => onEvent(event.data.sentAt));
    await consumer.start();
    const publisher = createEventBus({ transport: make(), source: '/bench', logger: silentLogger });
    await publisher.transport.connect();
    return {
      send: async (seq, n) => {
        if (n === 1) await publisher.publish(Measured, data(seq));
        else await publisher.publishBatch(Array.from({ length: n }, (_, i) => ({ contract: Measured, data: data(seq + i) })));
      },
      close: async () => void (await Promise.all([publisher.stop(), consumer.stop()])),
    };
  };

/** MQT's topic publisher on a confirm channel: it publishes synchronously, the lane waits for the confirms. */
class ConfirmedPublisher extends AbstractAmqpTopicPublisher<MqtMessage> {
  confirms: ConfirmChannel | undefined;
  protected override async createMissingEntities(): Promise<void> {
    await super.createMissingEntities();
    this.confirms = await this.connection?.createConfirmChannel();
  }
  protected override publishInternal(message: Buffer, options: { routingKey: string; publishOptions?: Options.Publish }): void {
    this.confirms?.publish(EXCHANGE, options.routingKey, message, { persistent: true, ...options.publishOptions });
  }
}
/** MQT's topic consumer with a prefetch (it sets none of its own). */
class PrefetchConsumer extends AbstractAmqpTopicConsumer<MqtMessage, undefined> {
  protected override async createMissingEntities(): Promise<void> {
    await super.createMissingEntities();
    await this.channel.prefetch(PREFETCH);
  }
}

const mqt: Setup = async (onEvent) => {
  const url = new URL(AMQP_URL);
  const config = { hostname: url.hostname, port: Number(url.port || 5672), username: decodeURIComponent(url.username), password: decodeURIComponent(url.password), vhost: '', useTls: false };
  const [pubManager, subManager] = [new AmqpConnectionManager(config, quietDependencies.logger), new AmqpConnectionManager(config, quietDependencies.logger)];
  await Promise.all([pubManager.init(), subManager.init()]);
  const queueName = `${EXCHANGE}.mqt-${randomUUID().slice(0, 8)}`;
  queues.push(queueName);
  const consumer = new PrefetchConsumer(
    { ...quietDependencies, amqpConnectionManager: subManager, consumerErrorResolver: new AmqpConsumerErrorResolver() },
    { ...mqtOptions, handlers: mqtHandlers<undefined>(onEvent), creationConfig: { exchange: EXCHANGE, queueName, topicPattern: 'bench', queueOptions: QUORUM } },
    undefined,
  );
  await consumer.start();
  const publisher = new ConfirmedPublisher({ ...quietDependencies, amqpConnectionManager: pubManager }, { ...mqtOptions, exchange: EXCHANGE, messageSchemas: [MqtSchema] });
  await publisher.init();
  return {
    send: async (seq, n) => {
      for (let i = 0; i < n; i++) publisher.publish(mqtMessage(seq + i), { routingKey: 'bench' });
      await publisher.confirms?.waitForConfirms();
    },
    close: async () => {
      await publisher.close();
      await consumer.close();
      await Promise.all([pubManager.close(), subManager.close()]);
    },
  };
};

/** Delete the queues made so far, so no round pays for the last one's backlog. */
async function dropQueues(): Promise<void> {
  const conn = await amqp.connect(AMQP_URL);
  const ch = await conn.createChannel();
  for (const q of queues.splice(0)) await ch.deleteQueue(q);
  await conn.close();
}

const path = (name: string, setup: Setup): BenchPath => ({ name, setup, after: dropQueues });
const paths = [
  path('raw amqplib, plain JSON', raw('plain')),
  path('raw amqplib, CloudEvents binary headers', raw('binary')),
  path('raw amqplib, structured CloudEvent body', raw('structured')),
  path('RabbitMqTransport alone, structured', adapterAlone),
  path('bus, binary mode', bus('binary')),
  path('bus, structured mode', bus('structured')),
  path('message-queue-toolkit (confirm channel, prefetch 500)', mqt),
];
try {
  await runBench({
    section: 'rabbitmq',
    title: 'RabbitMQ (amqplib 2, quorum queue, confirms, prefetch 500)',
    intro:
      'Every path publishes on a confirm channel (a lane waits for every confirm of its batch) into a quorum queue bound to a topic exchange and consumes with prefetch 500 and one ack per message. The raw client JSON-parses and zod-validates what it receives; the bus and MQT do so themselves. MQT (@message-queue-toolkit/amqp 23) creates a plain channel and no prefetch: the bench subclasses its topic publisher to publish on a confirm channel and its consumer to set the prefetch, so it carries the same guarantees. Reproduce: `EVENTBUS_RABBITMQ_URL=amqp://… pnpm bench rabbitmq`.',
    paths,
    load: { total: Number(process.env.BENCH_EVENTS ?? 20_000), lanes: 4, batch: 500 },
    rounds: Number(process.env.BENCH_ROUNDS ?? 3),
    latency: { rate: 200, total: Number(process.env.BENCH_LATENCY_EVENTS ?? 1_500), paths: [paths[0]!, paths[4]!, paths[5]!, paths[6]!] },
  });
} finally {
  const conn = await amqp.connect(AMQP_URL);
  const ch = await conn.createChannel();
  for (const q of queues.splice(0)) await ch.deleteQueue(q).catch(() => {});
  for (const e of exchanges) await ch.deleteExchange(e).catch(() => {});
  await conn.close().catch(() => {});
}
