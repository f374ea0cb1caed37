// SNS → SQS end to end on the fauxqs emulator (a child process, so it does not share the measured
// event loop), ONE publish call per event with 16 calls in flight, 4 long polls of 10 and batched
// deletes: the raw AWS SDK with plain JSON (SNS Publish, the ceiling) and with our structured
// CloudEvent + the adapter's metadata, the adapter alone, the bus (structured, its default here),
// and message-queue-toolkit on its SNS→SQS path (AbstractSnsPublisher, AbstractSnsSqsConsumer).
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateTopicCommand, PublishCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { STSClient } from '@aws-sdk/client-sts';
import { AbstractSnsPublisher, AbstractSnsSqsConsumer, type SNSSQSConsumerDependencies, type SNSSQSConsumerOptions } from '@message-queue-toolkit/sns';
import { SqsConsumerErrorResolver } from '@message-queue-toolkit/sqs';
import { createEnvelope, createEventBus, silentLogger } from '@org/eventbus';
import { SqsTransport } from '@org/eventbus-sqs';
import { type BenchPath, data, measured, readStructured, runBench, Schema, type Setup, structuredBatch } from './lib/harness.js';
import { type MqtMessage, MqtSchema, mqtHandlers, mqtMessage, mqtOptions, quietDependencies } from './lib/mqt.js';

const RUN = randomBytes(3).toString('hex');
const credentials = { accessKeyId: 'bench', secretAccessKey: 'bench' };
const POLLERS = 4;
let seq = 0;
const next = (label: string) => `bench-${label}-${RUN}-${++seq}`;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function startEmulator(): Promise<{ endpoint: string; stop(): void }> {
  if (process.env.EVENTBUS_SQS_ENDPOINT) return { endpoint: process.env.EVENTBUS_SQS_ENDPOINT, stop() {} };
  const port = await freePort();
  const cli = join(dirname(fileURLToPath(import.meta.resolve('fauxqs'))), 'cli.js');
  const child: ChildProcess = spawn(process.execPath, [cli], {
    env: { ...process.env, FAUXQS_PORT: String(port), FAUXQS_LOGGER: 'false' },
    stdio: 'ignore',
  });
  const endpoint = `http://127.0.0.1:${port}`;
  // Never outlive the benchmark, however it ends.
  process.once('exit', () => child.kill());
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`${endpoint}/health`).then((r) => r.ok, () => false);
    if (ok) return { endpoint, stop: () => child.kill() };
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill();
  throw new Error('fauxqs did not start');
}

const emulator = await startEmulator();
const endpoint = emulator.endpoint;

/** Raw AWS SDK: SNS Publish per event to a topic with a raw-delivery SQS subscription; 4 long polls; batched deletes. */
const raw =
  (wire: 'plain' | 'cloudevents'): Setup =>
  async (onEvent) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
    const config = { region: 'us-east-1', endpoint, credentials, requestHandler: { httpAgent: agent } };
    const sns = new SNSClient(config);
    const sqs = new SQSClient(config);
    const name = next(`raw-${wire}`);
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: name }));
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
    const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
    await sns.send(new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: attrs.Attributes?.QueueArn, Attributes: { RawMessageDelivery: 'true' } }));
    let closed = false;
    const poll = async () => {
      while (!closed) {
        const out = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageAttributeNames: ['All'], MessageSystemAttributeNames: ['ApproximateReceiveCount'] }),
        );
        const messages = out.Messages ?? [];
        if (messages.length === 0) continue;
        for (const m of messages) {
          const body = JSON.parse(m.Body ?? '{}');
          onEvent(Schema.parse(wire === 'plain' ? body : body.data).sentAt);
        }
        void sqs.send(new DeleteMessageBatchCommand({ QueueUrl, Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) }));
      }
    };
    const polls = Array.from({ length: POLLERS }, poll);
    const publishOne = async (n: number) => {
      const value = Schema.parse(data(n));
      if (wire === 'plain') return void (await sns.send(new PublishCommand({ TopicArn, Message: JSON.stringify(value) })));
      const event = createEnvelope('bench.sqs.measured', 1, '/bench', value);
      await sns.send(
        new PublishCommand({
          TopicArn,
          Message: JSON.stringify(event),
          MessageAttributes: {
            'content-type': { DataType: 'String', StringValue: 'application/cloudevents+json' },
            'eventbus-channel': { DataType: 'String', StringValue: 'bench.sqs.measured' },
          },
        }),
      );
    };
    return {
      send: (start, n) => Promise.all(Array.from({ length: n }, (_, i) => publishOne(start + i))).then(() => {}),
      close: async () => {
        closed = true;
        await Promise.all(polls);
        sns.destroy();
        sqs.destroy();
      },
    };
  };

const transport = () => new SqsTransport({ endpoint, credentials, prefix: `bench-${RUN}-`, waitTimeSeconds: 1 });

