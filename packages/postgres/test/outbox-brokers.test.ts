import { createEventBus, MemoryTransport, silentLogger, type Transport, ValidationError } from '@org/eventbus';
import { KafkaTransport } from '@org/eventbus-kafka';
import { deleteTopology, RabbitMqTransport } from '@org/eventbus-rabbitmq';
import { createSpy, describeBroker } from '@org/eventbus/testing';
import { afterEach, expect, it } from 'vitest';
import { createOutbox, createRelay } from '../src/index.js';
import { contracts, Db, runId, URL_VARIABLE } from './helpers.js';

interface Broker {
  transport: Transport;
  cleanup(groups: string[]): Promise<void>;
}

/** The outbox's promise on one broker: committed → delivered once; rolled back → never; invalid → nothing written. */
function outboxOn(name: string, variable: string, broker: (url: string) => Broker) {
  describeBroker(`postgres outbox → ${name}`, { variable }, (brokerUrl) => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
    });

    it('relays a committed publish (pg client and query function), never a rolled-back one; bad data writes nothing', async () => {
      const pgUrl = process.env[URL_VARIABLE];
      if (!pgUrl) throw new Error(`${URL_VARIABLE} is required for the outbox tests`);
      const db = new Db(pgUrl);
      cleanups.push(() => db.cleanup());
      await db.migrate();
      const id = runId('o').replace(/_/g, '-');
      const { OrderPlaced } = contracts(id);
      const group = `pg-outbox-${id}`;
      const { transport, cleanup } = broker(brokerUrl());
      cleanups.push(() => cleanup([group]));
      const bus = createEventBus({ transport, source: '/tests/postgres', logger: silentLogger });
      cleanups.push(() => bus.stop());
      const handled = createSpy<number>();
      const handledAt = new Map<number, number>();
      bus.handle(OrderPlaced, { group }, (event) => {
        handledAt.set(event.data.n, Date.now());
        handled.fn(event.data.n);
      });
      await bus.start();
      const outbox = createOutbox({ bus, tables: db.tables });
      const relay = createRelay({ pool: db.pool, transport, tables: db.tables, pollIntervalMs: 200, logger: silentLogger });
      cleanups.push(() => relay.stop());
      await relay.start();

      await expect(
        db.transaction(async (client) => {
          await outbox.publish(client, OrderPlaced, { orderId: 'rolled-back', n: 0 });
          throw new Error('the request failed after the write');
        }),
      ).rejects.toThrow('the request failed');
      await expect(
        // @ts-expect-error bad data on purpose: n must be a whole number
        db.transaction((client) => outbox.publish(client, OrderPlaced, { orderId: 'bad', n: 'one' })),
      ).rejects.toThrow(ValidationError);
      expect(await db.count('outbox')).toBe(0);

      await db.transaction((client) => outbox.publish(client, OrderPlaced, { orderId: 'a', n: 1 }, { key: 'a' }));
      await db.transaction((client) =>
        outbox.publish((text, params) => client.query(text, [...params]), OrderPlaced, { orderId: 'b', n: 2 }),
      );
      await handled.waitForCount(2, { timeoutMs: 20_000 });
      await handled.expectNone(undefined, 1_000);
      expect([...handled.calls].sort()).toEqual([1, 2]);
      expect(await relay.backlog()).toEqual({ rows: 0, oldestAgeMs: 0 });

      // A scheduled event is relayed at once and held by the group until its time, never early.
      const deliverAt = Date.now() + 2_000;
      await db.transaction((client) => outbox.publish(client, OrderPlaced, { orderId: 'later', n: 3 }, { deliverAt }));
      await expect.poll(() => relay.backlog().then((b) => b.rows), { timeout: 10_000 }).toBe(0);
      await handled.waitFor((calls) => calls.includes(3), { timeoutMs: 30_000, description: 'the scheduled event handled' });
      expect(handledAt.get(3)!, 'not before its time (5 ms clock tolerance)').toBeGreaterThanOrEqual(deliverAt - 5);
    });

    it('one statement: publishWith writes the row and its event together on a pool, a retry that wrote nothing publishes nothing', async () => {
      const pgUrl = process.env[URL_VARIABLE];
      if (!pgUrl) throw new Error(`${URL_VARIABLE} is required for the outbox tests`);
      const db = new Db(pgUrl);
      cleanups.push(() => db.cleanup());
      await db.migrate();
      const orders = `"${db.schema}".orders`;
      await db.pool.query(`CREATE TABLE ${orders} (id text PRIMARY KEY, total int NOT NULL)`);
      const id = runId('w').replace(/_/g, '-');
      const { OrderPlaced } = contracts(id);
      const group = `pg-with-${id}`;
      const { transport, cleanup } = broker(brokerUrl());
      cleanups.push(() => cleanup([group]));
      const bus = createEventBus({ transport, source: '/tests/postgres', logger: silentLogger });
      cleanups.push(() => bus.stop());
      const handled = createSpy<string>();
      bus.handle(OrderPlaced, { group }, (event) => handled.fn(`${event.data.orderId}:${event.data.n}`));
      await bus.start();
      const outbox = createOutbox({ bus, tables: db.tables });
      const insertOrder = (orderId: string, total: number | null) => ({
        text: `INSERT INTO ${orders} (id, total) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING id`,
        values: [orderId, total],
      });

      const first = await outbox.publishWith(db.pool, insertOrder('a', 5), OrderPlaced, { orderId: 'a', n: 1 }, { key: 'a' });
      expect(first.rows).toEqual([{ id: 'a' }]);
      expect(first.event?.data).toEqual({ orderId: 'a', n: 1 });
      const retry = await outbox.publishWith(db.pool, insertOrder('a', 5), OrderPlaced, { orderId: 'a', n: 2 });
      expect(retry).toEqual({ rows: [], event: undefined });
      // The statement fails (NOT NULL): neither the order nor the event is written.
      await expect(outbox.publishWith(db.pool, insertOrder('b', null), OrderPlaced, { orderId: 'b', n: 3 })).rejects.toThrow(/null value/);
      // Bad data rejects before anything reaches the database.
      // @ts-expect-error bad data on purpose: n must be a whole number
      await expect(outbox.publishWith(db.pool, insertOrder('c', 1), OrderPlaced, { orderId: 'c', n: 'x' })).rejects.toThrow(ValidationError);
      await expect(outbox.publishWith(db.pool, { text: `INSERT INTO ${orders} (id, total) VALUES ('d', 1)` }, OrderPlaced, { orderId: 'd', n: 4 })).rejects.toThrow(/RETURNING/);
      expect((await db.pool.query(`SELECT id FROM ${orders} ORDER BY id`)).rows).toEqual([{ id: 'a' }]);

      // prepare: the same row composed by hand into a statement of several CTEs.
      const row = outbox.prepare(OrderPlaced, { orderId: 'e', n: 5 });
      await db.pool.query(
        `WITH r AS (INSERT INTO ${orders} (id, total) VALUES ($1, $2) RETURNING id), o AS (${row.insert(3, 'EXISTS (SELECT 1 FROM r)')}) SELECT id FROM r`,
        ['e', 9, ...row.values],
      );
      expect(() => row.insert(0)).toThrow(/firstParam/);

      const relay = createRelay({ pool: db.pool, transport, tables: db.tables, pollIntervalMs: 200, logger: silentLogger });
      cleanups.push(() => relay.stop());
      await relay.start();
      await handled.waitForCount(2, { timeoutMs: 20_000 });
      await handled.expectNone(undefined, 1_000);
      expect([...handled.calls].sort()).toEqual(['a:1', 'e:5']);
    });
  });
}

outboxOn('memory', URL_VARIABLE, () => ({
  transport: new MemoryTransport({ broker: runId('outbox') }),
  cleanup: async () => {},
}));

outboxOn('rabbitmq', 'EVENTBUS_RABBITMQ_URL', (url) => {
  const exchange = runId('pg-outbox');
  return {
    transport: new RabbitMqTransport({ url, exchange, logger: silentLogger }),
    cleanup: (groups) => deleteTopology(url, { exchange, groups }),
  };
});

outboxOn('kafka', 'EVENTBUS_KAFKA_BROKERS', (brokers) => ({
  transport: new KafkaTransport({
    brokers: brokers.replace(/^kafka:\/\//, '').split(','),
    sessionTimeoutMs: 3000,
    heartbeatIntervalMs: 300,
    rebalanceTimeoutMs: 5000,
    maxWaitTimeMs: 200,
  }),
  cleanup: async () => {},
}));
