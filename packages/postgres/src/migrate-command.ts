import { parseArgs } from 'node:util';
import { type Command, type CommandIo, ConfigError, errorMessage, redact } from '@org/eventbus';
import pg from 'pg';
import { migrate } from './migrate.js';
import { resolveTables } from './tables.js';

export const MIGRATE_USAGE = `Usage: eventbus postgres migrate [--url <postgres url>] [--outbox <table>] [--inbox <table>]

Creates or updates the outbox and inbox tables (the SQL files shipped in @org/eventbus-postgres),
in one transaction, recording what it applied in eventbus_migrations. Idempotent: run it on every deploy.

  --url     the database (default: $EVENTBUS_POSTGRES_URL, else $DATABASE_URL)
  --outbox  outbox table, optionally schema-qualified (default eventbus_outbox)
  --inbox   inbox table, optionally schema-qualified (default eventbus_inbox)`;

/** `eventbus postgres migrate`: 0 applied or up to date, 1 the database refused, 2 bad usage. */
async function run(argv: readonly string[], io: CommandIo): Promise<number> {
  let values: { url?: string | undefined; outbox?: string | undefined; inbox?: string | undefined; help?: boolean | undefined };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        url: { type: 'string' },
        outbox: { type: 'string' },
        inbox: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (error) {
    io.err(`eventbus postgres migrate: ${errorMessage(error)}\n\n${MIGRATE_USAGE}`);
    return 2;
  }
  if (values.help) {
    io.out(MIGRATE_USAGE);
    return 0;
  }
  const url = values.url ?? io.env.EVENTBUS_POSTGRES_URL ?? io.env.DATABASE_URL;
  if (!url) {
    io.err(`eventbus postgres migrate: no database: pass --url or set EVENTBUS_POSTGRES_URL\n\n${MIGRATE_USAGE}`);
    return 2;
  }
  const tables = { outbox: values.outbox, inbox: values.inbox };
  try {
    resolveTables(tables, (table) => `--${table}`);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    io.err(`eventbus postgres migrate: ${error.message}`);
    return 2;
  }
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  // An idle connection's error must not crash the command; the query that needs it reports.
  pool.on('error', () => {});
  try {
    const { applied } = await migrate(pool, { tables });
    for (const name of applied) io.out(`applied ${name}`);
    io.out(`eventbus postgres migrate: ${applied.length === 0 ? 'up to date' : `${applied.length} migration(s) applied`} at ${redact(url)}.`);
    return 0;
  } catch (error) {
    io.err(`eventbus postgres migrate: the database at ${redact(url)} refused: ${redact(errorMessage(error))}`);
    return 1;
  } finally {
    await pool.end().catch(() => {});
  }
}

export const migrateCommand: Command = {
  name: 'migrate',
  summary: 'create or update the outbox and inbox tables',
  run,
};
