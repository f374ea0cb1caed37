import { ConfigError, MemoryTransport, silentLogger } from '@org/eventbus';
import { createSpy, describeBroker } from '@org/eventbus/testing';
import { afterEach, expect, it } from 'vitest';
import { createOutbox, createRelay, type Relay } from '../src/index.js';
import { collect, Db, encodedMessage, recording, runId, URL_VARIABLE } from './helpers.js';

describeBroker('postgres relay (memory transport)', { variable: URL_VARIABLE }, (url) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup() {
    const db = new Db(url());
    await db.migrate();
    const transport = new MemoryTransport({ broker: runId('relay') });
    // Relay tests write encoded rows (outbox.write), as the inbox does: no contracts, no encoding.
    const rowsOnly = {
      transport,
      encode(): never {
        throw new Error('relay tests write encoded rows');
      },
    };
    const outbox = createOutbox({ bus: rowsOnly, tables: db.tables });
    cleanups.push(() => db.cleanup(), () => transport.close());
    const relay = (options: Partial<Parameters<typeof createRelay>[0]> = {}): Relay => {
      const r = createRelay({ pool: db.pool, transport, tables: db.tables, logger: silentLogger, ...options });
      cleanups.push(() => r.stop());
      return r;
    };
    const write = (n: number, key?: string) => db.transaction((c) => outbox.write(c, [encodedMessage('orders', n, key, transport.capabilities.encoding)]));
    return { db, transport, outbox, relay, write };
  }

  it('wakes on the commit (NOTIFY), publishes and deletes what the broker confirmed', async () => {
    const { db, transport, relay, write } = await setup();
    const { seen, close } = await collect(transport, 'g', 'orders');
    cleanups.push(close);
    // Polling once a minute: only the NOTIFY sent at commit can deliver this within the wait.
    await relay({ pollIntervalMs: 60_000 }).start();
    await write(1);
    await write(2, 'k');
    await seen.waitFor((calls) => calls.length >= 2, { timeoutMs: 5_000, description: 'both rows relayed' });
    expect([...seen.calls].sort()).toEqual([1, 2]);
    await expect.poll(() => db.count('outbox'), { timeout: 5_000 }).toBe(0);
  });

  it('reports its backlog: rows waiting and the age of the oldest', async () => {
    const { relay, write, transport } = await setup();
    const { close } = await collect(transport, 'g', 'orders');
    cleanups.push(close);
    const r = relay();
    expect(await r.backlog()).toEqual({ rows: 0, oldestAgeMs: 0 });
    await write(1);
    await write(2);
    const waiting = await r.backlog();
    expect(waiting.rows).toBe(2);
    expect(waiting.oldestAgeMs).toBeGreaterThanOrEqual(0);
    expect(await r.drain()).toBe(2);
    expect(await r.backlog()).toEqual({ rows: 0, oldestAgeMs: 0 });
  });

  it('two relays at once keep each key in commit order, and together publish every row once', async () => {
    const { db, transport, outbox } = await setup();
    const { seen: delivered, close } = await collect(transport, 'g', 'orders');
    cleanups.push(close);
    const published = createSpy<{ relay: string; key: string | undefined; n: number }>();
    const relays = ['a', 'b'].map((name) => {
      const r = createRelay({ pool: db.pool, transport: recording(transport, name, published, 5), tables: db.tables, batchSize: 7, logger: silentLogger });
      cleanups.push(() => r.stop());
      return r;
    });
    await Promise.all(relays.map((r) => r.start()));
    const keys = ['k0', 'k1', 'k2'];
    const total = 300;
    // Each transaction writes the next number of one key, so per key the commit order is ascending n.
    for (let n = 0; n < total; n += 10) {
      await db.transaction((c) =>
        outbox.write(
          c,
          Array.from({ length: 10 }, (_, i) => encodedMessage('orders', n + i, keys[(n + i) % keys.length], transport.capabilities.encoding)),
        ),
      );
    }
    await delivered.waitForCount(total, { timeoutMs: 20_000 });
    const byRelay = new Set(published.calls.map((c) => c.relay));
    expect(byRelay, 'both relays took batches').toEqual(new Set(['a', 'b']));
    for (const key of keys) {
      const order = published.calls.filter((c) => c.key === key).map((c) => c.n);
      expect(order, `key ${key} in order`).toEqual([...order].sort((x, y) => x - y));
    }
    expect(published.count).toBe(total);
    expect(new Set(delivered.calls).size).toBe(total);
  });

  it('stop() lets the batch in flight finish: confirmed rows are deleted, nothing is left locked', async () => {
    const { db, transport, write } = await setup();
    const { seen, close } = await collect(transport, 'g', 'orders');
    cleanups.push(close);
    const publishing = createSpy<number>();
    const slow = Object.assign(Object.create(transport) as typeof transport, {
      async publish(messages: Parameters<typeof transport.publish>[0]) {
        publishing.fn(messages.length);
        await new Promise((resolve) => setTimeout(resolve, 200));
        await transport.publish(messages);
      },
    });
    for (let n = 0; n < 5; n++) await write(n);
    const r = createRelay({ pool: db.pool, transport: slow, tables: db.tables, logger: silentLogger });
    await r.start();
    await publishing.waitForCount(1);
    await r.stop();
    expect(seen.count).toBe(5);
    expect(await db.count('outbox')).toBe(0);
  });

  it('relays bodies byte for byte: every byte value, longer than a base64 line, and empty', async () => {
    const { db, transport, outbox, relay } = await setup();
    const bodies = [Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7) % 256)), Buffer.alloc(0)];
    const received = createSpy<string>();
    const subscription = await transport.subscribe({ group: 'g', channels: ['raw'], prefetch: 10 }, async (delivery) => {
      received.fn(Buffer.from(delivery.message.body).toString('hex'));
      await delivery.ack();
    });
    cleanups.push(() => subscription.close());
    await db.transaction((c) => outbox.write(c, bodies.map((body, i) => ({ channel: 'raw', id: `raw-${i}`, headers: {}, body }))));
    expect(await relay().drain()).toBe(2);
    await received.waitForCount(2);
    expect(received.calls).toEqual(bodies.map((b) => b.toString('hex')));
  });

  it('bad options fail at construction, naming the option', async () => {
    const { db, transport } = await setup();
    expect(() => createRelay({ pool: db.pool, transport, batchSize: 0 })).toThrow(/`batchSize`/);
    expect(() => createRelay({ pool: db.pool, transport, pollIntervalMs: -1 })).toThrow(ConfigError);
    expect(() => createRelay({ pool: db.pool, transport, tables: { outbox: 'no-dashes' } })).toThrow(/`tables.outbox`/);
  });
});
