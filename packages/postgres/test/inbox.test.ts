import { createEventBus, EventBusError, MemoryTransport, type Middleware, silentLogger } from '@org/eventbus';
import { createSpy, describeBroker } from '@org/eventbus/testing';
import { afterEach, expect, it } from 'vitest';
import { createOutbox, createRelay, inbox, pruneInbox, transactionOf } from '../src/index.js';
import { contracts, Db, runId, URL_VARIABLE } from './helpers.js';

describeBroker('postgres inbox (memory transport)', { variable: URL_VARIABLE }, (url) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  });

  async function setup() {
    const db = new Db(url());
    cleanups.push(() => db.cleanup());
    await db.migrate();
    const effects = `${db.schema}.effects`;
    await db.pool.query(`CREATE TABLE ${effects} (order_id text NOT NULL)`);
    const id = runId('i').replace(/_/g, '-');
    const transport = new MemoryTransport({ broker: `pg-inbox-${id}` });
    const bus = createEventBus({ transport, source: '/tests/postgres', logger: silentLogger });
    cleanups.push(() => bus.stop());
    const outbox = createOutbox({ bus, tables: db.tables });
    const deliveries = createSpy<string>();
    const seen: Middleware = (next) => async (ctx) => {
      deliveries.fn(ctx.event.id);
      await next(ctx);
    };
    const middleware = [seen, inbox({ pool: db.pool, outbox })];
    return { db, effects, bus, outbox, deliveries, middleware, ...contracts(id) };
  }

  it('a handler that writes and then throws: the write and its emit roll back; the retry commits once', async () => {
    const s = await setup();
    const attempts = createSpy<{ attempt: number; effectsBefore: number }>();
    s.bus.handle(
      s.OrderPlaced,
      { group: 'billing', emits: [s.OrderShipped], maxAttempts: 3, backoff: { initialMs: 10, jitter: false }, middleware: s.middleware },
      async (event, ctx) => {
        const { rows } = await s.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${s.effects}`);
        attempts.fn({ attempt: ctx.attempt, effectsBefore: rows[0]!.n });
        await transactionOf(ctx).query(`INSERT INTO ${s.effects} (order_id) VALUES ($1)`, [event.data.orderId]);
        await ctx.emit(s.OrderShipped, { orderId: event.data.orderId });
        if (ctx.attempt === 1) throw new Error('the payment API timed out after the write');
      },
    );
    const shipped = createSpy<string>();
    s.bus.handle(s.OrderShipped, { group: 'shipping' }, (event) => shipped.fn(event.data.orderId));
    await s.bus.start();
    await s.bus.publish(s.OrderPlaced, { orderId: 'o1', n: 1 });
    await attempts.waitForCount(2);
    // The second attempt saw no row of the first: it was rolled back with the inbox row and the emit.
    expect(attempts.calls).toEqual([
      { attempt: 1, effectsBefore: 0 },
      { attempt: 2, effectsBefore: 0 },
    ]);
    await expect.poll(() => s.db.count('inbox')).toBe(1);
    expect(await s.db.count(s.effects)).toBe(1);
    // The emit waits in the outbox (committed with the handler's write), not on the broker.
    expect(await s.db.count('outbox')).toBe(1);
    expect(shipped.count).toBe(0);
    const relay = createRelay({ pool: s.db.pool, transport: s.bus.transport, tables: s.db.tables, logger: silentLogger });
    expect(await relay.drain()).toBe(1);
    await shipped.waitForCount(1);
    await shipped.expectNone(undefined, 300);
    expect(shipped.calls).toEqual(['o1']);
  });

  it('a redelivery of a committed event, and a concurrent duplicate, are acked without running', async () => {
    const s = await setup();
    const runs = createSpy<string>();
    let release: () => void = () => {};
    const slow = new Promise<void>((resolve) => {
      release = resolve;
    });
    s.bus.handle(s.OrderPlaced, { group: 'billing', concurrency: 2, middleware: s.middleware }, async (event, ctx) => {
      runs.fn(event.id);
      await transactionOf(ctx).query(`INSERT INTO ${s.effects} (order_id) VALUES ($1)`, [event.data.orderId]);
      await slow;
    });
    await s.bus.start();
    const id = `dup-${runId()}`;
    // Two copies at once: the second waits on the inbox row's key while the first runs.
    await s.bus.publishBatch([
      { contract: s.OrderPlaced, data: { orderId: 'o1', n: 1 }, options: { id } },
      { contract: s.OrderPlaced, data: { orderId: 'o1', n: 1 }, options: { id } },
    ]);
    await s.deliveries.waitForCount(2);
    await runs.waitForCount(1);
    release();
    await expect.poll(() => s.db.count('inbox')).toBe(1);
    // A third copy after the commit (a broker redelivery) is acked at once.
    await s.bus.publish(s.OrderPlaced, { orderId: 'o1', n: 1 }, { id });
    await s.deliveries.waitForCount(3);
    await runs.expectNone(undefined, 500);
    expect(runs.count).toBe(1);
    expect(await s.db.count(s.effects)).toBe(1);
  });

  it('transactionOf outside an inbox says what is missing', () => {
    const ctx = { state: new Map<string | symbol, unknown>() };
    expect(() => transactionOf(ctx)).toThrow(EventBusError);
    expect(() => transactionOf(ctx)).toThrow(/inbox\(/);
  });

  it('prune removes rows older than the retention, and bad options name themselves', async () => {
    const s = await setup();
    await s.db.pool.query(
      `INSERT INTO ${s.db.tables.inbox} (group_name, event_id, processed_at) VALUES ('g', 'old', now() - interval '8 days'), ('g', 'new', now())`,
    );
    expect(await pruneInbox(s.db.pool, { tables: s.db.tables, olderThanMs: 7 * 24 * 3600 * 1000 })).toBe(1);
    expect(await s.db.count('inbox')).toBe(1);
    expect(() => inbox({ pool: s.db.pool, outbox: s.outbox, retentionMs: -1 })).toThrow(/`inbox.retentionMs`/);
    expect(() => pruneInbox(s.db.pool, { tables: s.db.tables, olderThanMs: 0 })).toThrow(/`olderThanMs`/);
  });
});
