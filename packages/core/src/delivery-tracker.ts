import { errorMessage, TransportError } from './errors.js';
import type { Delivery, DeliveryHandler, NackOptions, ReceivedMessage } from './transport.js';

/**
 * How long a delivery waits before it comes back when the delivery handler itself failed instead
 * of settling (core's pipeline never does; a broken custom handler might). One value for every
 * transport, so the same contract settles the same way on each broker.
 */
export const HANDLER_FAILURE_DELAY_MS = 1000;

/** A delivery the tracker handed out, as an adapter's settle actions see it: the broker's own message in `raw`. */
export interface TrackedDelivery<Raw> extends Delivery {
  readonly raw: Raw;
}

/**
 * How one adapter carries out each settle on its broker. Any of them may throw or reject; the
 * tracker then reports the failure and, after a hold of HANDLER_FAILURE_DELAY_MS (none while
 * draining), falls back to `redeliver`.
 */
export interface SettleActions<Raw> {
  ack(delivery: TrackedDelivery<Raw>): void | Promise<void>;
  nack(delivery: TrackedDelivery<Raw>, delayMs: number): void | Promise<void>;
  deadLetter(delivery: TrackedDelivery<Raw>, reason: string): void | Promise<void>;
  /** `Delivery.defer`: a copy with `headers` back to this group only, held until `notBefore` (ms since epoch). */
  defer(delivery: TrackedDelivery<Raw>, notBefore: number, headers: Record<string, string>): void | Promise<void>;
  /**
   * The settle the broker can always carry out: hand the message back for a plain redelivery
   * (AMQP `basic.nack` with requeue, a JetStream NAK, SQS visibility 0, Kafka: leave the offset
   * uncommitted and seek back). If even this fails the connection is gone, and the broker's own
   * redelivery (channel close, ack wait, visibility timeout, uncommitted offset) brings it back.
   */
  redeliver(delivery: TrackedDelivery<Raw>): void | Promise<void>;
}

export interface DeliveryTrackerOptions<Raw> {
  actions: SettleActions<Raw>;
  /** The pipeline (what `Transport.subscribe` was given). */
  handler: DeliveryHandler;
  /** Settle failures and handler failures, as the subscription's `onError`. */
  onError: (error: Error) => void;
  /** How long `drain()` waits for deliveries already handed out. */
  drainTimeoutMs: number;
  /** After each delivery is settled, whichever way (credit came back: pull more). */
  onSettled?: (delivery: TrackedDelivery<Raw>) => void;
}

/**
 * Settling, written once for every transport. It hands each delivery to the pipeline, tracks it
 * until it is settled exactly once, and when a settle itself fails (the retry queue cannot be
 * declared, the dead-letter publish is refused) reports it and falls back to a plain redelivery
 * — a delivery is never left unsettled and never dropped. `drain()` waits, bounded, for what is in
 * flight. Adapters supply only the broker calls (`SettleActions`).
 */
export class DeliveryTracker<Raw> {
  private readonly inFlight = new Set<Settleable<Raw>>();
  private idleWaiters: (() => void)[] = [];
  /** Fallback redeliveries waiting out their hold; `drain()` ends them at once. */
  private readonly holds = new Set<() => void>();
  private draining = false;

  constructor(private readonly options: DeliveryTrackerOptions<Raw>) {}

  /** Deliveries handed out and not yet settled. */
  get size(): number {
    return this.inFlight.size;
  }

  /** The deliveries in flight (for progress signals such as JetStream's `+WPI`). */
  deliveries(): IterableIterator<TrackedDelivery<Raw>> {
    return this.inFlight.values();
  }

  /** Hand one message to the pipeline and track it until it is settled. */
  dispatch(raw: Raw, message: ReceivedMessage, attempt: number): TrackedDelivery<Raw> {
    const delivery = new Settleable(this, raw, message, attempt);
    this.inFlight.add(delivery);
    try {
      const result = this.options.handler(delivery);
      if (result && typeof result.then === 'function') result.then(undefined, (error: unknown) => this.handlerFailed(delivery, error));
    } catch (error) {
      this.handlerFailed(delivery, error);
    }
    return delivery;
  }

