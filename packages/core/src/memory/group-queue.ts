import type { DeliveryTracker } from '../delivery-tracker.js';
import type { ReceivedMessage } from '../transport.js';
import { Deque } from './deque.js';
import { TimedQueue } from './timed-queue.js';

export interface Entry {
  message: ReceivedMessage;
  attempt: number;
}

/** What the memory transport's tracker carries per delivery: the queue it came from and its entry. */
export interface MemoryRaw {
  queue: GroupQueue;
  entry: Entry;
}

export interface Consumer {
  readonly prefetch: number;
  closed: boolean;
  /** Hands deliveries to the pipeline and counts them until settled (`size` is the in-flight count). */
  readonly tracker: DeliveryTracker<MemoryRaw>;
}

/**
 * One group's queue on the memory broker: competing consumers, prefetch, per-key order (a key is
 * never in flight twice), delayed redelivery and a dead-letter queue of its own.
 */
export class GroupQueue {
  private readonly ready = new Deque<Entry>();
  /** Entries held back because an earlier entry with the same key is in flight. */
  private readonly blockedByKey = new Map<string, Deque<Entry>>();
  private readonly keysInFlight = new Set<string>();
  private readonly consumers: Consumer[] = [];
  private nextConsumer = 0;
  /** Delayed redeliveries, deferrals and scheduled publishes, released in due-time order. */
  private readonly later = new TimedQueue<Entry>((entry) => {
    this.makeReady(entry);
    this.dispatch();
  });
  private readonly spaceWaiters: (() => void)[] = [];
  private dispatching = false;
  private pendingCount = 0;
  /** Settle paths a test has made this queue refuse (`refuseSettles`), as a broker refuses a dead-letter copy. */
  readonly refusing = new Set<'dead-letter' | 'delayed-nack'>();

  constructor(
    readonly group: string,
    private readonly maxBacklog: number,
    private readonly deadLetters: GroupQueue | undefined,
  ) {}

  /** Messages not yet settled: ready, blocked, delayed or in flight. */
  get backlog(): number {
    return this.pendingCount;
  }

  /** Handed to a consumer and not yet settled. */
  get inFlight(): number {
    let n = 0;
    for (const consumer of this.consumers) n += consumer.tracker.size;
    return n;
  }

  hasSpace(): boolean {
    return this.pendingCount < this.maxBacklog;
  }

  /** Resolves when the backlog is below the bound (publishers wait here instead of growing memory). */
  waitForSpace(): Promise<void> {
    if (this.hasSpace() || this.consumers.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.spaceWaiters.push(resolve));
  }

  enqueue(message: ReceivedMessage, attempt = 1): void {
    this.pendingCount++;
    this.makeReady({ message, attempt });
    this.dispatch();
  }

  /** A scheduled publish: in the backlog now, handed out at `due` (ms since epoch). */
  enqueueAt(message: ReceivedMessage, due: number): void {
    this.pendingCount++;
    this.later.add(due, { message, attempt: 1 });
  }

  addConsumer(consumer: Consumer): void {
    this.consumers.push(consumer);
    this.dispatch();
  }

  removeConsumer(consumer: Consumer): void {
    consumer.closed = true;
    const i = this.consumers.indexOf(consumer);
    if (i >= 0) this.consumers.splice(i, 1);
    // Publishers waiting for this consumer must not wait forever once nobody reads.
    if (this.consumers.length === 0) this.releaseSpaceWaiters(true);
  }

  /** Cancel delayed redeliveries' timer (broker shutdown). */
  dispose(): void {
    this.later.dispose();
  }

  private makeReady(entry: Entry): void {
    const key = entry.message.key;
    if (key !== undefined && (this.keysInFlight.has(key) || this.blockedByKey.has(key))) {
      let blocked = this.blockedByKey.get(key);
      if (!blocked) {
        blocked = new Deque<Entry>();
        this.blockedByKey.set(key, blocked);
      }
      blocked.push(entry);
      return;
    }
    this.ready.push(entry);
  }

  releaseKey(key: string | undefined): void {
    if (key === undefined) return;
    this.keysInFlight.delete(key);
    const blocked = this.blockedByKey.get(key);
    if (!blocked) return;
    const next = blocked.shift();
    if (blocked.length === 0) this.blockedByKey.delete(key);
    // The oldest held-back entry of this key goes first, ahead of newer keys.
    if (next) this.ready.unshift(next);
  }

  private pickConsumer(): Consumer | undefined {
    const n = this.consumers.length;
    for (let i = 0; i < n; i++) {
      const consumer = this.consumers[(this.nextConsumer + i) % n]!;
      if (!consumer.closed && consumer.tracker.size < consumer.prefetch) {
        this.nextConsumer = (this.nextConsumer + i + 1) % n;
        return consumer;
      }
    }
    return undefined;
  }

  private dispatch(): void {
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      while (this.ready.length > 0) {
        const consumer = this.pickConsumer();
        if (!consumer) break;
        const entry = this.ready.shift()!;
        if (entry.message.key !== undefined) {
          if (this.keysInFlight.has(entry.message.key)) {
            this.makeReady(entry);
            continue;
          }
          this.keysInFlight.add(entry.message.key);
        }
        consumer.tracker.dispatch({ queue: this, entry }, entry.message, entry.attempt);
      }
    } finally {
      this.dispatching = false;
    }
  }

  /**
   * A delivery of this queue was settled, whichever way: its key may go again (an entry put back
   * meanwhile waited behind it, so per-key order holds) and its consumer has credit again.
   */
  settled(entry: Entry): void {
    this.releaseKey(entry.message.key);
    this.dispatch();
  }

  /** The message left the queue for good (acked or dead-lettered). */
  finish(): void {
    this.pendingCount--;
    if (this.spaceWaiters.length > 0) this.releaseSpaceWaiters(false);
    this.dispatch();
  }

  deadLetter(message: ReceivedMessage, headers: Record<string, string>): void {
    this.deadLetters?.enqueue({ ...message, headers });
  }

  /** Put a message back: at once, or after a delay. Returned unacked messages keep their attempt. */
  redeliver(entry: Entry, delayMs: number): void {
    if (delayMs <= 0) {
      this.makeReady(entry);
      this.dispatch();
      return;
    }
    this.later.add(Date.now() + delayMs, entry);
  }

  /** Put a message back, handed out at `due` (ms since epoch): a deferral, in due-time order. */
  redeliverAt(entry: Entry, due: number): void {
    this.later.add(due, entry);
  }

  /**
   * Take every entry waiting in this queue (ready or held behind its key), oldest first, for a
   * dead-letter scan; `putBack` returns the ones the scan keeps, in the same order.
   */
  takeWaiting(): Entry[] {
    const taken: Entry[] = [];
    while (this.ready.length > 0) taken.push(this.ready.shift()!);
    for (const blocked of this.blockedByKey.values()) while (blocked.length > 0) taken.push(blocked.shift()!);
    this.blockedByKey.clear();
    this.pendingCount -= taken.length;
    return taken;
  }

  putBack(entries: readonly Entry[]): void {
    for (const entry of entries) {
      this.pendingCount++;
      this.makeReady(entry);
    }
    this.dispatch();
  }

  private releaseSpaceWaiters(all: boolean): void {
    while (this.spaceWaiters.length > 0 && (all || this.hasSpace())) this.spaceWaiters.shift()!();
  }
}
