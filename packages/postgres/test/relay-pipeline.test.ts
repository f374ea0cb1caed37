import { MemoryTransport, type OutgoingMessage, silentLogger, type Transport } from '@org/eventbus';
import { createSpy, describeBroker } from '@org/eventbus/testing';
import pg from 'pg';
import { afterEach, expect, it } from 'vitest';
import { createOutbox, createRelay, type RelayOptions } from '../src/index.js';
import { collect, Db, decodedN, encodedMessage, recording, runId, URL_VARIABLE } from './helpers.js';

const numbers = (messages: readonly OutgoingMessage[]) => messages.map((m) => decodedN(m.body));
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describeBroker('postgres relay pipeline: batches in flight (memory transport)', { variable: URL_VARIABLE }, (url) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  });

  async function setup() {
    const db = new Db(url());
    await db.migrate();
    const transport = new MemoryTransport({ broker: runId('pipeline') });
    // Rows are written encoded (outbox.write), as the inbox does: no contracts, no encoding.
    const rowsOnly = {
      transport,
      encode(): never {
        throw new Error('relay tests write encoded rows');
      },
    };
    const outbox = createOutbox({ bus: rowsOnly, tables: db.tables });
    cleanups.push(() => db.cleanup(), () => transport.close());
    const relay = (options: Partial<RelayOptions>) => {
      const r = createRelay({ pool: db.pool, transport, tables: db.tables, logger: silentLogger, retryDelayMs: 50, ...options });
      cleanups.push(() => r.stop());
      return r;
    };
    /** `n` rows from `from`, all of one key, in one transaction: per key the commit order is ascending n. */
    const write = (from: number, n: number, key = 'k') =>
      db.transaction((c) => outbox.write(c, range(from, from + n).map((i) => encodedMessage('orders', i, key, transport.capabilities.encoding))));
    /** Rows no transaction holds: what a relay's batches have not locked. */
    const unlocked = async () => (await db.pool.query(`SELECT seq FROM ${db.tables.outbox} FOR UPDATE SKIP LOCKED`)).rows.length;
    return { db, transport, relay, write, unlocked };
  }

  it('locks the next batch while one waits for its confirm, and deletes a confirmed batch while the next publishes', async () => {
    const { db, transport, relay, write, unlocked } = await setup();
    const { seen, close } = await collect(transport, 'g', 'orders');
    cleanups.push(close);
    const calls = createSpy<number[]>();
    const opened = new Set<number>();
    const waiting = new Map<number, () => void>();
    const open = (call: number) => {
      opened.add(call);
      waiting.get(call)?.();
    };
    // Each publish waits until the test opens it, so the test can look at the table between the steps.
    const gated = Object.assign(Object.create(transport) as Transport, {
      async publish(messages: readonly OutgoingMessage[]) {
        const call = calls.count;
        calls.fn(numbers(messages));
        if (!opened.has(call)) await new Promise<void>((resolve) => waiting.set(call, resolve));
        await transport.publish(messages);
      },
    });
    await write(0, 15);
    await relay({ transport: gated, batchSize: 5, batchesInFlight: 2 }).start();

    await calls.waitForCount(1);
    // Batch 1 waits for its confirm; batch 2 is already locked and read (one at a time would leave 10).
    await expect.poll(unlocked, { timeout: 5_000 }).toBe(5);
    // …but is not published before batch 1 is confirmed.
    await calls.expectNone(undefined, 300);

    open(0);
    await calls.waitForCount(2);
    expect(calls.calls[1], 'batch 2 is not held back by batch 1 of its own key').toEqual(range(5, 10));
    // Batch 2 is still unconfirmed, and batch 1 is deleted already.
    await expect.poll(() => db.count('outbox'), { timeout: 5_000 }).toBe(10);

    for (let call = 1; call < 3; call++) open(call);
    await seen.waitForCount(15, { timeoutMs: 5_000 });
    expect(seen.calls).toEqual(range(0, 15));
    await expect.poll(() => db.count('outbox'), { timeout: 5_000 }).toBe(0);
  });

  it('by default holds 2 batches of 1,000 rows: the second is locked while the first waits for its confirm', async () => {
    const { transport, relay, write, unlocked } = await setup();
    const { seen, close } = await collect(transport, 'g', 'orders');
    cleanups.push(close);
    const sizes = createSpy<number>();
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const gated = Object.assign(Object.create(transport) as Transport, {
      async publish(messages: readonly OutgoingMessage[]) {
        sizes.fn(messages.length);
        await held;
        await transport.publish(messages);
      },
    });
    await write(0, 2_500);
    await relay({ transport: gated }).start();

    await sizes.waitForCount(1);
    expect(sizes.calls[0]).toBe(1_000);
    await expect.poll(unlocked, { timeout: 5_000 }).toBe(500);
    release();
    await seen.waitForCount(2_500, { timeoutMs: 10_000 });
    expect(sizes.calls).toEqual([1_000, 1_000, 500]);
    expect(seen.calls).toEqual(range(0, 2_500));
  });

  it("drain() with batches in flight: a relay's own earlier batch does not hold back the next of its key", async () => {
    const { db, transport, relay, write } = await setup();
    cleanups.push((await collect(transport, 'g', 'orders')).close);
    const slow = Object.assign(Object.create(transport) as Transport, {
      async publish(messages: readonly OutgoingMessage[]) {
        // The confirm takes a while, so each next batch is locked while its predecessor's rows are.
        await new Promise((resolve) => setTimeout(resolve, 50));
        await transport.publish(messages);
      },
    });
    await write(0, 30);
    // drain() stops at a batch with nothing it may publish: treated as another relay's, batch 2 would end it at 5.
    expect(await relay({ transport: slow, batchSize: 5, batchesInFlight: 2 }).drain()).toBe(30);
    expect(await db.count('outbox')).toBe(0);
  });

  it('a failed publish stops the batches behind it: they roll back unpublished, and the retry keeps the order', async () => {
    const { db, transport, relay, write } = await setup();
    // A bound group: the memory broker, like RabbitMQ, refuses a publish nobody would receive.
    cleanups.push((await collect(transport, 'g', 'orders')).close);
    const confirmed = createSpy<number>();
    const failures = createSpy<Error>();
    let call = 0;
    const failsSecond = Object.assign(Object.create(transport) as Transport, {
      async publish(messages: readonly OutgoingMessage[]) {
        // The broker answers after a while, so batch 3 is locked while batch 2 waits, then is refused.
        await new Promise((resolve) => setTimeout(resolve, 50));
        if (call++ === 1) throw new Error('broker refused batch 2');
        await transport.publish(messages);
        for (const n of numbers(messages)) confirmed.fn(n);
      },
    });
    await write(0, 30);
    await relay({ transport: failsSecond, batchSize: 5, batchesInFlight: 3, onError: failures.fn }).start();
    await confirmed.waitForCount(30, { timeoutMs: 10_000 });
    expect(failures.count).toBe(1);
    // Batch 3 was locked while batch 2 failed: had it published, 10–14 would come before 5–9.
    expect(confirmed.calls).toEqual(range(0, 30));
    await expect.poll(() => db.count('outbox'), { timeout: 5_000 }).toBe(0);
  });

  it('a batch whose delete fails after the confirm: the batches behind it roll back too, so the repeat is an in-order run', async () => {
    const { db, transport, relay, write } = await setup();
    // A bound group: the memory broker, like RabbitMQ, refuses a publish nobody would receive.
    cleanups.push((await collect(transport, 'g', 'orders')).close);
    const confirmed = createSpy<number>();
    const failures = createSpy<Error>();
    const counting = Object.assign(Object.create(transport) as Transport, {
      async publish(messages: readonly OutgoingMessage[]) {
        // A broker's confirm takes a while: batch 3 is still publishing when batch 2's delete fails.
        await new Promise((resolve) => setTimeout(resolve, 50));
        await transport.publish(messages);
        for (const n of numbers(messages)) confirmed.fn(n);
      },
    });
    await write(0, 30);
    // A pool of the relay's own: the test's pool (its counts) never gets a client with the fault.
    const relayPool = new pg.Pool({ connectionString: url(), max: 4 });
    cleanups.push(() => relayPool.end());
    await relay({ pool: failingSecondDelete(relayPool), transport: counting, batchSize: 5, batchesInFlight: 2, onError: failures.fn }).start();
    await expect.poll(() => db.count('outbox'), { timeout: 10_000 }).toBe(0);
    expect(failures.count).toBe(1);
    const order = confirmed.calls;
    expect(new Set(order)).toEqual(new Set(range(0, 30)));
    expect(order.length, 'batch 2 was published again').toBeGreaterThan(30);
    // Every row's first and last publish are in seq order: a consumer that keeps the latest ends right.
    const first = range(0, 30).map((n) => order.indexOf(n));
    const last = range(0, 30).map((n) => order.lastIndexOf(n));
    expect(first).toEqual([...first].sort((a, b) => a - b));
    expect(last).toEqual([...last].sort((a, b) => a - b));
  });

  it('two relays with four batches in flight each keep every key in commit order', async () => {
    const { db, transport, write } = await setup();
    const { seen: delivered, close } = await collect(transport, 'g', 'orders');
    cleanups.push(close);
    const published = createSpy<{ relay: string; key: string | undefined; n: number }>();
    const relays = ['a', 'b'].map((name) => {
      const r = createRelay({
        pool: db.pool,
        transport: recording(transport, name, published, 5),
        tables: db.tables,
        batchSize: 7,
        batchesInFlight: 4,
        logger: silentLogger,
      });
      cleanups.push(() => r.stop());
      return r;
    });
    await Promise.all(relays.map((r) => r.start()));
    const keys = ['k0', 'k1', 'k2'];
    for (let n = 0; n < 300; n += 10) {
      for (const key of keys) await write(n * 3 + keys.indexOf(key) * 10, 10, key);
    }
    await delivered.waitForCount(900, { timeoutMs: 30_000 });
    expect(new Set(published.calls.map((c) => c.relay)), 'both relays took batches').toEqual(new Set(['a', 'b']));
    for (const key of keys) {
      const order = published.calls.filter((c) => c.key === key).map((c) => c.n);
      expect(order, `key ${key} in order`).toEqual([...order].sort((x, y) => x - y));
    }
    expect(published.count).toBe(900);
    expect(new Set(delivered.calls).size).toBe(900);
  });
});

/**
 * The relay's pool, with a real database failure injected: before the second DELETE a relay sends (the
 * second batch's, sent after its publish was confirmed) a division by zero aborts its transaction.
 */
function failingSecondDelete(pool: pg.Pool): pg.Pool {
  let deletes = 0;
  const wrapped = new WeakSet<pg.PoolClient>();
  return Object.assign(Object.create(pool) as pg.Pool, {
    async connect() {
      const client = await pool.connect();
      if (wrapped.has(client)) return client;
      wrapped.add(client);
      const query = client.query.bind(client) as (text: string | pg.QueryConfig, values?: unknown[]) => Promise<pg.QueryResult>;
      Object.assign(client, {
        async query(text: string | pg.QueryConfig, values?: unknown[]) {
          const sql = typeof text === 'string' ? text : text.text;
          if (sql.startsWith('DELETE') && ++deletes === 2) await query('SELECT 1/0').catch(() => {});
          return query(text, values);
        },
      });
      return client;
    },
  });
}