  /**
   * Resolve when every delivery handed out so far is settled (true), or after the drain timeout
   * (false: the rest go back to the broker when the adapter closes its connection).
   */
  async drain(timeoutMs = this.options.drainTimeoutMs): Promise<boolean> {
    this.draining = true;
    for (const end of [...this.holds]) end();
    if (this.inFlight.size === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    let waiter: (() => void) | undefined;
    const idle = await Promise.race([
      new Promise<boolean>((resolve) => {
        waiter = () => resolve(true);
        this.idleWaiters.push(waiter);
      }),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    // A drain that timed out leaves no waiter behind (close() may be retried many times).
    if (!idle) this.idleWaiters = this.idleWaiters.filter((w) => w !== waiter);
    return idle;
  }

  /** @internal Carry out one settle with the failure policy; called once per delivery. */
  async settle(delivery: Settleable<Raw>, what: SettleKind, action: () => void | Promise<void>): Promise<void> {
    const { actions, onError } = this.options;
    try {
      await action();
    } catch (error) {
      onError(settleError(delivery, what, error));
      // Hold before handing it back: a path that stays broken must not spin the message through
      // the consumer hundreds of times a second (an immediate requeue would).
      await this.hold();
      try {
        await actions.redeliver(delivery);
      } catch (fallbackError) {
        onError(settleError(delivery, 'redeliver', fallbackError));
      }
    } finally {
      this.release(delivery);
    }
  }

  /** Wait HANDLER_FAILURE_DELAY_MS, or not at all once the subscription drains (close must not wait on it). */
  private hold(): Promise<void> {
    if (this.draining) return Promise.resolve();
    return new Promise((resolve) => {
      const end = () => {
        clearTimeout(timer);
        this.holds.delete(end);
        resolve();
      };
      const timer = setTimeout(end, HANDLER_FAILURE_DELAY_MS);
      this.holds.add(end);
    });
  }

  private handlerFailed(delivery: Settleable<Raw>, error: unknown): void {
    this.options.onError(error instanceof Error ? error : new Error(String(error)));
    void delivery.nack({ delayMs: HANDLER_FAILURE_DELAY_MS });
  }

  private release(delivery: Settleable<Raw>): void {
    if (!this.inFlight.delete(delivery)) return;
    this.options.onSettled?.(delivery);
    if (this.inFlight.size === 0 && this.idleWaiters.length > 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** @internal */
  get actions(): SettleActions<Raw> {
    return this.options.actions;
  }
}

type SettleKind = 'ack' | 'nack' | 'dead-letter' | 'defer' | 'redeliver';

function settleError(delivery: Delivery, what: SettleKind, cause: unknown): TransportError {
  const fallback = what === 'redeliver' ? 'the broker redelivers it when the connection closes' : 'redelivering it';
  return new TransportError(
    `could not ${what} a delivery of "${delivery.message.channel}" (attempt ${delivery.attempt}): ${errorMessage(cause)}; ${fallback}`,
    { cause },
  );
}

/** One delivery: the first settle wins, later ones are no-ops. A class: one is made per message. */
class Settleable<Raw> implements TrackedDelivery<Raw> {
  private done = false;

  constructor(
    private readonly tracker: DeliveryTracker<Raw>,
    readonly raw: Raw,
    readonly message: ReceivedMessage,
    readonly attempt: number,
  ) {}

  get settled(): boolean {
    return this.done;
  }

  ack(): Promise<void> {
    if (this.done) return Promise.resolve();
    this.done = true;
    return this.tracker.settle(this, 'ack', () => this.tracker.actions.ack(this));
  }

  nack(options?: NackOptions): Promise<void> {
    if (this.done) return Promise.resolve();
    this.done = true;
    const delayMs = Math.max(0, options?.delayMs ?? 0);
    return this.tracker.settle(this, 'nack', () => this.tracker.actions.nack(this, delayMs));
  }

  deadLetter(reason: string): Promise<void> {
    if (this.done) return Promise.resolve();
    this.done = true;
    return this.tracker.settle(this, 'dead-letter', () => this.tracker.actions.deadLetter(this, reason));
  }

  defer(notBefore: number, headers: Record<string, string>): Promise<void> {
    if (this.done) return Promise.resolve();
    this.done = true;
    return this.tracker.settle(this, 'defer', () => this.tracker.actions.defer(this, notBefore, headers));
  }
}
