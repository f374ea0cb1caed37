import type { Transport } from '@org/eventbus';
import type { Pool, PoolClient } from 'pg';
import type { OutboxRow } from './outbox.js';
import { commitRows, publishRows, type TakenRows, takeRows } from './relay-batch.js';
import type { Table } from './tables.js';

export interface PipelineOptions {
  pool: Pool;
  outbox: Table;
  transport: Transport;
  batchSize: number;
  /** Batches taken and not yet committed, at most; 1 runs take, publish, commit one batch after another. */
  depth: number;
}

export interface PumpResult {
  /** Rows confirmed and deleted by this pump. */
  published: number;
  /** The last batch taken held rows back (behind another relay's rows of their key). */
  heldBack: boolean;
  /** The first failure (a take, a publish or a commit); the batches after it were rolled back. */
  error?: unknown;
}

/** One batch on its way through: taken, then published after its predecessor, then committed after it. */
interface Step {
  readonly ready: readonly OutboxRow[];
  /** The ctids of `ready`, for its delete. */
  readonly places: readonly string[];
  /** true once its rows are confirmed; false when it did not publish (it or an earlier batch failed, or the relay stops). */
  readonly published: Promise<boolean>;
  /** Its transaction is over: committed (rows deleted) or rolled back. */
  readonly done: Promise<{ committed: boolean; published: number; error?: unknown }>;
}

/**
 * Runs relay batches so that database work overlaps publishing: while batch N waits for the broker's
 * confirm, batch N+1 is locked and read; once N is confirmed, N+1 is published while N's rows are
 * deleted and committed. What keeps the promises of the one-batch-at-a-time relay:
 * - publishes stay in `seq` order per key: N+1 publishes only after N's publish resolved, and not at all
 *   if N's failed (SKIP LOCKED already kept N's rows out of N+1; rows of another relay still hold keys back);
 * - commits stay in order: N+1 commits only after N committed, and rolls back if N did not, so a failure
 *   or a kill republishes an in-order run of rows (at least once, ids kept), never an older row after a newer;
 * - nothing is deleted that the broker did not confirm: each batch deletes only its own published rows.
 */
export function createPipeline({ pool, outbox, transport, batchSize, depth }: PipelineOptions) {
  /** Connect and take a batch; `ahead` are the rows of this relay's batches still in flight. */
  async function take(ahead: readonly Step[]) {
    const client = await pool.connect();
    try {
      const taken = await takeRows(
        client,
        outbox,
        batchSize,
        ahead.flatMap((s) => s.ready.map((r) => r.seq)),
      );
      return { client, ...taken };
    } catch (error) {
      // The connection may be the broken part: do not hand it back to the pool.
      client.release(true);
      throw error;
    }
  }

  async function rollback(client: PoolClient, failed: boolean) {
    try {
      await client.query('ROLLBACK');
      client.release(failed);
    } catch {
      client.release(true);
    }
  }

  /**
   * Runs batches until one comes back short (fewer rows than `batchSize`, or none it may publish),
   * one fails, or `keepGoing` turns false; resolves when every batch it took is committed or rolled back.
   */
  async function pump(keepGoing: () => boolean): Promise<PumpResult> {
    const window: Step[] = [];
    let halted = false;
    let published = 0;
    let heldBack = false;
    let firstError: unknown;
    const fail = (error: unknown) => {
      halted = true;
      firstError ??= error;
    };

    function launch(client: PoolClient, { ready, places }: TakenRows, before: Step | undefined): Step {
      const publishing = (async () => {
        if (before && !(await before.published)) return false;
        // Stopping hands back a batch that has not started publishing (rolled back, nothing lost).
        if (halted || !keepGoing()) return false;
        await publishRows(transport, ready);
        return true;
      })().catch((error: unknown) => {
        fail(error);
        return false;
      });
      const done = (async () => {
        const ok = await publishing;
        const earlier = before ? await before.done : { committed: true };
        if (!ok || !earlier.committed) {
          await rollback(client, firstError !== undefined);
          return { committed: false, published: 0 };
        }
        try {
          await commitRows(client, outbox, places);
          client.release();
          return { committed: true, published: ready.length };
        } catch (error) {
          fail(error);
          // Confirmed but not deleted: the rows are published again (at least once, ids kept).
          await rollback(client, true);
          return { committed: false, published: 0, error };
        }
      })();
      return { ready, places, published: publishing, done };
    }

    const settle = async (step: Step) => {
      published += (await step.done).published;
    };

    let short = false;
    while (!short && !halted && keepGoing()) {
      if (window.length >= depth) {
        await settle(window.shift()!);
        continue;
      }
      let taken: Awaited<ReturnType<typeof take>>;
      try {
        taken = await take(window);
      } catch (error) {
        fail(error);
        break;
      }
      window.push(launch(taken.client, taken, window.at(-1)));
      heldBack = taken.locked > taken.ready.length;
      short = taken.locked < batchSize || taken.ready.length === 0;
    }
    while (window.length > 0) await settle(window.shift()!);
    return firstError === undefined ? { published, heldBack } : { published, heldBack, error: firstError };
  }

  return { pump };
}
