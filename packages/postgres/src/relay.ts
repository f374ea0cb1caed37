import { ConfigError, consoleLogger, errorMessage, type Logger, positiveNumber, safeLogger, type Transport, wholeNumber } from '@org/eventbus';
import type { Pool, PoolClient } from 'pg';
import { createPipeline } from './relay-pipeline.js';
import { DOORBELL_CLASS, notifyChannel, resolveTables, type TableNames } from './tables.js';

export interface RelayOptions {
  /**
   * Where the relay's connections come from: one held for LISTEN, one per batch until the broker confirms.
   * Beside request handlers, give it a pool of its own (`batchesInFlight + 1` connections) so a slow or
   * unreachable broker never holds connections your requests wait for.
   */
  pool: Pool;
  /** Where rows go: the transport of the bus that encoded them (its wire encoding is in the rows). */
  transport: Transport;
  tables?: TableNames;
  /**
   * Rows locked, published and deleted per transaction, at most. Default 1000: each batch pays two
   * round trips, a planned scan, a commit and a broker request whatever its size, so under a backlog
   * larger batches drain faster (docs/decisions/0007); a relay that keeps up takes what is there.
   */
  batchSize?: number;
  /**
   * Batches one relay holds at once (each a transaction and a pool connection): with 2 or more, the next
   * batch is locked and read while one waits for the broker's confirm, and a confirmed one is deleted
   * while the next publishes; publishes and commits stay in order. Default 2; 1 runs them one after
   * another (one connection fewer). Measured on one 2-core machine with broker and database beside the
   * relay, 2 drained 1.1–1.3 × faster than 1 (docs/decisions/0007); more than 2 did not add.
   */
  batchesInFlight?: number;
  /** ms between looks at the table when no NOTIFY arrives (the fallback when LISTEN is lost). Default 1000. */
  pollIntervalMs?: number;
  /** ms before retrying after a failed batch (broker or database down), doubling to 30 s. Default 500. */
  retryDelayMs?: number;
  /** Default `consoleLogger('warn')`: one line per failed batch. */
  logger?: Logger;
  /** Every failed batch and lost LISTEN connection. */
  onError?: (error: Error) => void;
}

export interface RelayBacklog {
  /** Rows waiting (committed, not yet confirmed by the broker). */
  rows: number;
  /** ms since the oldest waiting row was written; 0 when none wait. */
  oldestAgeMs: number;
}

export interface Relay {
  /** LISTEN for commits and start relaying in the background. */
  start(): Promise<void>;
  /**
   * Stop taking batches; resolves when the batch being published is confirmed and deleted (or rolled
   * back). A batch read ahead that has not started publishing is rolled back: its rows wait, unlocked.
   */
  stop(): Promise<void>;
  /** Relay batches until the table is empty (or only rows held back by another relay remain); returns rows published. */
  drain(): Promise<number>;
  backlog(): Promise<RelayBacklog>;
}

export const DEFAULT_BATCH_SIZE = 1_000;
export const DEFAULT_BATCHES_IN_FLIGHT = 2;
const MAX_RETRY_DELAY_MS = 30_000;
/** ms between looks while rows keep coming (instead of a NOTIFY per writer). */
const BUSY_LOOK_MS = 10;
/** Empty looks in a row before the relay takes the doorbell and waits for NOTIFYs (~100 ms idle). */
const IDLE_LOOKS = 10;

/**
 * Publishes committed outbox rows through a transport, in `seq` order per key, and deletes what the
 * broker confirmed. Wakes on NOTIFY (sent at commit by the table's trigger), polls as a fallback, and
 * runs beside other relays on the same table: SKIP LOCKED shares the rows out, and a row waits while an
 * earlier row of its key is in another relay's batch.
 */
