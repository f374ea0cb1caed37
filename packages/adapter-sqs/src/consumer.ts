import { type Message, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DeliveryHandler, Subscription } from '@org/eventbus';
import { isAbort, awsError } from './errors.js';
import { SqsDelivery, type DeliverySink } from './delivery.js';
import { Settler } from './settler.js';
import type { QueueInfo } from './topology.js';

export interface ConsumerConfig {
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
  fifo: boolean;
  onDelivery: DeliveryHandler;
  onError: ((error: Error) => void) | undefined;
  /** Called once the subscription is closed, so the transport forgets it. */
  onClosed: () => void;
}

/** How long a poller waits for a full batch of free slots before receiving into fewer. */
const PARTIAL_BATCH_WAIT_MS = 20;

/** SQS refuses to extend visibility past 12 hours after a receive. */
export const MAX_VISIBILITY_MS = 12 * 3600 * 1000;

/**
 * One subscription: long polls that never hold more than `prefetch` messages unsettled, a
 * heartbeat that keeps in-flight messages invisible while their handlers run, and a drain on close.
 */
export class Consumer implements Subscription, DeliverySink {
  readonly settler: Settler;
  private readonly abort = new AbortController();
  private readonly inFlight = new Set<SqsDelivery>();
  private reserved = 0;
  private slotWaiters: (() => void)[] = [];
  private idleWaiters: (() => void)[] = [];
  private readonly settling = new Set<Promise<unknown>>();
  /** FIFO: deliveries of a message group wait for the one before them (SQS may hand out several at once). */
  private readonly groupQueues = new Map<string, SqsDelivery[]>();
  private pollers: Promise<void>[] = [];
  private heartbeat: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;

  constructor(readonly config: ConsumerConfig) {
    this.settler = new Settler(config.sqs, config.queue.url, config.queue.name);
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
      if (this.inFlight.size > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          new Promise<void>((resolve) => this.idleWaiters.push(resolve)),
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, this.config.drainTimeoutMs);
          }),
        ]);
        clearTimeout(timer);
      }
      clearInterval(this.heartbeat);
      await Promise.allSettled([...this.settling]);
      await this.settler.idle();
      this.config.onClosed();
    })();
    return this.closing;
  }

  reportError(error: Error): void {
    this.config.onError?.(error);
  }

  /**
   * The delivery no longer counts against prefetch. `work` is tracked so close() waits for it;
   * plain deletes and visibility changes need no tracking (close() waits for the settler).
   */
  settled(delivery: SqsDelivery, work: Promise<unknown> | undefined): void {
    this.inFlight.delete(delivery);
    if (work) {
      this.settling.add(work);
      void work.then(
        () => this.settling.delete(work),
        () => this.settling.delete(work),
      );
    }
    if (delivery.groupId !== undefined) this.releaseGroup(delivery.groupId);
    // Wake pollers only when it matters: a full batch is free, or slots just became free at all
    // (a poller then starts its short wait for a partial batch). Waking on every settle costs throughput.
    const free = this.config.prefetch - this.inFlight.size - this.reserved;
    if (free >= Math.min(10, this.config.prefetch) || free === 1) for (const wake of this.slotWaiters.splice(0)) wake();
    if (this.inFlight.size === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
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
      const free = this.config.prefetch - this.inFlight.size - this.reserved;
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
      } catch (error) {
        this.release(n);
        if (this.closed || isAbort(error)) break;
        failures++;
        this.reportError(awsError(`receiving from SQS queue "${this.config.queue.name}"`, error));
        await this.sleep(Math.min(5000, 100 * 2 ** failures));
        continue;
      }
      this.release(n - messages.length);
      this.reserved -= messages.length;
      if (this.closed) {
        // Arrived as we closed: hand them straight back rather than hiding them for a visibility timeout.
        for (const m of messages) if (m.ReceiptHandle) void this.settler.changeVisibility(m.ReceiptHandle, 0).catch(() => {});
        break;
      }
      for (const message of messages) this.accept(message);
    }
  }

  private accept(message: Message): void {
    if (!message.ReceiptHandle) return;
    const delivery = new SqsDelivery(this, message);
    this.inFlight.add(delivery);
    const groupId = delivery.groupId;
    if (groupId !== undefined) {
      const waiting = this.groupQueues.get(groupId);
      if (waiting) {
        waiting.push(delivery);
        return;
      }
      this.groupQueues.set(groupId, []);
    }
    this.dispatch(delivery);
  }

  private releaseGroup(groupId: string): void {
    const waiting = this.groupQueues.get(groupId);
    const next = waiting?.shift();
    if (next) this.dispatch(next);
    else this.groupQueues.delete(groupId);
  }

  private dispatch(delivery: SqsDelivery): void {
    if (delivery.holdUntilNotBefore()) return;
    const fail = (error: unknown) => {
      this.reportError(error instanceof Error ? error : new Error(String(error)));
      // A handler must settle; one that threw instead gets its message back soon, never lost.
      void delivery.nack({ delayMs: 1000 }).catch(() => {});
    };
    try {
      const result = this.config.onDelivery(delivery);
      if (result && typeof result.then === 'function') result.then(undefined, fail);
    } catch (error) {
      fail(error);
    }
  }

  private extendVisibility(): void {
    const seconds = this.config.queue.visibilityTimeoutSeconds;
    for (const delivery of this.inFlight) {
      if (Date.now() - delivery.receivedAt + seconds * 1000 > MAX_VISIBILITY_MS) continue;
      this.settler.changeVisibility(delivery.receiptHandle, seconds).catch((error: unknown) => {
        if (this.inFlight.has(delivery)) this.reportError(error as Error);
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
