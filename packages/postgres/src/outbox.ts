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

  async function write(target: TransactionTarget, messages: readonly OutgoingMessage[]): Promise<void> {
    const query = queryFor(target);
    if (messages.length === 0) return;
    if (messages.some((m) => m.body.byteLength === 0 && m.event !== undefined)) {
      throw new ConfigError('bus', 'a message carries an event object, not bytes: encode for a transport with `serialize: true`');
    }
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
  };
}