export function createRelay(options: RelayOptions): Relay {
  if (typeof options?.pool?.connect !== 'function') throw new ConfigError('pool', 'is required: a pg.Pool');
  if (typeof options.transport?.publish !== 'function') throw new ConfigError('transport', 'is required: the Transport to publish through');
  const { pool, transport } = options;
  const { outbox } = resolveTables(options.tables);
  const batchSize = wholeNumber('batchSize', options.batchSize, DEFAULT_BATCH_SIZE, { max: 10_000 });
  const pollIntervalMs = positiveNumber('pollIntervalMs', options.pollIntervalMs, 1_000);
  const retryDelayMs = positiveNumber('retryDelayMs', options.retryDelayMs, 500);
  const depth = wholeNumber('batchesInFlight', options.batchesInFlight, DEFAULT_BATCHES_IN_FLIGHT, { max: 8 });
  const pipeline = createPipeline({ pool, outbox, transport, batchSize, depth });
  const logger = safeLogger(options.logger ?? consoleLogger('warn'), { relay: outbox.name, transport: transport.name });

  let running = false;
  let loop: Promise<void> | undefined;
  let listener: PoolClient | undefined;
  let notified = false;
  // Whether this relay's LISTEN connection holds the doorbell (its session lock goes with the connection).
  let doorbell = false;
  const channel = notifyChannel(outbox);
  let wake: () => void = () => {};
  let unlisten: (client: PoolClient) => void = () => {};

  const report = (error: unknown, what: string) => {
    const err = error instanceof Error ? error : new Error(errorMessage(error));
    logger.warn({ err }, what);
    options.onError?.(err);
  };

  /** The LISTEN connection is held for the relay's life and destroyed after, never handed back dirty. */
  async function listen() {
    if (listener) return;
    const client = await pool.connect();
    const onNotification = () => {
      notified = true;
      wake();
    };
    const onError = (error: Error) => {
      report(error, 'relay lost its LISTEN connection; polling until it is back');
      unlisten(client);
    };
    client.on('notification', onNotification);
    client.on('error', onError);
    unlisten = (c) => {
      c.off('notification', onNotification);
      c.off('error', onError);
      if (listener === c) {
        listener = undefined;
        doorbell = false;
      }
      c.release(true);
      unlisten = () => {};
    };
    try {
      await client.query(`LISTEN "${channel}"`);
    } catch (error) {
      unlisten(client);
      throw error;
    }
    listener = client;
  }

  function pause(ms: number) {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = () => {};
        resolve();
      }
      wake = done;
      if (notified || !running) done();
    });
  }

  /**
   * Take the doorbell (migrations/003): from now on writers NOTIFY. Taken only once every writer that
   * skipped its NOTIFY has committed (they hold the lock shared until then), so one more look after it
   * finds their rows. False while a writer's transaction or another relay holds it.
   */
  async function takeDoorbell(client: PoolClient): Promise<boolean> {
    const { rows } = await client.query<{ taken: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS taken', [DOORBELL_CLASS, channel]);
    return rows[0]?.taken === true;
  }

  /** Busy again: writers stop notifying (and stop queueing their commits behind each other's). */
  async function releaseDoorbell(client: PoolClient) {
    await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [DOORBELL_CLASS, channel]);
  }

  async function run() {
    let failures = 0;
    // Looks in a row that found nothing while not holding the doorbell.
    let emptyLooks = 0;
    while (running) {
      notified = false;
      try {
        if (!listener) await listen();
        // Batches go until one comes back short.
        const { published, heldBack, error } = await pipeline.pump(() => running);
        if (error !== undefined) throw error;
        failures = 0;
        if (published > 0 || heldBack) {
          emptyLooks = 0;
          if (doorbell && listener) await releaseDoorbell(listener);
          doorbell = false;
          // While rows keep coming (or wait behind another relay's batch), look again soon rather than
          // have every writer NOTIFY.
          await pause(Math.min(pollIntervalMs, BUSY_LOOK_MS));
        } else if (doorbell || !listener) {
          await pause(pollIntervalMs);
        } else if (++emptyLooks < IDLE_LOOKS) {
          await pause(Math.min(pollIntervalMs, BUSY_LOOK_MS));
        } else if (await takeDoorbell(listener)) {
          doorbell = true;
          // Look once more at once: the rows of writers that skipped their NOTIFY are committed now.
        } else {
          // A writer's transaction or another relay holds it; past a few tries it is most likely a relay
          // (whose doorbell NOTIFYs reach this relay too), so fall back to the poll between tries.
          await pause(emptyLooks < IDLE_LOOKS * 5 ? Math.min(pollIntervalMs, BUSY_LOOK_MS) : pollIntervalMs);
        }
      } catch (error) {
        failures++;
        report(error, 'relay batch failed; its rows wait for the next try');
        notified = false;
        await pause(Math.min(retryDelayMs * 2 ** (failures - 1), MAX_RETRY_DELAY_MS));
      }
    }
  }

  return {
    async start() {
      if (running) return;
      running = true;
      try {
        await listen();
      } catch (error) {
        report(error, 'relay could not LISTEN; polling until it can');
      }
      loop = run();
    },

    async stop() {
      running = false;
      wake();
      await loop;
      loop = undefined;
      if (listener) unlisten(listener);
    },

    async drain() {
      const { published, error } = await pipeline.pump(() => true);
      if (error !== undefined) throw error;
      return published;
    },

    async backlog() {
      const { rows } = await pool.query<{ rows: number; age: number }>(
        `SELECT count(*)::int AS rows, coalesce(extract(epoch FROM clock_timestamp() - min(created_at)) * 1000, 0)::float8 AS age FROM ${outbox.sql}`,
      );
      const row = rows[0] ?? { rows: 0, age: 0 };
      return { rows: row.rows, oldestAgeMs: Math.max(0, Math.round(row.age)) };
    },
  };
}
