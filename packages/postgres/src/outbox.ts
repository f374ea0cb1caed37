import {
  type BatchEntry,
  type CloudEvent,
  ConfigError,
  type EnvelopeOptions,
  type ScheduleOptions,
  type EventContract,
  type EventData,
  type EventInput,
  type OutgoingMessage,
  type Transport,
} from '@org/eventbus';
import { queryFor, type TransactionTarget } from './query.js';
import { resolveTables, type TableNames, type Tables } from './tables.js';

/** What the outbox needs of a bus: `encode` (validate, envelope, encode, size-check: publish without sending). */
export interface EventEncoder {
  readonly transport: Transport;
  encode<C extends EventContract>(
    contract: C,
    data: EventInput<C>,
    options?: EnvelopeOptions & ScheduleOptions,
  ): { event: CloudEvent<EventData<C>>; message: OutgoingMessage };
}

export interface OutboxOptions {
  /** The bus whose transport the relay publishes through: messages are encoded for its wire. */
  bus: EventEncoder;
  tables?: TableNames;
}

export interface Outbox {
  readonly tables: Tables;
  /**
   * Validate, encode and write one event in the caller's transaction. Rejects (writing nothing) with a
   * ValidationError for bad data, as `bus.publish` would; the relay publishes it once the transaction commits.
   */
  publish<C extends EventContract>(
    target: TransactionTarget,
    contract: C,
    data: EventInput<C>,
    options?: EnvelopeOptions & ScheduleOptions,
  ): Promise<CloudEvent<EventData<C>>>;
  /** Validate all, then write all in one statement; one bad entry writes nothing. */
  publishBatch(target: TransactionTarget, entries: readonly BatchEntry[]): Promise<CloudEvent[]>;
  /** Write messages already encoded (a handler's held emits, for the inbox). */
  write(target: TransactionTarget, messages: readonly OutgoingMessage[]): Promise<void>;
  /**
   * Your write and its event in ONE statement, so they commit together without BEGIN/COMMIT (one round
   * trip instead of four; a `pg.Pool` is fine here). `statement` must be a data-modifying statement with
   * RETURNING (`INSERT … ON CONFLICT DO NOTHING RETURNING id`): the event is written only when it returned
   * a row, so an idempotent retry that wrote nothing publishes nothing. Resolves with its rows and the
   * event, or `event: undefined` when nothing was written.
   */
  publishWith<C extends EventContract, Row extends Record<string, unknown> = Record<string, unknown>>(
    target: TransactionTarget,
    statement: Statement,
    contract: C,
    data: EventInput<C>,
    options?: EnvelopeOptions & ScheduleOptions,
  ): Promise<{ rows: Row[]; event: CloudEvent<EventData<C>> | undefined }>;
  /**
   * Validate and encode now; write later as part of a statement of yours (several CTEs, say). The
   * pieces for composing it by hand when `publishWith`'s one statement is not enough.
   */
  prepare<C extends EventContract>(contract: C, data: EventInput<C>, options?: EnvelopeOptions & ScheduleOptions): PreparedOutboxRow<C>;
}

/** A parameterised statement: text with `$1`… and its values. */
export interface Statement {
  text: string;
  values?: readonly unknown[];
}

/** One encoded event, ready to be written by a statement the caller composes. */
export interface PreparedOutboxRow<C extends EventContract = EventContract> {
  readonly event: CloudEvent<EventData<C>>;
  /** The five column values (channel, event id, key, headers, body), to append to the statement's own. */
  readonly values: readonly unknown[];
  /**
   * `INSERT INTO <outbox> … SELECT $n, $n+1, … [WHERE <condition>]`, its values numbered from
   * `firstParam`: put it in a CTE (`o AS (…)`) of a statement whose values end at `firstParam - 1`.
   */
  insert(firstParam: number, condition?: string): string;
}

/** The columns of one outbox row, as the relay reads them back. */
export interface OutboxRow {
  seq: string;
  channel: string;
  event_id: string;
  key: string | null;
  headers: Record<string, string>;
  body: Buffer;
}

