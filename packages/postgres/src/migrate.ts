import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Pool } from 'pg';
import { DOORBELL_CLASS, notifyChannel, resolveTables, sibling, type TableNames, type Tables } from './tables.js';

export interface MigrateOptions {
  tables?: TableNames;
}

export interface MigrateResult {
  /** Files applied by this call, in order; empty when the database was already up to date. */
  applied: string[];
}

/** The SQL files shipped in the package (`migrations/`, beside `src/` and `dist/`). */
const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations/', import.meta.url));

/** Serialises concurrent `migrate` calls (two pods starting at once) on one database. */
const MIGRATE_LOCK = 'eventbus.postgres.migrate';

export interface Migration {
  readonly name: string;
  readonly sql: string;
}

/** The shipped migrations with the table names filled in, in file order. */
export async function migrations(tables: Tables): Promise<Migration[]> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith('.sql')).sort();
  const names: Record<string, string> = {
    outbox: tables.outbox.sql,
    outbox_index: sibling(tables.outbox, 'key_seq', false),
    outbox_notify_function: sibling(tables.outbox, 'notify'),
    outbox_notify_trigger: sibling(tables.outbox, 'notify', false),
    // Table names are checked against a pattern without quotes, so this literal is safe.
    outbox_channel: `'${notifyChannel(tables.outbox)}'`,
    doorbell_class: String(DOORBELL_CLASS),
    inbox: tables.inbox.sql,
    inbox_index: sibling(tables.inbox, 'processed_at', false),
  };
  return Promise.all(
    files.map(async (name) => {
      const text = await readFile(`${MIGRATIONS_DIR}${name}`, 'utf8');
      const sql = text.replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
        const value = names[key];
        if (value === undefined) throw new Error(`migration ${name} names an unknown placeholder {{${key}}}`);
        return value;
      });
      return { name, sql };
    }),
  );
}

/**
 * Create or update the outbox and inbox tables: applies, in one transaction, the shipped migrations
 * this database has not had for these table names, and records them in `eventbus_migrations` (in the
 * outbox's schema). Safe to run from several processes at once and on every start.
 */
export async function migrate(pool: Pool, options: MigrateOptions = {}): Promise<MigrateResult> {
  const tables = resolveTables(options.tables);
  const pending = await migrations(tables);
  const schemas = [...new Set([tables.outbox.schema, tables.inbox.schema].filter((s): s is string => s !== undefined))];
  const ledger = tables.outbox.schema === undefined ? '"eventbus_migrations"' : `"${tables.outbox.schema}"."eventbus_migrations"`;
  const target = `${tables.outbox.name} ${tables.inbox.name}`;
  const client = await pool.connect();
  const applied: string[] = [];
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [MIGRATE_LOCK]);
    for (const schema of schemas) await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${ledger} (name text NOT NULL, tables text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (name, tables))`,
    );
    const done = await client.query<{ name: string }>(`SELECT name FROM ${ledger} WHERE tables = $1`, [target]);
    const have = new Set(done.rows.map((r) => r.name));
    for (const migration of pending) {
      if (have.has(migration.name)) continue;
      await client.query(migration.sql);
      await client.query(`INSERT INTO ${ledger} (name, tables) VALUES ($1, $2)`, [migration.name, target]);
      applied.push(migration.name);
    }
    await client.query('COMMIT');
    return { applied };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
