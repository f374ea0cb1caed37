import { type Message, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import {
  type DeliveryHandler,
  DeliveryTracker,
  hideSecrets,
  type Logger,
  PendingWork,
  type Subscription,
} from '@org/eventbus';
import { type SqsSettleActions, settleActions } from './delivery.js';
import { awsError, isAbort } from './errors.js';
import { SettleBatcher } from './settle-batcher.js';
import type { QueueInfo } from './topology.js';
import { type Decoded, decodeMessage, heldRemainingMs, type SqsReceived } from './wire.js';

export interface SubscriptionConfig {
  sqs: SQSClient;
  /** The queue this subscription reads (the group's queue, or its dead-letter queue). */
  queue: QueueInfo;
  /** Where `deadLetter()` sends. */
  deadLetters: QueueInfo;
  group: string;
  channels: readonly string[];
  prefetch: number;
  waitTimeSeconds: number;
  pollers: number;
  drainTimeoutMs: number;
  /** Longest nack delay one visibility change holds; longer ones are chained. */
  maxVisibilityDelayMs: number;
  /** Longest hold of one step (`maxDelayMs`). */
  maxDelayMs: number;
  fifo: boolean;
  onDelivery: DeliveryHandler;
  onError: ((error: Error) => void) | undefined;
  logger: Logger;
  /** Called once the subscription is closed, so the transport forgets it. */
  onClosed: () => void;
}

/** How long a poller waits for a full batch of free slots before receiving into fewer. */
const PARTIAL_BATCH_WAIT_MS = 20;

/** SQS refuses to extend visibility past 12 hours after a receive. */
const MAX_VISIBILITY_MS = 12 * 3600 * 1000;

/**
 * What is left of a hold up to this long is waited out in process, not passed on: delayed copies
 * are sent with whole seconds rounded down (SendMessage takes no less), so they come back up to a
 * second early, and another copy would cost at least a second more.
 */
const SHORT_HOLD_MS = 1000;

/**
 * A received message waiting in process for its time (a short hold, or any hold on FIFO). It takes
 * no prefetch slot: it runs no handler, and a slot idle for up to a second per delayed event would
 * cap a consumer at `prefetch` events per second (1,000 events due within 2 s: lateness p50 933 ms
 * with slots, 1 ms without; docs/decisions/0009-delays-sqs.md). What it costs is its bytes in memory.
 */
interface Holding {
  timer: NodeJS.Timeout;
  /** A FIFO hold longer than a short one: its visibility was set once to cover it (no heartbeat). */
  long: boolean;
}

/**
 * One subscription: long polls that never hold more than `prefetch` messages unsettled, core's
 * DeliveryTracker for settling and draining, a heartbeat that keeps in-flight messages invisible
 * while their handlers run, and (FIFO) one message of a message group at a time.
 */
export class SqsSubscription implements Subscription {
  private readonly batcher: SettleBatcher;
  private readonly actions: SqsSettleActions;
  private readonly tracker: DeliveryTracker<SqsReceived>;
  private readonly abort = new AbortController();
  /** Slots taken by receives in progress. */
  private reserved = 0;
  private slotWaiters: (() => void)[] = [];
  /** FIFO: deliveries of a message group wait for the one before them (SQS may hand out several at once). */
  private readonly groupQueues = new Map<string, Decoded[]>();
  private waiting = 0;
  /** Deliveries whose settle call is under way: the tracker holds them until it answers, prefetch does not. */
  private settling = 0;
  /** Chained-delay copies being passed on (they never reach the pipeline). */
  private readonly passing = new PendingWork();
  /** Messages held in process until their time. */
  private readonly holding = new Map<Decoded, Holding>();
  private pollers: Promise<void>[] = [];
  /** Receives are failing (an outage is warned about once, when it starts). */
  private receiveFailing = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly config: SubscriptionConfig) {
    this.batcher = new SettleBatcher(config.sqs, config.queue.url, config.queue.name);
    this.actions = settleActions({
      ...config,
      batcher: this.batcher,
      onSettling: () => {
        this.settling++;
        this.slotsFreed();
      },
    });
    this.tracker = new DeliveryTracker({
      actions: this.actions,
      handler: config.onDelivery,
      onError: (error) => this.reportError(error),
      drainTimeoutMs: config.drainTimeoutMs,
      onSettled: (delivery) => {
        if (delivery.raw.settling) this.settling--;
        if (delivery.raw.groupId !== undefined) this.releaseGroup(delivery.raw.groupId);
      },
    });
    hideSecrets(this, () => ({ group: config.group, queue: config.queue.name, inFlight: this.tracker.size }));
  }

  get closed(): boolean {
    return this.abort.signal.aborted;
  }

  start(): void {
    this.pollers = Array.from({ length: this.config.pollers }, () => this.poll());
    const periodMs = Math.max(500, (this.config.queue.visibilityTimeoutSeconds * 1000) / 3);
    this.heartbeat = setInterval(() => this.extendVisibility(), periodMs);
    this.heartbeat.unref();
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.abort.abort();
      for (const wake of this.slotWaiters.splice(0)) wake();
      await Promise.all(this.pollers);
      // Not handed out yet: back to the queue now rather than run during the drain.
      for (const waiting of this.groupQueues.values()) for (const next of waiting.splice(0)) this.handBack(next);
      this.waiting = 0;
      // Back to the queue; a short hold comes back at once (due within a second), a FIFO one counts a receive.
      for (const [decoded, { timer }] of this.holding) {
        clearTimeout(timer);
        this.handBack(decoded);
      }
      this.holding.clear();
      if (!(await this.tracker.drain())) {
        const left = this.tracker.size;
        this.config.logger.warn(
          { group: this.config.group, queue: this.config.queue.name, inFlight: left },
          `closing the subscription of group "${this.config.group}": ${left} deliveries still in flight after drainTimeoutMs (${this.config.drainTimeoutMs} ms); SQS hands them out again after their visibility timeout`,
        );
      }
      clearInterval(this.heartbeat);
      await this.passing.settled();
      await this.batcher.idle();
      this.config.onClosed();
    })();
    return this.closing;
  }

  private reportError(error: Error): void {
    if (this.config.onError) this.config.onError(error);
    else this.config.logger.warn({ group: this.config.group, err: error }, error.message);
  }

  /**
   * Messages received and not yet settled: handed out, queued behind their FIFO group, or being
   * passed on. A delivery whose ack (delete) is under way no longer counts, as it no longer occupies
   * a handler: waiting for SQS's answer would add a round trip to every batch. Nor does one held in
   * process until its time (see Holding).
   */
  private get held(): number {
    return this.tracker.size - this.settling + this.waiting + this.passing.size;
  }

  /**
   * Wake pollers only when it matters: a full batch is free, or slots just became free at all (a
   * poller then starts its short wait for a partial batch). Waking on every settle costs throughput.
   */
  private slotsFreed(): void {
    const free = this.config.prefetch - this.held - this.reserved;
    if (free >= Math.min(10, this.config.prefetch) || free === 1) for (const wake of this.slotWaiters.splice(0)) wake();
  }

  /**
   * Slots for the next receive: a full batch of 10 while handlers keep up (fewer, smaller receives
   * cost throughput), or whatever is free once a partial batch has waited a moment (slow handlers).
   */
  private async reserve(): Promise<number> {
    const want = Math.min(10, this.config.prefetch);
    const since = Date.now();
    for (;;) {
      if (this.closed) return 0;
      const free = this.config.prefetch - this.held - this.reserved;
      const waited = Date.now() - since;
      if (free >= want || (free > 0 && waited >= PARTIAL_BATCH_WAIT_MS)) {
        const n = Math.min(10, free);
        this.reserved += n;
        return n;
      }
      await new Promise<void>((resolve) => {
        const timer = free > 0 ? setTimeout(wake, PARTIAL_BATCH_WAIT_MS - waited) : undefined;
        function wake() {
          clearTimeout(timer);
          resolve();
        }
        this.slotWaiters.push(wake);
      });
    }
  }

  /** Give back reserved slots a receive did not fill, and let waiting pollers recheck. */
  private release(n: number): void {
    this.reserved -= n;
    if (n > 0) for (const wake of this.slotWaiters.splice(0)) wake();
  }

  private async poll(): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      const n = await this.reserve();
      if (this.closed) {
        this.reserved -= n;
        break;
      }
      let messages: Message[];
      try {
        const out = await this.config.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: this.config.queue.url,
            MaxNumberOfMessages: n,
            WaitTimeSeconds: this.config.waitTimeSeconds,
            MessageAttributeNames: ['All'],
            MessageSystemAttributeNames: this.config.fifo ? ['ApproximateReceiveCount', 'MessageGroupId'] : ['ApproximateReceiveCount'],
          }),
          { abortSignal: this.abort.signal },
        );
        messages = out.Messages ?? [];
        failures = 0;
        if (this.receiveFailing) {
          this.receiveFailing = false;
          this.config.logger.info({ queue: this.config.queue.name }, `receiving from SQS queue "${this.config.queue.name}" works again`);
        }
      } catch (error) {
        this.release(n);
        if (this.closed || isAbort(error)) break;
        failures++;
        const failure = awsError(`receiving from SQS queue "${this.config.queue.name}"`, error);
        // One warning per outage (the first failed receive of any poller), whoever else is told.
        if (!this.receiveFailing) {
          this.receiveFailing = true;
          this.config.logger.warn({ queue: this.config.queue.name }, `${failure.message}; retrying until it answers`);
        }
        this.config.onError?.(failure);
        await this.sleep(Math.min(5000, 100 * 2 ** failures));
        continue;
      }
      const accepted = messages.map((m) => decodeMessage(m, this.config.channels)).filter((d) => d !== undefined);
      this.release(n - accepted.length);
      this.reserved -= accepted.length;
      if (this.closed) {
        // Arrived as we closed: hand them straight back rather than hiding them for a visibility timeout.
        for (const d of accepted) this.handBack(d);
        break;
      }
      for (const d of accepted) this.accept(d);
    }
  }

  private accept(decoded: Decoded): void {
    const groupId = decoded.received.groupId;
    if (groupId !== undefined) {
      const waiting = this.groupQueues.get(groupId);
      if (waiting) {
        waiting.push(decoded);
        this.waiting++;
        return;
      }
      this.groupQueues.set(groupId, []);
    }
    this.dispatch(decoded);
  }

  /** The group's previous message is settled: hand out its next, or forget the group. */
  private releaseGroup(groupId: string): void {
    const next = this.groupQueues.get(groupId)?.shift();
    if (!next) {
      this.groupQueues.delete(groupId);
      return;
    }
    this.waiting--;
    this.dispatch(next);
  }

  private dispatch(decoded: Decoded): void {
    const remaining = heldRemainingMs(decoded.message);
    if (remaining > 0 && this.hold(decoded, remaining)) return;
    if (remaining > 0) {
      // A chained-delay copy received early: pass it on, never to a handler.
      const work = this.actions.passOn(decoded, remaining).catch((error: unknown) => this.reportError(error as Error));
      void this.passing.track(work).finally(() => {
        if (decoded.received.groupId !== undefined) this.releaseGroup(decoded.received.groupId);
        this.slotsFreed();
      });
      return;
    }
    this.tracker.dispatch(decoded.received, decoded.message, decoded.attempt);
  }

  /**
   * Wait out the rest of a hold in process, then dispatch; false when it is too long for that (a
   * short hold is the last second of a delayed copy, kept visible by the heartbeat). On FIFO queues, which take
   * no per-message delay, any hold that fits the 12 h visibility limit is waited out here: a
   * visibility change would count as a receive (and raise the attempt), a re-sent copy would be
   * handed straight back. Its visibility is set once to cover the hold; it keeps its message group
   * waiting, as FIFO must.
   */
  private hold(decoded: Decoded, remainingMs: number): boolean {
    const { received } = decoded;
    const visibilityMs = this.config.queue.visibilityTimeoutSeconds * 1000;
    const long = remainingMs > SHORT_HOLD_MS;
    if (long && !(this.config.fifo && Date.now() - received.receivedAt + remainingMs + visibilityMs <= MAX_VISIBILITY_MS)) return false;
    if (long) {
      this.batcher.changeVisibility(received.receiptHandle, Math.ceil((remainingMs + visibilityMs) / 1000)).catch((error: unknown) => this.reportError(error as Error));
    }
    const timer = setTimeout(() => {
      if (!this.holding.delete(decoded)) return;
      this.dispatch(decoded);
    }, remainingMs);
    this.holding.set(decoded, { timer, long });
    return true;
  }

  private handBack(decoded: Decoded): void {
    void this.actions.handBack(decoded.received).catch(() => {
      // It comes back after its visibility timeout anyway.
    });
  }

  private extendVisibility(): void {
    const seconds = this.config.queue.visibilityTimeoutSeconds;
    const held = [...this.tracker.deliveries()].map((d) => d.raw);
    for (const waiting of this.groupQueues.values()) for (const d of waiting) held.push(d.received);
    for (const [d, { long }] of this.holding) if (!long) held.push(d.received);
    for (const received of held) {
      if (received.settling || Date.now() - received.receivedAt + seconds * 1000 > MAX_VISIBILITY_MS) continue;
      this.batcher.changeVisibility(received.receiptHandle, seconds).catch((error: unknown) => {
        if (!received.settling) this.reportError(error as Error);
      });
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const signal = this.abort.signal;
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done);
    });
  }
}
