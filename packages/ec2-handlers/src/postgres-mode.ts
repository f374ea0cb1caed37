// Postgres mode: request state, the outbox and the workers' inbox in one database. Loaded only when
// configured (pg and @org/eventbus-postgres are optional peers), so the memory default needs neither.
import { type EmitOptions, type EventBus, type EventInput, type Logger, type OutgoingMessage, silentLogger, type Transport } from '@org/eventbus';
import {
  createOutbox,
  createRelay,
  DEFAULT_BATCHES_IN_FLIGHT,
  migrate,
  type Outbox,
  type Relay,
  type RelayOptions,
  resolveTables,
  type Tables,
} from '@org/eventbus-postgres';
import pg from 'pg';
import { Ec2LaunchRequested } from './contracts.js';
import type { HandlerTransactions } from './handler-transactions.js';
import type { LaunchIntake } from './http.js';
import { checkSchema, migrateRequestTables, PostgresRequestStore } from './postgres-request-store.js';

export interface PostgresModeOptions {
  /** The schema of the request tables, the outbox and the inbox. Default "ec2". */
  schema?: string;
  /** Create or update the tables at start (default true); false when `eventbus postgres migrate` ran in the deploy. */
  migrate?: boolean;
  /** Connections of this process for requests and handlers. Default 10. The relay, where it runs, opens its own (`batchesInFlight` + 1, 3 by default). */
  poolSize?: number;
  /**
   * Wait for the WAL flush before a commit returns (default true). Off, a 202 can be lost in a
   * database crash (not in an API crash): the last ~0.6 s of commits. See docs/reference-service-postgres.md.
   */
  synchronousCommit?: boolean;
  /** Relay tuning (batch size, batches in flight, poll and retry intervals). */
  relay?: Pick<RelayOptions, 'batchSize' | 'batchesInFlight' | 'pollIntervalMs' | 'retryDelayMs' | 'onError'>;
  logger?: Logger;
}

export interface PostgresMode {
  readonly pool: pg.Pool;
  readonly store: PostgresRequestStore;
  readonly tables: Tables;
  /** The API's POST: the request row and its event (encoded by `bus`) in one transaction. */
  intake(bus: EventBus): LaunchIntake;
  /** The workers' handlers: writes, emits (encoded by `bus`) and the inbox row in one transaction. */
  transactions(bus: EventBus): HandlerTransactions;
  /** Publishes committed outbox rows through `transport` (start it where the API runs). */
  relay(transport: Transport): Relay;
  /** Ends the pool (the store's close does it too). */
  close(): Promise<void>;
}

