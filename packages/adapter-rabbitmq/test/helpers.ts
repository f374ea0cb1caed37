import { randomUUID } from 'node:crypto';
import { encodeBinary, createEnvelope, type OutgoingMessage } from '@org/eventbus';
import amqp from 'amqplib';
import { RabbitMqTransport, type RabbitMqTransportOptions } from '../src/index.js';

export const URL_VARIABLE = 'EVENTBUS_RABBITMQ_URL';

/** Unique per test run, so reruns and parallel workers never share a queue. */
export function runId(prefix = 't'): string {
  return `${prefix}-${process.pid}-${randomUUID().slice(0, 8)}`;
}

export function cloudEventMessage(channel: string, data: unknown, type = 'test.event'): OutgoingMessage {
  const event = createEnvelope(type, 1, '/tests/rabbitmq', data);
  const { headers, body } = encodeBinary(event, 'cloudEvents_', 'content-type');
  return { channel, id: event.id, headers, body };
}

export function json(body: Uint8Array): unknown {
  return JSON.parse(Buffer.from(body).toString('utf8'));
}

/** Transports made here are closed, and their queues deleted, by `cleanup()`. */
export class Fixture {
  readonly exchange = runId('eventbus-test');
  private readonly transports: RabbitMqTransport[] = [];
  private readonly groups = new Set<string>();

  constructor(private readonly url: () => string) {}

  transport(options: Partial<RabbitMqTransportOptions> = {}): RabbitMqTransport {
    const transport = new RabbitMqTransport({ url: this.url(), exchange: this.exchange, ...options });
    this.transports.push(transport);
    return transport;
  }

  group(name = 'g'): string {
    const group = runId(name);
    this.groups.add(group);
    return group;
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.transports.map((t) => t.close().catch(() => {})));
    await deleteTopology(this.url(), [this.exchange, `${this.exchange}-quorum`, `${this.exchange}-classic`], this.groups);
  }
}

/** Every retry bucket a group may have (16 ms … 2^31 ms). */
const RETRY_BUCKETS = Array.from({ length: 28 }, (_, i) => 16 * 2 ** i);

/**
 * Deletes what tests declared on the shared broker (group, dead-letter and retry queues, exchanges):
 * quorum queues left behind weigh on a small broker.
 */
export async function deleteTopology(url: string, exchanges: readonly string[], groups: Iterable<string>): Promise<void> {
  const conn = await amqp.connect(url);
  let ch = await conn.createChannel();
  const attempt = async (op: (c: typeof ch) => Promise<unknown>) => {
    try {
      await op(ch);
    } catch {
      ch = await conn.createChannel(); // a refused delete closes the channel
    }
  };
  for (const exchange of exchanges) {
    for (const group of groups) {
      for (const suffix of ['', '.dead-letter', ...RETRY_BUCKETS.map((b) => `.retry.${b}`)]) {
        await attempt((c) => c.deleteQueue(`${exchange}.${group}${suffix}`));
      }
    }
    await attempt((c) => c.deleteExchange(exchange));
    await attempt((c) => c.deleteExchange(`${exchange}.dead-letter`));
  }
  await conn.close();
}
