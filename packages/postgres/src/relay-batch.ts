import type { OutgoingMessage, Transport } from '@org/eventbus';
import type { PoolClient } from 'pg';
import type { OutboxRow } from './outbox.js';
import type { Table } from './tables.js';

/**
 * The stages of one relay batch, each on the batch's own transaction: take (lock and read), publish,
 * commit (delete what the broker confirmed) or roll back. relay-pipeline.ts runs them so that one
 * batch's database work overlaps another's publish.
 */

export interface TakenRows {
  /** Rows locked by this batch (published or held back behind another relay's rows of their key). */
  locked: number;
  /** The rows this batch may publish, in `seq` order. */
  ready: OutboxRow[];
}

/**
 * A row as the scan reads it: the body as base64 text, not bytea's hex text (twice the body's size).
 * Receiving and decoding 500 hex bodies was most of a batch's cost in the relay's own process
 * (13.9 → 10.3 ms of CPU per 500 × 1 KB rows, docs/decisions/0007).
 */
type ScannedRow = Omit<OutboxRow, 'body'> & { body: string };

export function toMessage(row: OutboxRow): OutgoingMessage {
  const message: OutgoingMessage = { channel: row.channel, id: row.event_id, headers: row.headers, body: row.body };
  if (row.key !== null) message.key = row.key;
  return message;
}

/**
 * The rows this batch may publish. The scan took the oldest unlocked rows; a row whose key has an
 * earlier row outside the batch (locked by another relay, so still unconfirmed) must wait for it,
 * and so must every later row of that key. Rows without a key are never held back. `ahead` are the
 * rows this relay's earlier batches are publishing: they are not blockers, because this batch
 * publishes only after those are confirmed, and not at all if they fail (relay-pipeline.ts).
 */
async function publishable(client: PoolClient, outbox: Table, rows: readonly OutboxRow[], ahead: readonly string[]): Promise<OutboxRow[]> {
  const keyed = rows.filter((r) => r.key !== null);
  if (keyed.length === 0) return [...rows];
  const keys = [...new Set(keyed.map((r) => r.key))];
  const last = keyed[keyed.length - 1]!.seq;
  const { rows: blockers } = await client.query<{ key: string; seq: string }>(
    `SELECT key, min(seq)::text AS seq FROM ${outbox.sql} WHERE key = ANY($1::text[]) AND seq < $2 AND NOT (seq = ANY($3::bigint[])) GROUP BY key`,
    [keys, last, [...rows.map((r) => r.seq), ...ahead]],
  );
  if (blockers.length === 0) return [...rows];
  const firstBlocked = new Map(blockers.map((b) => [b.key, BigInt(b.seq)]));
  return rows.filter((r) => {
    const blockedFrom = r.key === null ? undefined : firstBlocked.get(r.key);
    return blockedFrom === undefined || BigInt(r.seq) < blockedFrom;
  });
}

/**
 * Open the batch's transaction and lock the oldest waiting rows (SKIP LOCKED, so relays, and this
 * relay's batches in flight, share the table), then pick the ones key order lets through.
 */
export async function takeRows(client: PoolClient, outbox: Table, batchSize: number, ahead: readonly string[]): Promise<TakenRows> {
  await client.query('BEGIN');
  // Losing this commit in a database crash only republishes the batch (at least once, ids kept), so
  // it need not wait for the WAL flush: measured, the flush was most of a batch's time (docs/decisions/0007).
  await client.query('SET LOCAL synchronous_commit = off');
  const { rows: scanned } = await client.query<ScannedRow>(
    // `o.seq`, not `seq`: ORDER BY would take the text output column and sort 10 before 2.
    `SELECT o.seq::text AS seq, o.channel, o.event_id, o.key, o.headers, encode(o.body, 'base64') AS body FROM ${outbox.sql} AS o ORDER BY o.seq LIMIT $1 FOR UPDATE SKIP LOCKED`,
    [batchSize],
  );
  // Node's base64 decoder skips the line breaks PostgreSQL puts in every 76 characters.
  const rows: OutboxRow[] = scanned.map((r) => ({ ...r, body: Buffer.from(r.body, 'base64') }));
  const ready = rows.length === 0 ? [] : await publishable(client, outbox, rows, ahead);
  return { locked: rows.length, ready };
}

/** Publish through the transport, which resolves on the broker's confirm. */
export async function publishRows(transport: Transport, ready: readonly OutboxRow[]): Promise<void> {
  if (ready.length > 0) await transport.publish(ready.map(toMessage));
}

/** Delete the confirmed rows and commit: they are done. Held-back rows are unlocked for the next batch. */
export async function commitRows(client: PoolClient, outbox: Table, ready: readonly OutboxRow[]): Promise<void> {
  if (ready.length > 0) await client.query(`DELETE FROM ${outbox.sql} WHERE seq = ANY($1::bigint[])`, [ready.map((r) => r.seq)]);
  await client.query('COMMIT');
}
