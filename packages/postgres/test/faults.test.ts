import { createEventBus, type Middleware, silentLogger } from '@org/eventbus';
import { deleteTopology, RabbitMqTransport } from '@org/eventbus-rabbitmq';
import { createSpy, describeBroker, startTcpProxy } from '@org/eventbus/testing';
import { afterEach, expect, it } from 'vitest';
import { createOutbox, createRelay, inbox, transactionOf } from '../src/index.js';
import { spawnChild } from './child.js';
import { contracts, Db, runId, URL_VARIABLE } from './helpers.js';

const pgUrl = () => {
  const url = process.env[URL_VARIABLE];
  if (!url) throw new Error(`${URL_VARIABLE} is required for the postgres fault tests`);
  return url;
};

describeBroker('postgres outbox and inbox on RabbitMQ: faults', { variable: 'EVENTBUS_RABBITMQ_URL' }, (amqpUrl) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  });

  /** A migrated schema, contracts on channels of this test, a RabbitMQ exchange and group of its own. */
  async function setup() {
    const db = new Db(pgUrl());
    cleanups.push(() => db.cleanup());
    await db.migrate();
    const effects = `${db.schema}.effects`;
    await db.pool.query(`CREATE TABLE ${effects} (order_id text NOT NULL)`);
    const id = runId('f').replace(/_/g, '-');
    const exchange = `pg-faults-${id}`;
    const group = `pg-faults-${id}`;
    cleanups.push(() => deleteTopology(amqpUrl(), { exchange, groups: [group] }));
    const rabbit = (url = amqpUrl()) => {
      const t = new RabbitMqTransport({ url, exchange, logger: silentLogger, connectTimeoutMs: 1_000, publishTimeoutMs: 2_000 });
      cleanups.push(() => t.close());
      return t;
    };
    return { db, effects, id, exchange, group, rabbit, ...contracts(id) };
  }

  /** A consuming bus whose handler records an effect in the inbox transaction; spies on runs and deliveries. */
  async function worker(s: Awaited<ReturnType<typeof setup>>) {
    const bus = createEventBus({ transport: s.rabbit(), source: '/tests/postgres', logger: silentLogger });
    cleanups.push(() => bus.stop());
    const deliveries = createSpy<string>();
    const runs = createSpy<string>();
    const seen: Middleware = (next) => async (ctx) => {
      deliveries.fn(ctx.event.id);
      await next(ctx);
    };
    const outbox = createOutbox({ bus, tables: s.db.tables });
    bus.handle(s.OrderPlaced, { group: s.group, middleware: [seen, inbox({ pool: s.db.pool, outbox })] }, async (event, ctx) => {
      runs.fn(event.id);
      await transactionOf(ctx).query(`INSERT INTO ${s.effects} (order_id) VALUES ($1)`, [event.data.orderId]);
    });
    await bus.start();
    return { bus, outbox, deliveries, runs };
  }

  it('broker unreachable: rows wait (backlog reported), then go once it heals', async () => {
    const s = await setup();
    const { outbox, runs } = await worker(s);
    const upstream = new URL(amqpUrl());
    const proxy = await startTcpProxy({ host: upstream.hostname, port: Number(upstream.port || 5672) });
    cleanups.push(() => proxy.close());
    proxy.refuse(true);
    const throughProxy = new URL(amqpUrl());
    throughProxy.host = `${proxy.host}:${proxy.port}`;
    const failures = createSpy<Error>();
    const relay = createRelay({
      pool: s.db.pool,
      transport: s.rabbit(throughProxy.toString()),
      tables: s.db.tables,
      retryDelayMs: 100,
      pollIntervalMs: 200,
      logger: silentLogger,
      onError: failures.fn,
    });
    cleanups.push(() => relay.stop());
    await relay.start();
    const total = 20;
    await s.db.transaction(async (client) => {
      for (let n = 0; n < total; n++) await outbox.publish(client, s.OrderPlaced, { orderId: `o${n}`, n });
    });
    await failures.waitForCount(2, { timeoutMs: 15_000, description: 'failed batches reported while the broker is unreachable' });
    const waiting = await relay.backlog();
    expect(waiting.rows).toBe(total);
    expect(waiting.oldestAgeMs).toBeGreaterThan(0);
    expect(runs.count).toBe(0);

    proxy.refuse(false);
    await runs.waitForCount(total, { timeoutMs: 30_000 });
    await expect.poll(() => relay.backlog(), { timeout: 10_000 }).toEqual({ rows: 0, oldestAgeMs: 0 });
    await runs.expectNone(undefined, 1_000);
    expect(new Set(runs.calls).size).toBe(total);
  });

  it('a relay SIGKILLed after the broker confirmed its batch: nothing is lost, the repeats are absorbed by the inbox', async () => {
    const s = await setup();
    const { outbox, deliveries, runs } = await worker(s);
    const total = 50;
    const batchSize = 20;
    await s.db.transaction(async (client) => {
      for (let n = 0; n < total; n++) await outbox.publish(client, s.OrderPlaced, { orderId: `o${n}`, n }, { key: `k${n % 5}` });
    });
    const child = spawnChild('./child-relay.ts', { pgUrl: pgUrl(), amqpUrl: amqpUrl(), exchange: s.exchange, tables: s.db.tables, batchSize });
    cleanups.push(() => child.kill());
    await child.said.waitFor((said) => said.includes('confirmed'), { timeoutMs: 20_000, description: 'the child relay confirmed a batch' });
    await child.kill();
    // Its batch was confirmed on the broker but never deleted: every row still waits.
    expect(await s.db.count('outbox')).toBe(total);

    const relay = createRelay({ pool: s.db.pool, transport: s.rabbit(), tables: s.db.tables, pollIntervalMs: 200, logger: silentLogger });
    cleanups.push(() => relay.stop());
    await relay.start();
    await deliveries.waitForCount(total + batchSize, { timeoutMs: 30_000, description: 'every event, and the killed batch again' });
    await runs.waitForCount(total, { timeoutMs: 10_000 });
    await runs.expectNone(undefined, 1_000);
    expect(new Set(runs.calls).size).toBe(total);
    expect(await s.db.count(s.effects)).toBe(total);
    expect(await relay.backlog()).toEqual({ rows: 0, oldestAgeMs: 0 });
  });

  it('a worker SIGKILLed after its inbox transaction committed, before the ack: the redelivery does not run the handler', async () => {
    const s = await setup();
    const child = spawnChild('./child-worker.ts', {
      pgUrl: pgUrl(),
      amqpUrl: amqpUrl(),
      exchange: s.exchange,
      tables: s.db.tables,
      id: s.id,
      group: s.group,
      effects: s.effects,
    });
    cleanups.push(() => child.kill());
    await child.said.waitFor((said) => said.includes('ready'), { timeoutMs: 20_000, description: 'the child worker subscribed' });
    const publisher = createEventBus({ transport: s.rabbit(), source: '/tests/postgres', logger: silentLogger });
    cleanups.push(() => publisher.stop());
    const event = await publisher.publish(s.OrderPlaced, { orderId: 'once', n: 1 });
    await child.said.waitFor((said) => said.includes('committed'), { timeoutMs: 20_000, description: 'the child committed' });
    await child.kill();
    expect(await s.db.count(s.effects)).toBe(1);

    const { deliveries, runs } = await worker(s);
    await deliveries.waitFor((ids) => ids.includes(event.id), { timeoutMs: 30_000, description: 'the redelivery' });
    await runs.expectNone(undefined, 1_000);
    expect(await s.db.count(s.effects)).toBe(1);
    expect(await s.db.count('inbox')).toBe(1);
  });
});
