import type { OutgoingMessage, Transport } from '@org/eventbus';
import type { PoolClient, QueryArrayResult } from 'pg';
import { decodeEscapedBytea } from './bytea.js';
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
  /** Where each ready row is (its `ctid`), for the delete: same order as `ready`. */
  places: string[];
}

/**
 * A row as the scan reads it, in array row mode (no object built per row before ours):
 * [ctid, seq, channel, event_id, key, headers (jsonb as text), body (bytea escape text), blocked].
 * The body travels as `encode(body, 'escape')`: text format sends bytea as hex (twice the body's size),
 * base64 costs the server about as much per byte, and pg's binary result format turns a bytea into a
 * string unless the whole connection is binary (not ours to set: the pool is the caller's). Escape text
 * of a JSON body is the body itself (bytea.ts), the cheapest for both sides (docs/decisions/0007).
 */
type ScannedRow = [string, string, string, string, string | null, string, string, boolean];

const DIGITS = /^[0-9]+$/;
/** A ctid as PostgreSQL prints it: (block,offset). */
const PLACE = /^\([0-9]+,[0-9]+\)$/;

/** Seq order of two rows, their seqs as int8 text (digits only, no leading zeros). */
const bySeq = (a: ScannedRow, b: ScannedRow) => a[1].length - b[1].length || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0);

export function toMessage(row: OutboxRow): OutgoingMessage {
  const message: OutgoingMessage = { channel: row.channel, id: row.event_id, headers: row.headers, body: row.body };
  if (row.key !== null) message.key = row.key;
  return message;
}

/** Values that stand in a simple-protocol statement's text must be what they claim (digits, ctids). */
function checked(values: readonly string[], pattern: RegExp, what: string): readonly string[] {
  const bad = values.find((v) => !pattern.test(v));
  if (bad !== undefined) throw new Error(`outbox ${what} values must match ${pattern}, got ${JSON.stringify(bad)}`);
  return values;
}

/**
 * Open the batch's transaction, lock the oldest waiting rows (SKIP LOCKED, so relays, and this
 * relay's batches in flight, share the table) and read them, each with whether key order lets it
 * through, in one round trip: BEGIN, SET LOCAL and the scan go as one simple-protocol query (no
 * parameters there, so the batch size and the seqs of `ahead`, whole numbers, are checked and written
 * into the text). A row is `blocked` when its key has an earlier row outside the batch (locked by
 * another relay, so still unconfirmed); every later row of that key in the batch must wait too. Rows
 * without a key are never held back. The check looks up, once per key of the batch, that key's first
 * row outside it (`blockers`), and holds back the key's rows after that one: asked per row ("an earlier
 * row of my key outside the batch?") each probe walked the key's earlier rows in the batch, quadratic
 * in the rows per key (8 keys in a 500-row batch: 50–60 ms of server CPU per batch). `ahead` are the rows this relay's earlier batches are publishing:
 * they are not blockers, because this batch publishes only after those are confirmed, and not at all
 * if they fail (relay-pipeline.ts). The scan also passes them over before trying their locks:
 * SKIP LOCKED finds a row locked only by trying, which measured ~20 µs a row (500 rows ahead: 9–10 ms
 * of a scan that takes 0.5–0.8 ms with the filter), the cost that made 2 batches in flight slower.
 */
export async function takeRows(client: PoolClient, outbox: Table, batchSize: number, ahead: readonly string[]): Promise<TakenRows> {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batch size must be a whole number ≥ 1, got ${batchSize}`);
  const aheadArray = `'{${checked(ahead, DIGITS, 'seq').join(',')}}'::bigint[]`;
  // Losing this commit in a database crash only republishes the batch (at least once, ids kept), so
  // it need not wait for the WAL flush: measured, the flush was most of a batch's time (docs/decisions/0007).
  // The batch holds only what locking and the key check need; each row's columns are read once, at the
  // end, by its ctid, and the rows are put in seq order here: carried through the CTE, the join's hash
  // and a sort, 500 bodies cost the server 2–10 ms of copying a batch (docs/decisions/0007).
  const text = `BEGIN; SET LOCAL synchronous_commit = off;
    WITH batch AS MATERIALIZED (
      SELECT ctid, seq, key FROM ${outbox.sql}
      WHERE NOT (seq = ANY(${aheadArray})) ORDER BY seq LIMIT ${batchSize} FOR UPDATE SKIP LOCKED
    ),
    blockers AS (
      SELECT k.key, (
        SELECT e.seq FROM ${outbox.sql} AS e
        WHERE e.key = k.key AND e.seq < k.last AND e.seq NOT IN (SELECT seq FROM batch) AND NOT (e.seq = ANY(${aheadArray}))
        ORDER BY e.seq LIMIT 1
      ) AS first
      FROM (SELECT key, max(seq) AS last FROM batch WHERE key IS NOT NULL GROUP BY key) AS k
    )
    SELECT b.ctid::text, b.seq::text, o.channel, o.event_id, o.key, o.headers::text, encode(o.body, 'escape'),
      coalesce(b.seq > bl.first, false) AS blocked
    FROM batch AS b LEFT JOIN blockers AS bl ON bl.key = b.key JOIN ${outbox.sql} AS o ON o.ctid = b.ctid`;
  // A simple query of several statements resolves with one result per statement; the scan is the last.
  const result: QueryArrayResult<ScannedRow> | QueryArrayResult<ScannedRow>[] = await client.query<ScannedRow>({ text, rowMode: 'array' });
  const scanned = ((Array.isArray(result) ? result.at(-1) : result)?.rows ?? []).sort(bySeq);
  const ready: OutboxRow[] = [];
  const places: string[] = [];
  const waiting = new Set<string>();
  for (const [place, seq, channel, event_id, key, headers, body, blocked] of scanned) {
    if (key !== null && (blocked || waiting.has(key))) {
      waiting.add(key);
      continue;
    }
    ready.push({ seq, channel, event_id, key, headers: JSON.parse(headers) as Record<string, string>, body: decodeEscapedBytea(body) });
    places.push(place);
  }
  return { locked: scanned.length, ready, places };
}

/** Publish through the transport, which resolves on the broker's confirm. */
export async function publishRows(transport: Transport, ready: readonly OutboxRow[]): Promise<void> {
  if (ready.length > 0) await transport.publish(ready.map(toMessage));
}

/**
 * Delete the confirmed rows and commit, in one simple-protocol round trip. The rows are found by the
 * ctids the scan read (a TID scan, no index lookup per row: measured, a third of the delete's time by
 * `seq IN (…)`): a row's ctid cannot change while this transaction holds its lock (no UPDATE, and
 * VACUUM FULL or CLUSTER would need a lock the batch's lock blocks). Held-back rows are unlocked for
 * the next batch.
 */
export async function commitRows(client: PoolClient, outbox: Table, places: readonly string[]): Promise<void> {
  if (places.length === 0) {
    await client.query('COMMIT');
    return;
  }
  const tids = checked(places, PLACE, 'ctid').map((p) => `"${p}"`);
  await client.query(`DELETE FROM ${outbox.sql} WHERE ctid = ANY('{${tids.join(',')}}'::tid[]); COMMIT`);
}