export function createOutbox(options: OutboxOptions): Outbox {
  const bus = options?.bus;
  if (typeof bus?.encode !== 'function') throw new ConfigError('bus', 'is required: the event bus whose transport the relay publishes through');
  if (bus.transport.capabilities.carriesEvents === true) {
    throw new ConfigError('bus', 'uses a memory transport with `serialize: false`, which carries objects, not bytes: the outbox stores bytes (use serialize: true)');
  }
  const tables = resolveTables(options.tables);
  // unnest keeps one statement (one round trip) for any number of rows; headers travel as text, cast once.
  const insert =
    `INSERT INTO ${tables.outbox.sql} (channel, event_id, key, headers, body) ` +
    'SELECT c, i, k, h::jsonb, b FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[]) AS m(c, i, k, h, b)';

  function checkBytes(messages: readonly OutgoingMessage[]): void {
    if (messages.some((m) => m.body.byteLength === 0 && m.event !== undefined)) {
      throw new ConfigError('bus', 'a message carries an event object, not bytes: encode for a transport with `serialize: true`');
    }
  }

  function prepare<C extends EventContract>(contract: C, data: EventInput<C>, envelopeOptions?: EnvelopeOptions & ScheduleOptions): PreparedOutboxRow<C> {
    const { event, message: m } = bus.encode(contract, data, envelopeOptions);
    checkBytes([m]);
    const values = [m.channel, m.id, m.key ?? null, JSON.stringify(m.headers), Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength)];
    return {
      event,
      values,
      insert(firstParam, condition) {
        if (!Number.isInteger(firstParam) || firstParam < 1) throw new ConfigError('firstParam', `must be a whole number ≥ 1, got ${firstParam}`);
        const [c, i, k, h, b] = [0, 1, 2, 3, 4].map((n) => `$${firstParam + n}`);
        return (
          `INSERT INTO ${tables.outbox.sql} (channel, event_id, key, headers, body) ` +
          `SELECT ${c}::text, ${i}::text, ${k}::text, ${h}::jsonb, ${b}::bytea${condition ? ` WHERE ${condition}` : ''}`
        );
      },
    };
  }

  async function write(target: TransactionTarget, messages: readonly OutgoingMessage[]): Promise<void> {
    const query = queryFor(target);
    if (messages.length === 0) return;
    checkBytes(messages);
    await query(insert, [
      messages.map((m) => m.channel),
      messages.map((m) => m.id),
      messages.map((m) => m.key ?? null),
      messages.map((m) => JSON.stringify(m.headers)),
      messages.map((m) => Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength)),
    ]);
  }

  return {
    tables,
    async publish(target, contract, data, envelopeOptions) {
      queryFor(target);
      const { event, message } = bus.encode(contract, data, envelopeOptions);
      await write(target, [message]);
      return event;
    },
    async publishBatch(target, entries) {
      queryFor(target);
      const built = entries.map((e) => bus.encode(e.contract, e.data, e.options));
      await write(
        target,
        built.map((b) => b.message),
      );
      return built.map((b) => b.event);
    },
    write,
    prepare,
    async publishWith(target, statement, contract, data, envelopeOptions) {
      const query = queryFor(target, 'client', { poolAllowed: true });
      if (typeof statement?.text !== 'string' || !/\bRETURNING\b/i.test(statement.text)) {
        throw new ConfigError('statement', 'must be a data-modifying statement with RETURNING (the event is written only when it returns a row)');
      }
      const own = statement.values ?? [];
      const row = prepare(contract, data, envelopeOptions);
      // Data-modifying CTEs run once and see the same snapshot: the outbox row exists exactly when `w` wrote.
      const text = `WITH w AS (${statement.text}), o AS (${row.insert(own.length + 1, 'EXISTS (SELECT 1 FROM w)')}) SELECT * FROM w`;
      const { rows } = await query(text, [...own, ...row.values]);
      return { rows: rows as never[], event: rows.length > 0 ? row.event : undefined };
    },
  };
}
