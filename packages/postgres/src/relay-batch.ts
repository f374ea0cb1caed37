import type { OutgoingMessage, Transport } from '@org/eventbus';
import type { PoolClient } from 'pg';
import type { OutboxRow } from './outbox.js';
import type { Table } from './tables.js';

export interface BatchResult {
  /** Rows the broker confirmed and the batch deleted. */
  published: number;
  /** Rows locked by this batch (published or held back behind another relay's rows of their key). */
  locked: number;
}

function toMessage(row: OutboxRow): OutgoingMessage {
  const message: OutgoingMessage = { channel: row.channel, id: row.event_id, headers: row.headers, body: row.body };
  if (row.key !== null) message.key = row.key;
  return message;
}

/**
 * The rows this batch may publish. The scan took the oldest unlocked rows; a row whose key has an
 * earlier row outside the batch (locked by another relay, so still unconfirmed) must wait for it,
 * and so must every later row of that key. Rows without a key are never held back.
 */
async function publishable(client: PoolClient, outbox: Table, rows: readonly OutboxRow[]): Promise<OutboxRow[]> {
  const keyed = rows.filter((r) => r.key !== null);
  if (keyed.length === 0) return [...rows];
  const keys = [...new Set(keyed.map((r) => r.key))];
  const last = keyed[keyed.length - 1]!.seq;
  const { rows: blockers } = await client.query<{ key: string; seq: string }>(
    `SELECT key, min(seq)::text AS seq FROM ${outbox.sql} WHERE key = ANY($1::text[]) AND seq < $2 AND NOT (seq = ANY($3::bigint[])) GROUP BY key`,
    [keys, last, rows.map((r) => r.seq)],
  );
  if (blockers.length === 0) return [...rows];
  const firstBlocked = new Map(blockers.map((b) => [b.key, BigInt(b.seq)]));
  return rows.filter((r) => {
    const blockedFrom = r.key === null ? undefined : firstBlocked.get(r.key);
    return blockedFrom === undefined || BigInt(r.seq) < blockedFrom;
  });
}

/**
 * One relay batch, in one transaction: lock the oldest waiting rows (SKIP LOCKED, so relays share the
 * table), publish the ones whose key order allows through the transport (which resolves on broker
 * confirm), delete them, commit. A failed publish rolls back: the rows wait for the next batch. A crash
 * after the confirm and before the commit republishes them: at least once, with the event id kept.
 */
export async function relayBatch(client: PoolClient, outbox: Table, transport: Transport, batchSize: number): Promise<BatchResult> {
  await client.query('BEGIN');
  try {
    // Losing this commit in a database crash only republishes the batch (at least once, ids kept), so
    // it need not wait for the WAL flush: measured, the flush was most of a batch's time (docs/decisions/0007).
    await client.query('SET LOCAL synchronous_commit = off');
    const { rows } = await client.query<OutboxRow>(
      // `o.seq`, not `seq`: ORDER BY would take the text output column and sort 10 before 2.
      `SELECT o.seq::text AS seq, o.channel, o.event_id, o.key, o.headers, o.body FROM ${outbox.sql} AS o ORDER BY o.seq LIMIT $1 FOR UPDATE SKIP LOCKED`,
      [batchSize],
    );
    const ready = rows.length === 0 ? [] : await publishable(client, outbox, rows);
    if (ready.length > 0) {
      await transport.publish(ready.map(toMessage));
      await client.query(`DELETE FROM ${outbox.sql} WHERE seq = ANY($1::bigint[])`, [ready.map((r) => r.seq)]);
    }
    await client.query('COMMIT');
    return { published: ready.length, locked: rows.length };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}
