import { randomUUID } from 'node:crypto';
import { createEnvelope, encodeBinary, type OutgoingMessage, silentLogger } from '@org/eventbus';
import { deleteTopology as deleteExchangeTopology, RabbitMqTransport, type RabbitMqTransportOptions } from '../src/index.js';

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
    // Tests that expect warnings pass a logger of their own; the rest keep the output readable.
    const transport = new RabbitMqTransport({ url: this.url(), exchange: this.exchange, logger: silentLogger, ...options });
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

/** Delete what tests declared on the shared broker, for every exchange they used. */
export async function deleteTopology(url: string, exchanges: readonly string[], groups: Iterable<string>): Promise<void> {
  const all = [...groups];
  for (const exchange of exchanges) await deleteExchangeTopology(url, { exchange, groups: all });
}
