import type { ReceivedMessage } from '@org/eventbus';

/** One received record waiting for, or in, its handler. */
export interface Entry {
  readonly offset: bigint;
  readonly message: ReceivedMessage;
  readonly attempt: number;
  /** Held records (retry and delay topics) may not be handled before this time (ms since epoch). */
  notBefore: number | undefined;
  settled: boolean;
}

/** What core's DeliveryTracker carries for each Kafka delivery: the record and the partition it came from. */
export interface HeldRecord {
  readonly state: PartitionState;
  readonly entry: Entry;
}

/** How far one scan of a partition's queue looks for an entry whose key is free. */
const SCAN_LIMIT = 256;

/**
 * One assigned partition: the records received and not yet settled, in offset order, so the
 * committed offset never passes an unsettled record however handlers finish; and the keys in
 * flight, so two records of one key never run at once.
 */
export class PartitionState {
  /**
   * Received, not yet handed to a handler: `queue[queueHead…]` (taking from the front is O(1)). Slots
   * before the head are cleared, here and in `window`, so a settled entry (and its record's view of
   * the fetch response) can be collected at once rather than when the array is next reset.
   */
  private queue: (Entry | undefined)[] = [];
  private queueHead = 0;
  /** Every received entry not yet committed, in offset order (settled ones drop off the front). */
  private window: (Entry | undefined)[] = [];
  private windowHead = 0;
  private readonly keysInFlight = new Set<string>();
  inFlight = 0;
  /** Offset after the last record received. */
  next = -1n;
  /** Offset last committed (the next record to read). */
  committed = -1n;
  revoked = false;
  /** Set when `take` found nothing to start but a held record not due yet: when the first one is. */
  wakeAt: number | undefined;
  /** Queued entries that carry a hold (retry and delay topics, records put back). */
  heldQueued = 0;
  /**
   * Nothing here may start before this time (every entry scanned was held, none waited on a key):
   * `take` answers at once until then, so a delay topic's backlog is not rescanned on every dispatch.
   */
  private sleepUntil: number | undefined;

  constructor(
    readonly topic: string,
    readonly partition: number,
  ) {}

  /** Records received and not yet handed out. */
  get queued(): number {
    return this.queue.length - this.queueHead;
  }

  /** Adds a record; false if it was already received (a refetch after a rejoin). */
  receive(entry: Entry): boolean {
    if (this.next >= 0n && entry.offset < this.next) return false;
    this.next = entry.offset + 1n;
    if (entry.notBefore === undefined) this.sleepUntil = undefined;
    else {
      this.heldQueued++;
      if (this.sleepUntil !== undefined && entry.notBefore < this.sleepUntil) this.sleepUntil = entry.notBefore;
    }
    this.queue.push(entry);
    this.window.push(entry);
    return true;
  }

  /**
   * The next entry that may start now: due, its key not in flight and not waiting behind an earlier
   * entry of the same key. A held entry (retry or delay topic) not due yet is passed over, and does
   * not hold back later entries of its key: those were held for less and are due first, and one
   * scheduled for earlier must not wait behind it (a delay tier's holds are all one length, so this
   * is rare outside the retry topic's short ones). Sets `wakeAt` to the earliest entry passed over
   * when nothing may start.
   */
  take(now: number): Entry | undefined {
    if (this.sleepUntil !== undefined && this.sleepUntil > now) {
      this.wakeAt = this.sleepUntil;
      return undefined;
    }
    this.sleepUntil = undefined;
    this.wakeAt = undefined;
    const { queue } = this;
    let blocked: Set<string> | undefined;
    let wakeAt: number | undefined;
    const limit = Math.min(queue.length, this.queueHead + SCAN_LIMIT);
    for (let i = this.queueHead; i < limit; i++) {
      const entry = queue[i]!;
      if (entry.notBefore !== undefined && entry.notBefore > now) {
        if (wakeAt === undefined || entry.notBefore < wakeAt) wakeAt = entry.notBefore;
        continue;
      }
      const key = entry.message.key;
      if (key !== undefined && (this.keysInFlight.has(key) || blocked?.has(key))) {
        blocked ??= new Set();
        blocked.add(key);
        continue;
      }
      if (i === this.queueHead) this.dropFront();
      else queue.splice(i, 1);
      if (key !== undefined) this.keysInFlight.add(key);
      if (entry.notBefore !== undefined) this.heldQueued--;
      this.inFlight++;
      return entry;
    }
    this.wakeAt = wakeAt;
    // Only holds kept everything back: nothing changes before the first comes due or a record arrives.
    if (blocked === undefined) this.sleepUntil = wakeAt;
    return undefined;
  }

  /** A handler finished with the entry without settling it (a settle failed): run it again. */
  putBack(entry: Entry, retryAt: number): void {
    this.release(entry);
    entry.notBefore = Math.max(entry.notBefore ?? 0, retryAt);
    this.heldQueued++;
    this.sleepUntil = undefined;
    if (this.queueHead > 0) this.queue[--this.queueHead] = entry;
    else this.queue.unshift(entry);
  }

  settle(entry: Entry): void {
    entry.settled = true;
    this.release(entry);
    const { window } = this;
    while (this.windowHead < window.length && window[this.windowHead]!.settled) window[this.windowHead++] = undefined;
    if (this.windowHead === window.length) {
      // Everything received is settled (the usual state between fetches): start the window afresh.
      this.window = [];
      this.windowHead = 0;
    } else if (this.windowHead > 1024 && this.windowHead * 2 > window.length) {
      window.splice(0, this.windowHead);
      this.windowHead = 0;
    }
  }

  /** The offset it is safe to commit: the first unsettled record, or the one after the last received. */
  commitPoint(): bigint {
    return this.windowHead < this.window.length ? this.window[this.windowHead]!.offset : this.next;
  }

  /** Drop what is queued (not handed out); returns how many entries were dropped, and how many of them were held. */
  dropQueued(): { dropped: number; held: number } {
    const dropped = { dropped: this.queued, held: this.heldQueued };
    this.queue = [];
    this.queueHead = 0;
    this.heldQueued = 0;
    this.sleepUntil = undefined;
    return dropped;
  }

  private dropFront(): void {
    this.queue[this.queueHead++] = undefined;
    if (this.queueHead === this.queue.length) {
      this.queue = [];
      this.queueHead = 0;
    } else if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
  }

  private release(entry: Entry): void {
    this.inFlight--;
    if (entry.message.key !== undefined) this.keysInFlight.delete(entry.message.key);
  }
}
