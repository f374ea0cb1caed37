import type { OutgoingMessage, Transport } from '@org/eventbus';
import type { PoolClient, QueryArrayConfig } from 'pg';
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
 * A row as the scan reads it, in array row mode (no object built per row before ours), the body as
 * base64 text: text format sends bytea as hex, twice the body's size, and pg's binary result format
 * turns a bytea into a string unless the whole connection is binary (not ours to set: the pool is the
 * caller's). [seq, channel, event_id, key, headers (jsonb as text), body (base64), blocked]
 */
type ScannedRow = [string, string, string, string | null, string, string, boolean];

export function toMessage(row: OutboxRow): OutgoingMessage {
  const message: OutgoingMessage = { channel: row.channel, id: row.event_id, headers: row.headers, body: row.body };
  if (row.key !== null) message.key = row.key;
  return message;
}

/**
 * Open the batch's transaction, lock the oldest waiting rows (SKIP LOCKED, so relays, and this
 * relay's batches in flight, share the table) and read them, each with whether key order lets it
 * through, in one statement. A row is `blocked` when its key has an earlier row outside the batch
 * (locked by another relay, so still unconfirmed); every later row of that key in the batch must wait
 * too. Rows without a key are never held back. `ahead` are the rows this relay's earlier batches are
 * publishing: they are not blockers, because this batch publishes only after those are confirmed,
 * and not at all if they fail (relay-pipeline.ts). Two round trips in all (the relay's round trips
 * were most of a batch's time against a fast broker).
 */
export async function takeRows(client: PoolClient, outbox: Table, batchSize: number, ahead: readonly string[]): Promise<TakenRows> {
  // Losing this commit in a database crash only republishes the batch (at least once, ids kept), so
  // it need not wait for the WAL flush: measured, the flush was most of a batch's time (docs/decisions/0007).
  // One simple-protocol round trip for both statements.
  await client.query('BEGIN; SET LOCAL synchronous_commit = off');
  const scan: QueryArrayConfig = {
    text: `WITH batch AS MATERIALIZED (
        SELECT seq, channel, event_id, key, headers, body FROM ${outbox.sql} ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED
      )
      SELECT b.seq::text, b.channel, b.event_id, b.key, b.headers::text, encode(b.body, 'base64'),
        (b.key IS NOT NULL AND EXISTS (
          SELECT 1 FROM ${outbox.sql} AS e
          WHERE e.key = b.key AND e.seq < b.seq AND e.seq NOT IN (SELECT seq FROM batch) AND NOT (e.seq = ANY($2::bigint[]))
        )) AS blocked
      FROM batch AS b ORDER BY b.seq`,
    values: [batchSize, ahead],
    rowMode: 'array',
  };
  const { rows: scanned } = await client.query<ScannedRow>(scan);
  const ready: OutboxRow[] = [];
  const waiting = new Set<string>();
  for (const [seq, channel, event_id, key, headers, body, blocked] of scanned) {
    if (key !== null && (blocked || waiting.has(key))) {
      waiting.add(key);
      continue;
    }
    // Node's base64 decoder skips the line breaks PostgreSQL puts in every 76 characters.
    ready.push({ seq, channel, event_id, key, headers: JSON.parse(headers) as Record<string, string>, body: Buffer.from(body, 'base64') });
  }
  return { locked: scanned.length, ready };
}

/** Publish through the transport, which resolves on the broker's confirm. */
export async function publishRows(transport: Transport, ready: readonly OutboxRow[]): Promise<void> {
  if (ready.length > 0) await transport.publish(ready.map(toMessage));
}

/**
 * Delete the confirmed rows and commit, in one simple-protocol round trip: the seqs are the int8
 * values the scan read (digits only, checked), so they can stand in the statement's text.
 * Held-back rows are unlocked for the next batch.
 */
export async function commitRows(client: PoolClient, outbox: Table, ready: readonly OutboxRow[]): Promise<void> {
  if (ready.length === 0) {
    await client.query('COMMIT');
    return;
  }
  const seqs = ready.map((r) => r.seq);
  if (!seqs.every((seq) => /^[0-9]+$/.test(seq))) throw new Error(`outbox seq values must be whole numbers, got ${seqs.find((seq) => !/^[0-9]+$/.test(seq))}`);
  await client.query(`DELETE FROM ${outbox.sql} WHERE seq IN (${seqs.join(',')}); COMMIT`);
}
