import { randomUUID } from 'node:crypto';
import { brokerUrlFromEnv, createSpy, type Spy } from '@org/eventbus/testing';
import { connectSse, type Ec2Service, type Ec2ServiceOptions, type Notification, startEc2Service } from '../src/index.js';

/** A short id for channel, group and exchange names, so reruns and parallel files never collide. */
export const runId = () => randomUUID().slice(0, 8);

export interface Broker {
  name: string;
  url: string;
  /** Transport options that isolate one test (a private RabbitMQ exchange). */
  options: (id: string) => Record<string, unknown>;
}

/**
 * Every transport that has landed: memory always, RabbitMQ and NATS when their URL variable is set and
 * the adapter exports fromUrl. A later adapter joins this list the same way, with the option that gives
 * each test its own channels.
 */
export async function landedBrokers(): Promise<Broker[]> {
  const brokers: Broker[] = [{ name: 'memory', url: 'memory://', options: () => ({}) }];
  const amqp = brokerUrlFromEnv('EVENTBUS_RABBITMQ_URL');
  if (amqp && (await hasFromUrl('@org/eventbus-rabbitmq'))) {
    brokers.push({ name: 'rabbitmq', url: amqp, options: (id) => ({ exchange: `ec2-test-${id}`, queueType: 'classic' }) });
  }
  const nats = brokerUrlFromEnv('EVENTBUS_NATS_URL');
  if (nats && (await hasFromUrl('@org/eventbus-nats'))) {
    brokers.push({ name: 'nats', url: nats, options: (id) => ({ prefix: `ec2t${id}` }) });
  }
  // Kafka joins when its adapter can isolate a test's topics (a topic prefix); today every test run
  // would share the ec2.* topics and a new group could replay another run's launches.
  return brokers;
}

async function hasFromUrl(pkg: string): Promise<boolean> {
  try {
    const mod = (await import(pkg)) as { fromUrl?: unknown };
    return typeof mod.fromUrl === 'function';
  } catch {
    return false;
  }
}

/** Memory brokers are per name: give each test its own, as each RabbitMQ test gets its own exchange. */
export function serviceOptions(broker: Broker, id: string, extra: Ec2ServiceOptions = {}): Ec2ServiceOptions {
  return {
    url: broker.name === 'memory' ? `memory://ec2-${id}` : broker.url,
    transportOptions: broker.options(id),
    groupPrefix: `ec2-${id}`,
    instanceId: `test-${id}`,
    port: 0,
    ...extra,
  };
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
