import type { Command } from '@org/eventbus';
import { migrateCommand } from './migrate-command.js';

export { inbox, type InboxOptions, type PruneOptions, pruneInbox, transactionOf } from './inbox.js';
export { MIGRATE_USAGE, migrateCommand } from './migrate-command.js';
export { type MigrateOptions, type MigrateResult, type Migration, migrate, migrations } from './migrate.js';
export { createOutbox, type EventEncoder, type Outbox, type OutboxOptions, type PreparedOutboxRow, type Statement } from './outbox.js';
export type { QueryFunction, QueryResult, Queryable, TransactionTarget } from './query.js';
export { createRelay, DEFAULT_BATCH_SIZE, DEFAULT_BATCHES_IN_FLIGHT, type Relay, type RelayBacklog, type RelayOptions } from './relay.js';
export { DEFAULT_TABLES, resolveTables, type Table, type TableNames, type Tables } from './tables.js';

/** What `eventbus postgres <command>` runs (the package.json "eventbus" field names the package "postgres"). */
export const commands: readonly Command[] = [migrateCommand];