const adapterAlone: Setup = async (onEvent) => {
  const channel = next('tr');
  const consumer = transport();
  const publisher = transport();
  const sub = await consumer.subscribe({ group: `g-${channel}`, channels: [channel], prefetch: 40 }, async (d) => {
    onEvent(readStructured(d.message.body));
    await d.ack();
  });
  return {
    send: (start, n) => publisher.publish(structuredBatch(channel, 'bench.sqs.measured', start, n)),
    close: async () => {
      await sub.close();
      await Promise.all([publisher.close(), consumer.close()]);
    },
  };
};

const bus: Setup = async (onEvent) => {
  const channel = next('bus');
  const contract = measured('bench.sqs.measured', channel);
  const consumer = createEventBus({ transport: transport(), source: '/bench', logger: silentLogger });
  // 40 in flight = 4 long polls of 10, as the raw consumer runs.
  consumer.handle(contract, { group: `g-${channel}`, concurrency: 40 }, (event) => onEvent(event.data.sentAt));
  await consumer.start();
  const publisher = createEventBus({ transport: transport(), source: '/bench', logger: silentLogger });
  return {
    send: async (start, n) => {
      if (n === 1) await publisher.publish(contract, data(start));
      else await publisher.publishBatch(Array.from({ length: n }, (_, i) => ({ contract, data: data(start + i) })));
    },
    close: async () => void (await Promise.all([publisher.stop(), consumer.stop()])),
  };
};

class MqtPublisher extends AbstractSnsPublisher<MqtMessage> {}
class MqtConsumer extends AbstractSnsSqsConsumer<MqtMessage, undefined> {
  constructor(dependencies: SNSSQSConsumerDependencies, options: SNSSQSConsumerOptions<MqtMessage, undefined, undefined>) {
    super(dependencies, options, undefined);
  }
}

/** message-queue-toolkit on its SNS→SQS path: one publish() per event (SNS Publish); 4 sqs-consumers of 10 (= 4 long polls of 10). */
const mqt: Setup = async (onEvent) => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const config = { region: 'us-east-1', endpoint, credentials, requestHandler: { httpAgent: agent } };
  const snsClient = new SNSClient(config);
  const sqsClient = new SQSClient(config);
  const stsClient = new STSClient(config);
  const name = next('mqt');
  const consumer = new MqtConsumer(
    { ...quietDependencies, snsClient, sqsClient, stsClient, consumerErrorResolver: new SqsConsumerErrorResolver() },
    {
      ...mqtOptions,
      handlers: mqtHandlers<undefined>(onEvent),
      creationConfig: { topic: { Name: name }, queue: { QueueName: name } },
      subscriptionConfig: { updateAttributesIfExists: false },
      concurrentConsumersAmount: POLLERS,
      consumerOverrides: { batchSize: 10, waitTimeSeconds: 1 },
    },
  );
  await consumer.start();
  const publisher = new MqtPublisher(
    { ...quietDependencies, snsClient, stsClient },
    { ...mqtOptions, messageSchemas: [MqtSchema], creationConfig: { topic: { Name: name } } },
  );
  await publisher.init();
  return {
    send: (start, n) => Promise.all(Array.from({ length: n }, (_, i) => publisher.publish(mqtMessage(start + i)))).then(() => {}),
    close: async () => {
      await consumer.close();
      publisher.close();
      for (const client of [snsClient, sqsClient, stsClient]) client.destroy();
    },
  };
};

const paths: BenchPath[] = [
  { name: 'raw AWS SDK, plain JSON (SNS Publish per event)', setup: raw('plain') },
  { name: 'raw AWS SDK, structured CloudEvent + channel attribute', setup: raw('cloudevents') },
  { name: 'SqsTransport alone, structured', setup: adapterAlone },
  { name: 'bus, structured (the SQS default)', setup: bus },
  { name: 'message-queue-toolkit SNS→SQS (publish per event, 4 consumers of 10)', setup: mqt },
];
try {
  await runBench({
    section: 'sqs',
    title: 'SQS/SNS (fauxqs emulator, one publish per event)',
    intro: `fauxqs ${process.env.EVENTBUS_SQS_ENDPOINT ? 'at EVENTBUS_SQS_ENDPOINT' : 'in a child process'}; a fresh topic and queue per run; ONE publish call per event, 16 calls in flight; 4 long polls of 10 (the bus: handler concurrency 40), deletes batched and not awaited by the next receive. The raw client and message-queue-toolkit publish with SNS Publish, one call per event; the adapter sends a lone publish as SNS Publish and coalesces single publishes that arrive while a call to the same topic is in flight into one PublishBatch (≤ 10). Reproduce: \`pnpm bench sqs\`.`,
    paths,
    load: { total: Number(process.env.BENCH_EVENTS ?? 3_000), lanes: 16, batch: 1 },
    rounds: Number(process.env.BENCH_ROUNDS ?? 3),
    latency: { rate: 200, total: Number(process.env.BENCH_LATENCY_EVENTS ?? 1_500), paths: [paths[0]!, paths[3]!] },
  });
} finally {
  emulator.stop();
}
process.exit(0);