/** Connect, migrate (unless told not to) and give the pieces the service wires in. */
export async function connectPostgres(url: string, options: PostgresModeOptions = {}): Promise<PostgresMode> {
  const schema = checkSchema(options.schema);
  const tables = { outbox: `${schema}.eventbus_outbox`, inbox: `${schema}.eventbus_inbox` };
  const sync = options.synchronousCommit === false ? ' -c synchronous_commit=off' : '';
  const logger = options.logger ?? silentLogger;
  const openPool = (max: number, name: string) => {
    const opened = new pg.Pool({ connectionString: url, max, options: `-c application_name=${name}${sync}` });
    // An idle client losing its connection must not crash the process; the next query reconnects.
    opened.on('error', (error) => logger.warn({ err: error }, 'postgres connection lost'));
    return opened;
  };
  const pool = openPool(options.poolSize ?? 10, 'eventbus-ec2');
  const relayPools: pg.Pool[] = [];
  let ended: Promise<void> | undefined;
  const close = () => {
    ended ??= Promise.all([pool, ...relayPools].map((p) => p.end())).then(() => {});
    return ended;
  };
  try {
    if (options.migrate !== false) {
      await migrate(pool, { tables });
      await migrateRequestTables(pool, schema);
    }
  } catch (error) {
    await close();
    throw error;
  }
  const store = new PostgresRequestStore(pool, { schema }, close);
  const outboxes = new WeakMap<EventBus, Outbox>();
  const outboxFor = (bus: EventBus) => {
    let outbox = outboxes.get(bus);
    if (!outbox) {
      outbox = createOutbox({ bus, tables });
      outboxes.set(bus, outbox);
    }
    return outbox;
  };

  async function transaction<T>(work: (client: pg.PoolClient) => Promise<T>, rollbackWhen: (result: T) => boolean = () => false): Promise<T> {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query(rollbackWhen(result) ? 'ROLLBACK' : 'COMMIT');
      client.release();
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      // The connection may be the broken part: do not hand it back to the pool.
      client.release(true);
      throw error;
    }
  }

  return {
    pool,
    store,
    tables: resolveTables(tables),
    intake(bus) {
      const outbox = outboxFor(bus);
      return {
        // One statement (request, first step, outbox row): it commits on its own, so no BEGIN/COMMIT and
        // one round trip per POST. A taken id is a retried POST (same Idempotency-Key): nothing is written.
        accept: async (summary, data, firstStep) => {
          const event = outbox.prepare(Ec2LaunchRequested, data, { id: summary.requestId, subject: summary.requestId });
          await store.insert(summary, firstStep, event);
        },
      };
    },
    transactions(bus) {
      const outbox = outboxFor(bus);
      const inbox = outbox.tables.inbox.sql;
      return {
        async done(ctx) {
          const { rows } = await pool.query(`SELECT 1 FROM ${inbox} WHERE group_name = $1 AND event_id = $2`, [ctx.group, ctx.event.id]);
          return rows.length > 0;
        },
        run(ctx, { markDone }, work) {
          type E = Parameters<typeof ctx.emit>[0];
          const incoming = ctx.event;
          return transaction(
            async (client) => {
              // The primary key makes a concurrent copy of this event wait here for our commit, then skip.
              if (markDone) {
                const { rows } = await client.query(
                  `INSERT INTO ${inbox} (group_name, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING event_id`,
                  [ctx.group, incoming.id],
                );
                if (rows.length === 0) return false;
              }
              // Emits are held and written with the handler's writes: they reach the broker only if all commit.
              const held: OutgoingMessage[] = [];
              function emit<C extends E>(contract: C, data: EventInput<C>, emitOptions: EmitOptions = {}) {
                const { event, message } = bus.encode(contract, data, {
                  ...emitOptions,
                  causationId: incoming.id,
                  correlationId: incoming.correlationid ?? incoming.id,
                  ...(incoming.traceparent !== undefined ? { traceparent: incoming.traceparent } : {}),
                  ...(incoming.tracestate !== undefined ? { tracestate: incoming.tracestate } : {}),
                });
                held.push(message);
                return Promise.resolve(event);
              }
              await work({ store: store.in(client), emit });
              await outbox.write(client, held);
              return true;
            },
            (committed) => !committed,
          );
        },
      };
    },
    relay(transport) {
      // Connections of its own: the relay holds its LISTEN connection for good and each batch's connection
      // until the broker confirms (through a broker outage, for as long as it lasts). On the requests'
      // pool that took connections from the POSTs the outbox exists to keep answering: measured at
      // 1,000 POST/s, server-side p50 0.75–1.25 ms against 0.96–1.70 shared (docs/reference-service-postgres.md).
      const relayPool = openPool((options.relay?.batchesInFlight ?? DEFAULT_BATCHES_IN_FLIGHT) + 1, 'eventbus-ec2-relay');
      relayPools.push(relayPool);
      return createRelay({ pool: relayPool, transport, tables, logger, ...options.relay });
    },
    close,
  };
}

export type { LaunchIntake } from './http.js';
export type { HandlerTransactions, HandlerWork } from './handler-transactions.js';
export { PostgresRequestStore, type PostgresRequestStoreOptions } from './postgres-request-store.js';
