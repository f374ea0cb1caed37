import { SQS_MAX_MESSAGE_BYTES, type WireMessage } from './attributes.js';
import type { PublishFailure } from './errors.js';

/** SNS PublishBatch and SQS SendMessageBatch take at most 10 entries. */
export const MAX_BATCH_ENTRIES = 10;

/** One message laid out for one destination. */
export interface Entry {
  id: string;
  wire: WireMessage;
  groupId: string | undefined;
  /** A scheduled message's time (ms since epoch): held by a queue destination's DelaySeconds where it can be. */
  notBefore: number | undefined;
}

/**
 * One broker call for `entries` (a plain Publish / SendMessage for one, a batch for more), with the
 * publisher's retries; resolves with the entries that were finally refused, never rejects for a
 * refused entry.
 */
export type SendEntries = (entries: Entry[], signal: AbortSignal | undefined) => Promise<Map<Entry, PublishFailure>>;

interface Waiting {
  entry: Entry;
  signal: AbortSignal | undefined;
  settle(failure: PublishFailure | undefined): void;
  fail(error: unknown): void;
  onAbort: (() => void) | undefined;
}

/**
 * Single publishes to one destination (topic or queue). A publish that finds nothing in flight goes
 * out at once, alone; those that arrive while calls are in flight wait and leave together, up to 10
 * (and 256 KiB) per call, when the destination falls idle or a full batch is waiting and fewer than
 * `maxInFlight` calls are out. Each caller learns its own entry's fate. With `maxInFlight` 1 (FIFO)
 * calls leave in arrival order, one after the other, so a message group keeps its order.
 */
export class Coalescer {
  private readonly pending: Waiting[] = [];
  private inFlight = 0;

  constructor(
    private readonly send: SendEntries,
    private readonly maxInFlight: number,
  ) {}

  /** Resolves with the entry's failure (undefined: accepted); rejects if the call failed as a whole or `signal` aborted it while waiting. */
  submit(entry: Entry, signal: AbortSignal | undefined): Promise<PublishFailure | undefined> {
    signal?.throwIfAborted();
    return new Promise((settle, fail) => {
      const waiting: Waiting = { entry, signal, settle, fail, onAbort: undefined };
      if (signal) {
        // Aborted while waiting for a call: it leaves the queue and was never sent.
        waiting.onAbort = () => {
          const at = this.pending.indexOf(waiting);
          if (at < 0) return;
          this.pending.splice(at, 1);
          fail(signal.reason);
        };
        signal.addEventListener('abort', waiting.onAbort, { once: true });
      }
      this.pending.push(waiting);
      this.pump();
    });
  }

  private pump(): void {
    while (
      this.pending.length > 0 &&
      (this.inFlight === 0 || (this.pending.length >= MAX_BATCH_ENTRIES && this.inFlight < this.maxInFlight))
    ) {
      this.inFlight++;
      void this.run(this.take());
    }
  }

  /** The oldest waiting entries that fit one call. */
  private take(): Waiting[] {
    let count = 0;
    let bytes = 0;
    for (const waiting of this.pending) {
      const size = waiting.entry.wire.size;
      if (count === MAX_BATCH_ENTRIES || (count > 0 && bytes + size > SQS_MAX_MESSAGE_BYTES)) break;
      count++;
      bytes += size;
    }
    const batch = this.pending.splice(0, count);
    for (const waiting of batch) if (waiting.onAbort) waiting.signal?.removeEventListener('abort', waiting.onAbort);
    return batch;
  }

  private async run(batch: Waiting[]): Promise<void> {
    try {
      // A lone entry keeps its caller's signal (its own call to cancel); a shared call is nobody's to cancel.
      const signal = batch.length === 1 ? batch[0]!.signal : undefined;
      const failures = await this.send(
        batch.map((w) => w.entry),
        signal,
      );
      for (const waiting of batch) waiting.settle(failures.get(waiting.entry));
    } catch (error) {
      for (const waiting of batch) waiting.fail(error);
    } finally {
      this.inFlight--;
      this.pump();
    }
  }
}
