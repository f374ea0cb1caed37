import { ConfigError } from '@org/eventbus';

/** One row set, as node-postgres, Kysely's `sql.raw` wrappers and Prisma's `$queryRawUnsafe` can give it. */
export interface QueryResult<Row> {
  rows: Row[];
}

/**
 * The seam for query builders: run one parameterised statement (`$1`, `$2`…) on the caller's
 * transaction. Kysely: `(text, params) => sql.raw(...).execute(trx)`; Drizzle: `tx.execute(...)`;
 * Prisma: `async (text, params) => ({ rows: await tx.$queryRawUnsafe(text, ...params) })`.
 */
export type QueryFunction = (text: string, params: readonly unknown[]) => Promise<QueryResult<Record<string, unknown>>>;

/** Anything with node-postgres' `query(text, values)`: a `pg.Client` or a `PoolClient` inside BEGIN. */
export interface Queryable {
  query(text: string, values?: unknown[]): Promise<QueryResult<Record<string, unknown>>>;
}

/** Where an outbox write goes: a pg client in a transaction, or a query function of the caller's. */
export type TransactionTarget = Queryable | QueryFunction;

/**
 * The query function for a target. A `pg.Pool` is refused (unless the caller writes in one statement,
 * which commits on its own): each of its queries may run on another connection, outside the caller's
 * transaction, which is the very thing the outbox exists to avoid.
 */
export function queryFor(target: TransactionTarget, option = 'client', { poolAllowed = false } = {}): QueryFunction {
  if (typeof target === 'function') return target;
  if (typeof target !== 'object' || target === null || typeof target.query !== 'function') {
    throw new ConfigError(option, 'must be a pg client inside a transaction, or a query function (text, params) => Promise<{ rows }>');
  }
  if (!poolAllowed && 'totalCount' in target && 'idleCount' in target) {
    throw new ConfigError(option, 'is a pg.Pool: pass the client of your transaction (await pool.connect(), then BEGIN), so the event commits with your writes');
  }
  return (text, params) => target.query(text, [...params]);
}
