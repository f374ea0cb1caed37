import { matching } from '@org/eventbus';

/** Where the outbox and inbox live: plain or schema-qualified names (`billing.outbox`). */
export interface TableNames {
  /** Default `eventbus_outbox`. */
  outbox?: string;
  /** Default `eventbus_inbox`. */
  inbox?: string;
}

/** One table name, split and quoted once so no SQL is built from unchecked text. */
export interface Table {
  /** As given: `billing.outbox` or `eventbus_outbox`. */
  readonly name: string;
  readonly schema: string | undefined;
  readonly table: string;
  /** `"billing"."outbox"`: safe to put in SQL. */
  readonly sql: string;
}

export interface Tables {
  readonly outbox: Table;
  readonly inbox: Table;
}

export const DEFAULT_TABLES = { outbox: 'eventbus_outbox', inbox: 'eventbus_inbox' } as const;

// Lower-case identifiers only: what PostgreSQL folds unquoted names to, so `psql` users type them plainly.
// 48 characters leaves room under the 63-byte identifier limit for the suffixes of indexes and triggers.
const TABLE_NAME = /^(?:[a-z_][a-z0-9_]{0,47}\.)?[a-z_][a-z0-9_]{0,47}$/;

const quote = (identifier: string) => `"${identifier}"`;

function table(option: string, value: unknown, fallback: string): Table {
  const name = matching(option, value, TABLE_NAME, 'must be a lower-case table name, optionally schema-qualified (schema.table)', fallback);
  const [first, second] = name.split('.') as [string, string | undefined];
  const schema = second === undefined ? undefined : first;
  const bare = second ?? first;
  return { name, schema, table: bare, sql: schema === undefined ? quote(bare) : `${quote(schema)}.${quote(bare)}` };
}

/** The checked table names: a bad one throws a ConfigError naming `tables.outbox` or `tables.inbox`. */
export function resolveTables(names: TableNames | undefined, optionName = (table: keyof TableNames) => `tables.${table}`): Tables {
  return {
    outbox: table(optionName('outbox'), names?.outbox, DEFAULT_TABLES.outbox),
    inbox: table(optionName('inbox'), names?.inbox, DEFAULT_TABLES.inbox),
  };
}

/** A name beside `of` in its schema (an index, a function): `"billing"."outbox_notify"`. */
export function sibling(of: Table, suffix: string, qualified = true): string {
  const name = quote(`${of.table}_${suffix}`);
  return qualified && of.schema !== undefined ? `${quote(of.schema)}.${name}` : name;
}

/** The LISTEN/NOTIFY channel of an outbox table: its name as given. */
export function notifyChannel(outbox: Table): string {
  return outbox.name;
}

/**
 * First key of the relay's doorbell, an advisory lock on (DOORBELL_CLASS, hashtext(channel)): a waiting
 * relay holds it exclusively, writers shared (migrations/003_outbox_doorbell.sql). The two-key form
 * keeps it apart from applications' single-key advisory locks; the value spells "evbd".
 */
export const DOORBELL_CLASS = 0x65766264;
