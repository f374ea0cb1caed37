import { randomUUID } from 'node:crypto';
import { brokerUrlFromEnv, createSpy, type Spy } from '@org/eventbus/testing';
import { afterAll } from 'vitest';
import { connectSse, type Ec2Service, type Ec2ServiceOptions, type Notification, startEc2Service } from '../src/index.js';

/** A short id for channel, group and exchange names, so reruns and parallel files never collide. */
export const runId = () => randomUUID().slice(0, 8);

export interface Broker {
  name: string;
  url: string;
  /** Transport options that isolate one test (a private RabbitMQ exchange, a NATS/SQS/Kafka name prefix). */
  options: (id: string) => Record<string, unknown>;
  /** Set when CI=true and the broker's variable is missing: the block fails with this, never skips. */
  missing?: string;
  /** Deletes what a service started with these options declared on the broker (run after the file). */
  teardown?: (options: Ec2ServiceOptions) => Promise<void>;
}

const ci = process.env.CI === 'true' || process.env.CI === '1';

/** Kafka group timings short enough for tests: a SIGKILLed worker's partitions move within ~3 s. */
const KAFKA_FAST_GROUP = { sessionTimeoutMs: 3000, heartbeatIntervalMs: 300, rebalanceTimeoutMs: 5000, maxWaitTimeMs: 200 };

/** A broker read from `variable`: present, missing under CI (a failure), or skipped with one line saying how to enable it. */
function fromEnv(brokers: Broker[], name: string, variable: string, make: (value: string) => Omit<Broker, 'name'>): void {
  const value = brokerUrlFromEnv(variable);
  if (value) {
    const broker: Broker = { name, ...make(value) };
    brokers.push(broker);
    // Left on the shared broker, every test's queues, topics and streams would pile up run after run.
    afterAll(async () => {
      for (const options of handedOut.get(broker) ?? []) await broker.teardown?.(options);
      handedOut.delete(broker);
    }, 60_000);
  }
  else if (ci) brokers.push({ name, url: '', options: () => ({}), missing: `CI=true but ${variable} is not set: the ${name} broker is required` });
  else console.info(`[eventbus] skipping EC2 end-to-end tests on ${name}: set ${variable} to enable them`);
}

/**
 * Every transport the service runs on: memory, RabbitMQ, NATS, Kafka (their URL variables) and
 * SQS/SNS (EVENTBUS_SQS_ENDPOINT, else a fauxqs emulator started in this process). Each test gets its
 * own broker-side names through `options(id)`, so reruns and parallel files never see each other's events.
 */
