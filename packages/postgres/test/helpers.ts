import { randomBytes } from 'node:crypto';
import { createEnvelope, defineEvent, encodeEvent, type OutgoingMessage, type Transport, type WireEncoding } from '@org/eventbus';
import { createSpy, type Spy } from '@org/eventbus/testing';
import pg from 'pg';
import { z } from 'zod';
import { migrate } from '../src/index.js';

export const URL_VARIABLE = 'EVENTBUS_POSTGRES_URL';

/** Contracts on channels of their own per run, so Kafka topics and RabbitMQ bindings never mix between runs. */
export function contracts(id: string) {
  return {
    OrderPlaced: defineEvent({
      type: 'test.order.placed',
      version: 1,
      channel: `pg-orders-${id}`,
      description: 'An order was placed (postgres tests).',
      schema: z.object({ orderId: z.string(), n: z.number().int() }),
    }),
    OrderShipped: defineEvent({
      type: 'test.order.shipped',
      version: 1,
      channel: `pg-shipments-${id}`,
      description: 'An order was shipped (postgres tests).',
      schema: z.object({ orderId: z.string() }),
    }),
  };
}

export const runId = (prefix = 't') => `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;

/** A schema of its own per test, so test files run in parallel without sharing rows or NOTIFY channels. */
export class Db {
  readonly schema = runId('eb');
  readonly tables = { outbox: `${this.schema}.outbox`, inbox: `${this.schema}.inbox` };
  readonly pool: pg.Pool;

  constructor(url: string, max = 10) {
    // The test database is shared by every engineer on this machine, and a flushed commit costs ~100 ms
    // on its disk: tests do not crash the database, so they need no flush to see committed rows.
    this.pool = new pg.Pool({ connectionString: url, max, options: '-c synchronous_commit=off' });
    this.pool.on('error', () => {});
  }

  async migrate(): Promise<void> {
    await migrate(this.pool, { tables: this.tables });
  }

  /** Run `work` in a transaction on a client of the pool: COMMIT when it resolves, ROLLBACK when it throws. */
  async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    } finally {
      client.release();
    }
  }

  async count(table: 'outbox' | 'inbox' | string): Promise<number> {
    const name = table === 'outbox' || table === 'inbox' ? this.tables[table] : table;
    const { rows } = await this.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${name}`);
    return rows[0]!.n;
  }

  async cleanup(): Promise<void> {
    await this.pool.query(`DROP SCHEMA IF EXISTS "${this.schema}" CASCADE`).catch(() => {});
    await this.pool.end();
  }
}

/** An encoded test message, as a bus would write it, for relay tests that need no contracts. */
export function encodedMessage(channel: string, n: number, key: string | undefined, encoding: WireEncoding): OutgoingMessage {
  const event = createEnvelope('test.relay', 1, '/tests/postgres', { n }, key === undefined ? {} : { key });
  const { headers, body } = encodeEvent(event, encoding);
  return { channel, id: event.id, headers, body, ...(key === undefined ? {} : { key }) };
}

export function decodedN(body: Uint8Array): number {
  return (JSON.parse(Buffer.from(body).toString('utf8')) as { n: number }).n;
}

/** A real transport whose publishes are recorded (relay name, key, n) before they go on. */
export function recording(transport: Transport, relay: string, seen: Spy<{ relay: string; key: string | undefined; n: number }>, jitterMs = 0): Transport {
  return Object.assign(Object.create(transport) as Transport, {
    async publish(messages: readonly OutgoingMessage[]) {
      for (const m of messages) seen.fn({ relay, key: m.key, n: decodedN(m.body) });
      // A little random delay before the broker call lets two relays' batches overlap.
      if (jitterMs > 0) await new Promise((resolve) => setTimeout(resolve, Math.random() * jitterMs));
      await transport.publish(messages);
    },
  });
}

/** Subscribe a group that acks everything and records each delivery's `n`. */
export async function collect(transport: Transport, group: string, channel: string): Promise<{ seen: Spy<number>; close(): Promise<void> }> {
  const seen = createSpy<number>();
  const subscription = await transport.subscribe({ group, channels: [channel], prefetch: 100 }, async (delivery) => {
    seen.fn(decodedN(delivery.message.body));
    await delivery.ack();
  });
  return { seen, close: () => subscription.close() };
}
