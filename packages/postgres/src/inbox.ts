import { ConfigError, EventBusError, type MessageContext, type Middleware, positiveNumber, watchHandBack } from '@org/eventbus';
import type { Pool, PoolClient } from 'pg';
import type { Outbox } from './outbox.js';
import { resolveTables, type Table, type TableNames } from './tables.js';

export interface InboxOptions {
  pool: Pool;
  /** Where the handler's emits go, in its transaction; its `tables.inbox` records what was handled. */
  outbox: Outbox;
  /**
   * ms a handled event is remembered: a redelivery within it is acked without running. Longer than the
   * broker can redeliver and the relay can repeat (hours); default 7 days.
   */
  retentionMs?: number;
  /** ms between prunes of rows older than `retentionMs`, run in the background by a delivery; 0 turns it off. Default 10 min. */
  pruneEveryMs?: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** The open transaction of each delivery, keyed by its context's state map (shared by derived contexts). */
const transactions = new WeakMap<MessageContext['state'], PoolClient>();

/**
 * The handler's transaction, opened by `inbox()`: write with it, and the writes commit with the
 * inbox row and the handler's emits, or not at all.
 */
export function transactionOf(ctx: Pick<MessageContext, 'state'>): PoolClient {
  const client = transactions.get(ctx.state);
  if (client === undefined) {
    throw new EventBusError('transactionOf(ctx): this handler runs without an inbox transaction; add inbox({ pool, outbox }) to its middleware');
  }
  return client;
}

export interface PruneOptions {
  tables?: TableNames;
  /** ms: rows handled longer ago than this go. */
  olderThanMs: number;
}

/** Delete inbox rows handled more than `olderThanMs` ago (a cron job's call); returns how many went. */
export function pruneInbox(pool: Pool, options: PruneOptions): Promise<number> {
  const olderThanMs = positiveNumber('olderThanMs', options?.olderThanMs, Number.NaN);
  if (Number.isNaN(olderThanMs)) throw new ConfigError('olderThanMs', 'is required: how old (ms) a handled row must be to go');
  return deleteOlderThan(pool, resolveTables(options.tables).inbox, olderThanMs);
}

async function deleteOlderThan(pool: Pool, inboxTable: Table, olderThanMs: number): Promise<number> {
  const result = await pool.query(`DELETE FROM ${inboxTable.sql} WHERE processed_at < now() - make_interval(secs => $1)`, [olderThanMs / 1000]);
  return result.rowCount ?? 0;
}

/**
 * Exactly-once effects per consumer group: the handler runs in a transaction that also records
 * (group, event id) in the inbox and moves the handler's held emits into the outbox. A throw rolls all
 * of it back (the retry starts clean); a redelivery of a committed event is acked without running; a
 * concurrent duplicate waits on the inbox row's key, then skips. Place it inside `retry` (bus or
 * handler middleware) and with the default `emit: 'after-success'`, so emits are held for it.
 */
export function inbox(options: InboxOptions): Middleware {
  if (typeof options?.pool?.connect !== 'function') throw new ConfigError('inbox.pool', 'is required: a pg.Pool');
  if (typeof options.outbox?.write !== 'function') throw new ConfigError('inbox.outbox', 'is required: createOutbox({ bus }) for the emits');
  const { pool, outbox } = options;
  const table = outbox.tables.inbox;
  const retentionMs = positiveNumber('inbox.retentionMs', options.retentionMs, 7 * DAY_MS);
  const pruneEveryMs = positiveNumber('inbox.pruneEveryMs', options.pruneEveryMs, 10 * 60 * 1000, { allowZero: true });
  const claim = `INSERT INTO ${table.sql} (group_name, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`;
  let nextPruneAt = 0;

  function pruneInBackground(ctx: MessageContext) {
    if (pruneEveryMs === 0 || Date.now() < nextPruneAt) return;
    nextPruneAt = Date.now() + pruneEveryMs;
    deleteOlderThan(pool, table, retentionMs).then(
      (removed) => ctx.logger.debug({ inbox: table.name, removed }, 'inbox pruned'),
      (error: unknown) => ctx.logger.warn({ inbox: table.name, err: error }, 'inbox prune failed; the next one retries'),
    );
  }

  return (next) => async (ctx) => {
    pruneInBackground(ctx);
    const client = await pool.connect();
    let clean = false;
    try {
      await client.query('BEGIN');
      const claimed = await client.query(claim, [ctx.group, ctx.event.id]);
      if (claimed.rowCount === 0) {
        await client.query('ROLLBACK');
        clean = true;
        ctx.logger.debug({ inbox: table.name }, 'already handled in this group; acked without running');
        return await ctx.ack();
      }
      // A handler that nacks or dead-letters did not complete: its writes roll back like a throw's.
      const watch = watchHandBack(ctx);
      transactions.set(ctx.state, client);
      try {
        await next(watch.ctx);
      } finally {
        transactions.delete(ctx.state);
      }
      if (watch.handedBack()) {
        // What it emitted stays held: the emit hold outside drops it for a handed-back delivery.
        await client.query('ROLLBACK');
      } else {
        await outbox.write(client, ctx.emits.take().map((held) => held.message));
        await client.query('COMMIT');
      }
      clean = true;
    } catch (error) {
      // The handler may still hold the client (a timeout fired): roll back, then destroy the connection.
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release(clean ? undefined : true);
    }
  };
}