export async function landedBrokers(): Promise<Broker[]> {
  const brokers: Broker[] = [{ name: 'memory', url: 'memory://', options: () => ({}) }];
  fromEnv(brokers, 'rabbitmq', 'EVENTBUS_RABBITMQ_URL', (url) => ({
    url,
    options: (id) => ({ exchange: `ec2-test-${id}`, queueType: 'classic' }),
    teardown: async (options) => {
      const { deleteTopology } = await import('@org/eventbus-rabbitmq');
      const prefix = options.groupPrefix ?? 'ec2';
      // The service's groups (service.ts, handlers.ts): the launcher, the notifier and this API instance's own.
      const groups = [`${prefix}.launcher`, `${prefix}.notifier`, `${prefix}.api.${options.instanceId ?? ''}`];
      await deleteTopology(url, { exchange: String(options.transportOptions?.exchange), groups });
    },
  }));
  // A short ack wait: a SIGKILLed worker's launch is redelivered in seconds (a live handler keeps
  // its delivery with in-progress acks, so nothing else is redelivered early).
  fromEnv(brokers, 'nats', 'EVENTBUS_NATS_URL', (url) => ({
    url,
    options: (id) => ({ prefix: `ec2t${id}`, ackWaitMs: 3000 }),
    teardown: async (options) => {
      const { deleteTopology } = await import('@org/eventbus-nats');
      await deleteTopology({ servers: url, prefix: String(options.transportOptions?.prefix) });
    },
  }));
  fromEnv(brokers, 'kafka', 'EVENTBUS_KAFKA_BROKERS', (value) => ({
    url: value.startsWith('kafka://') ? value : `kafka://${value}`,
    // One partition per topic: the service needs no parallelism here, and each test creates fewer partitions.
    options: (id) => ({ topicPrefix: `ec2t-${id}.`, partitions: 1, ...KAFKA_FAST_GROUP }),
    teardown: async (options) => {
      const { deleteTopology } = await import('@org/eventbus-kafka');
      const brokers = value.replace(/^kafka:\/\//, '').split(',');
      await deleteTopology({ brokers, topicPrefix: String(options.transportOptions?.topicPrefix) });
    },
  }));
  const sqs = await sqsEndpoint();
  brokers.push({
    name: 'sqs',
    // EVENTBUS_SQS_ENDPOINT=aws: real AWS, with the default credential chain and AWS_REGION.
    url: sqs === 'aws' ? 'sqs://' : `sqs://us-east-1?endpoint=${encodeURIComponent(sqs)}`,
    // Short visibility: a SIGKILLed worker's message comes back in seconds; short polls close quickly.
    options: (id) => ({ prefix: `ec2t-${id}-`, visibilityTimeoutSeconds: 3, waitTimeSeconds: 1 }),
  });
  return brokers;
}

/** EVENTBUS_SQS_ENDPOINT (a URL, or "aws"), else fauxqs on a free loopback port in this process (stopped after the file). */
async function sqsEndpoint(): Promise<string> {
  const configured = brokerUrlFromEnv('EVENTBUS_SQS_ENDPOINT');
  if (configured) return configured;
  const { startFauxqs } = await import('fauxqs');
  const server = await startFauxqs({ port: 0, host: 'localhost', logger: false });
  afterAll(() => server.stop());
  return `http://127.0.0.1:${server.port}`;
}

/** The options each broker's tests were given, for its teardown after the file. */
const handedOut = new Map<Broker, Ec2ServiceOptions[]>();

/** Memory brokers are per name: give each test its own, as each RabbitMQ test gets its own exchange. */
export function serviceOptions(broker: Broker, id: string, extra: Ec2ServiceOptions = {}): Ec2ServiceOptions {
  const options: Ec2ServiceOptions = {
    url: broker.name === 'memory' ? `memory://ec2-${id}` : broker.url,
    transportOptions: broker.options(id),
    groupPrefix: `ec2-${id}`,
    instanceId: `test-${id}`,
    port: 0,
    ...extra,
  };
  if (broker.teardown) handedOut.set(broker, [...(handedOut.get(broker) ?? []), options]);
  return options;
}

export interface Running {
  service: Ec2Service;
  base: string;
  notifications: Spy<Notification>;
  stop(): Promise<void>;
}

/** Start the service and an SSE listener on it (resolved once the stream is open). */
export async function startWithStream(options: Ec2ServiceOptions): Promise<Running> {
  const service = await startEc2Service(options);
  const base = service.url ?? '';
  const notifications = createSpy<Notification>();
  const sse = connectSse(`${base}v1/notifications`, (e) => {
    if (e.event === 'notification') notifications.fn(JSON.parse(e.data) as Notification);
  });
  await sse.opened;
  return {
    service,
    base,
    notifications,
    stop: async () => {
      sse.close();
      await service.stop();
    },
  };
}

export const LAUNCH = { userId: 'u-test', imageId: 'ami-0123456789abcdef0', instanceType: 't3.micro' };

export async function postLaunch(base: string, body: unknown = LAUNCH) {
  const started = performance.now();
  const res = await fetch(`${base}v1/ec2/instances`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const ms = performance.now() - started;
  return { status: res.status, ms, body: (await res.json()) as Record<string, unknown> & { requestId: string; statusUrl: string } };
}
