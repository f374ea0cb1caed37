import { MemoryTransport, silentLogger } from '@org/eventbus';
import { createSpy } from '@org/eventbus/testing';
import { describeBroker } from '@org/eventbus/testing';
import type pg from 'pg';
import { afterEach, expect, it } from 'vitest';
import { createOutbox, createRelay } from '../src/index.js';
import { DOORBELL_CLASS } from '../src/tables.js';
import { collect, Db, encodedMessage, runId, URL_VARIABLE } from './helpers.js';

// The doorbell (migrations/003_outbox_doorbell.sql): writers NOTIFY only while a relay waits for it,
// because every notifying commit queues behind the others'.
describeBroker('postgres relay doorbell', { variable: URL_VARIABLE }, (url) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup() {
    const db = new Db(url());
    await db.migrate();
    const transport = new MemoryTransport({ broker: runId('doorbell') });
    const outbox = createOutbox({ bus: { transport, encode: () => ({}) as never }, tables: db.tables });
    cleanups.push(() => db.cleanup(), () => transport.close());
    const channel = db.tables.outbox;
    const write = (client: pg.ClientBase, n: number) => outbox.write(client, [encodedMessage('orders', n, undefined, transport.capabilities.encoding)]);
    const session = async () => {
      const client = await db.pool.connect();
      cleanups.push(async () => client.release(true));
      return client;
    };
    const tryDoorbell = async (client: pg.ClientBase) =>
      (await client.query<{ taken: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS taken', [DOORBELL_CLASS, channel])).rows[0]?.taken;
    /** Whether some session holds this outbox's doorbell exclusively (a waiting relay). */
    const doorbellHeld = async () => {
      const { rows } = await db.pool.query<{ held: boolean }>(
        `SELECT exists(SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND objsubid = 2
           AND objid::bigint = (hashtext($2)::bigint & 4294967295) AND mode = 'ExclusiveLock' AND granted) AS held`,
        [DOORBELL_CLASS, channel],
      );
      return rows[0]?.held === true;
    };
    return { db, transport, channel, write, session, tryDoorbell, doorbellHeld };
  }

  it('a commit NOTIFYs only while someone holds the doorbell', async () => {
    const { db, channel, write, session, tryDoorbell } = await setup();
    const listener = await session();
    const notifications = createSpy<string>();
    listener.on('notification', (n) => notifications.fn(n.channel));
    await listener.query(`LISTEN "${channel}"`);
    await db.transaction((c) => write(c, 1));
    const bell = await session();
    expect(await tryDoorbell(bell)).toBe(true);
    await db.transaction((c) => write(c, 2));
    await notifications.waitFor((calls) => calls.length >= 1, { timeoutMs: 5_000, description: 'the NOTIFY of the second commit' });
    // Notifications arrive in commit order: had the first commit notified, it would be here before.
    expect(notifications.calls).toEqual([channel]);
  });

  it('the doorbell is taken only once every writer that skipped its NOTIFY has committed', async () => {
    const { write, session, tryDoorbell } = await setup();
    const writer = await session();
    await writer.query('BEGIN');
    await write(writer, 1);
    const bell = await session();
    expect(await tryDoorbell(bell)).toBe(false);
    await writer.query('COMMIT');
    expect(await tryDoorbell(bell)).toBe(true);
  });

  it('an idle relay holds the doorbell and wakes on the NOTIFY; idle again, it takes it back', async () => {
    const { db, transport, write, doorbellHeld } = await setup();
    const { seen, close } = await collect(transport, 'g', 'orders');
    cleanups.push(close);
    // Polling once a minute: only a NOTIFY delivers the row within the wait.
    const relay = createRelay({ pool: db.pool, transport, tables: db.tables, pollIntervalMs: 60_000, logger: silentLogger });
    cleanups.push(() => relay.stop());
    await relay.start();
    await expect.poll(doorbellHeld, { timeout: 5_000 }).toBe(true);
    await db.transaction((c) => write(c, 1));
    await seen.waitFor((calls) => calls.length >= 1, { timeoutMs: 5_000, description: 'the row relayed' });
    await expect.poll(() => db.count('outbox'), { timeout: 5_000 }).toBe(0);
    await expect.poll(doorbellHeld, { timeout: 5_000 }).toBe(true);
    await db.transaction((c) => write(c, 2));
    await seen.waitFor((calls) => calls.length >= 2, { timeoutMs: 5_000, description: 'the second row relayed' });
    await relay.stop();
    await expect.poll(doorbellHeld, { timeout: 5_000 }).toBe(false);
  });
});
