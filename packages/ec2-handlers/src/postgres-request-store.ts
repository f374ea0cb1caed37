import { matching } from '@org/eventbus';
import type { PreparedOutboxRow } from '@org/eventbus-postgres';
import type { Pool, PoolClient } from 'pg';
import type { Notification, RequestRecord, RequestStep, RequestStore, RequestSummary } from './request-store.js';
import { chainState, sortChain, stepKey } from './request-store.js';

/** A pool (each statement on its own) or the client of a transaction (statements commit with it). */
export type Sql = Pool | PoolClient;

export interface PostgresRequestStoreOptions {
  /** The schema of the service's tables (and of its outbox and inbox). Default "ec2". */
  schema?: string;
}

// Lower-case, unquoted-style names only, so the schema can be put in SQL as a quoted identifier.
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,47}$/;

export function checkSchema(schema: string | undefined): string {
  return matching('schema', schema, SCHEMA_NAME, 'must be a lower-case schema name', 'ec2');
}

/** The service's tables: steps and notifications are keyed, so a redelivered event writes nothing new. */
function ddl(s: string): string {
  return `
CREATE SCHEMA IF NOT EXISTS "${s}";
CREATE TABLE IF NOT EXISTS "${s}".requests (
  request_id text PRIMARY KEY,
  summary    jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS "${s}".request_steps (
  request_id text NOT NULL,
  step_key   text NOT NULL,
  step       jsonb NOT NULL,
  PRIMARY KEY (request_id, step_key)
);
CREATE TABLE IF NOT EXISTS "${s}".notifications (
  notification_id text PRIMARY KEY,
  request_id      text NOT NULL,
  user_id         text NOT NULL,
  body            jsonb NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS notifications_user ON "${s}".notifications (user_id, created_at DESC);
CREATE INDEX IF NOT EXISTS notifications_request ON "${s}".notifications (request_id);`;
}

/** Create the tables if missing; serialised by an advisory lock, so pods starting together do not race. */
export async function migrateRequestTables(pool: Pool, schema: string): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`ec2.migrate.${schema}`]);
    await client.query(ddl(schema));
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

type StoredStep = RequestStep & { instanceIds?: string[] };

/**
 * Request state in PostgreSQL, shared by every API and worker process. `in(client)` gives the same
 * store on a caller's transaction, so a request's row commits with its outbox event, and a handler's
 * writes commit with its emits and its inbox row.
 */
export class PostgresRequestStore implements RequestStore {
  readonly schema: string;
  private readonly t: { requests: string; steps: string; notifications: string };

  constructor(
    private readonly sql: Sql,
    options: PostgresRequestStoreOptions = {},
    private readonly onClose: () => Promise<void> = async () => {},
  ) {
    this.schema = checkSchema(options.schema);
    const q = `"${this.schema}"`;
    this.t = { requests: `${q}.requests`, steps: `${q}.request_steps`, notifications: `${q}.notifications` };
  }

  /** This store on `client` (inside the caller's BEGIN … COMMIT). Closing it closes nothing. */
  in(client: PoolClient): PostgresRequestStore {
    return new PostgresRequestStore(client, { schema: this.schema });
  }

  /**
   * The request, its first step and (when given) its outbox row in one statement: atomic without
   * BEGIN/COMMIT, one round trip. Resolves false when the id was already taken (a retried POST with the
   * same Idempotency-Key): nothing is written then, the event neither.
   */
  async insert(request: RequestSummary, firstStep: RequestStep, event?: Pick<PreparedOutboxRow, 'values' | 'insert'>): Promise<boolean> {
    const outboxRow = event ? `, o AS (${event.insert(5, 'EXISTS (SELECT 1 FROM r)')})` : '';
    const { rows } = await this.sql.query(
      `WITH r AS (INSERT INTO ${this.t.requests} (request_id, summary) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING request_id),
       s AS (INSERT INTO ${this.t.steps} (request_id, step_key, step) SELECT request_id, $3, $4 FROM r)${outboxRow}
       SELECT request_id FROM r`,
      [request.requestId, JSON.stringify(request), stepKey(firstStep), JSON.stringify(firstStep), ...(event?.values ?? [])],
    );
    return rows.length > 0;
  }

  async create(request: RequestSummary): Promise<void> {
    await this.sql.query(`INSERT INTO ${this.t.requests} (request_id, summary) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [
      request.requestId,
      JSON.stringify(request),
    ]);
  }

  async remove(requestId: string): Promise<void> {
    await this.sql.query(
      `WITH a AS (DELETE FROM ${this.t.steps} WHERE request_id = $1), b AS (DELETE FROM ${this.t.notifications} WHERE request_id = $1)
       DELETE FROM ${this.t.requests} WHERE request_id = $1`,
      [requestId],
    );
  }

  async addStep(requestId: string, step: RequestStep, instanceIds?: string[]): Promise<void> {
    const stored: StoredStep = instanceIds ? { ...step, instanceIds } : step;
    await this.sql.query(`INSERT INTO ${this.t.steps} (request_id, step_key, step) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [
      requestId,
      stepKey(step),
      JSON.stringify(stored),
    ]);
  }

  async addNotification(n: Notification): Promise<void> {
    await this.sql.query(
      `INSERT INTO ${this.t.notifications} (notification_id, request_id, user_id, body) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
      [n.notificationId, n.requestId, n.userId, JSON.stringify(n)],
    );
  }

  async get(requestId: string): Promise<RequestRecord | undefined> {
    const { rows } = await this.sql.query<{ summary: RequestSummary | null; steps: StoredStep[]; notification: Notification | null }>(
      `SELECT (SELECT summary FROM ${this.t.requests} WHERE request_id = $1) AS summary,
              (SELECT coalesce(jsonb_agg(step), '[]'::jsonb) FROM ${this.t.steps} WHERE request_id = $1) AS steps,
              (SELECT body FROM ${this.t.notifications} WHERE request_id = $1 ORDER BY created_at DESC LIMIT 1) AS notification`,
      [requestId],
    );
    const row = rows[0];
    if (!row || (!row.summary && !row.notification && row.steps.length === 0)) return undefined;
    const instanceIds = row.steps.find((s) => s.instanceIds && s.instanceIds.length > 0)?.instanceIds ?? [];
    const chain = sortChain(row.steps.map(({ instanceIds: _ignored, ...step }) => step));
    return {
      requestId,
      ...chainState(chain),
      ...(row.summary ? { request: row.summary } : {}),
      instanceIds,
      chain,
      ...(row.notification ? { notification: row.notification } : {}),
    };
  }

  async notifications(userId: string, limit = 50): Promise<Notification[]> {
    const { rows } = await this.sql.query<{ body: Notification }>(
      `SELECT body FROM ${this.t.notifications} WHERE user_id = $1 ORDER BY created_at DESC LIMIT $2`,
      [userId, limit],
    );
    return rows.map((r) => r.body);
  }

  async close(): Promise<void> {
    await this.onClose();
  }
}
