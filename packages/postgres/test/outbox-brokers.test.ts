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
