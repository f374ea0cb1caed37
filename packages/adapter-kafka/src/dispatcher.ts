import { type Delivery, type DeliveryHandler, type NackOptions, redact, TransportError } from '@org/eventbus';
import { type Entry, PartitionState } from './partition-state.js';
import { errorMessage } from './wire.js';

/** Shared by every settle that completes at once; a resolved promise carries no state. */
const SETTLED: Promise<void> = Promise.resolve();

export interface DispatcherHooks {
  prefetch: number;
  partitionConcurrency: number;
  /** Records received and not yet handed out above which the fetch stream is paused. */
  maxBuffered: number;
  onDelivery: DeliveryHandler;
  /** Settle actions that move a record elsewhere (retry topic, dead-letter topic). */
  nack(entry: Entry, delayMs: number | undefined): Promise<void>;
  deadLetter(entry: Entry, reason: string): Promise<void>;
  onError(error: Error): void;
  /** Pause (true) or resume (false) fetching. */
  backpressure(paused: boolean): void;
}

/**
 * Hands received records to the handler: round robin over partitions, `prefetch` in flight in all,
 * `partitionConcurrency` per partition, never two records of one key at once, retry records not
 * before their time (that partition waits on a timer).
 */
export class Dispatcher {
  private partitions = new Map<string, PartitionState>();
  private inFlight = 0;
  private buffered = 0;
  private cursor = 0;
  private stopped = false;
  private dispatchQueued = false;
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeAt = Number.POSITIVE_INFINITY;
  private idleWaiters: (() => void)[] = [];
  /** `partitions` as an array for round robin, rebuilt only when partitions come or go. */
  private stateList: PartitionState[] | undefined;
  private readonly dispatchNow = () => {
    this.dispatchQueued = false;
    this.dispatch();
  };

  constructor(private readonly hooks: DispatcherHooks) {}

  states(): Iterable<PartitionState> {
    return this.partitions.values();
  }

  /** The state of an assigned partition, made on its first record; undefined once stopped. */
  partitionState(topic: string, partition: number): PartitionState | undefined {
    if (this.stopped) return undefined;
    const id = `${topic}:${partition}`;
    let state = this.partitions.get(id);
    if (!state) {
      state = new PartitionState(topic, partition);
      this.partitions.set(id, state);
      this.stateList = undefined;
    }
    return state;
  }

  add(state: PartitionState, entry: Entry): void {
    if (this.stopped || state.revoked) return;
    if (!state.receive(entry)) return;
    this.buffered++;
    if (this.buffered >= this.hooks.maxBuffered) this.hooks.backpressure(true);
    this.scheduleDispatch();
  }

  /**
   * Forget partitions this member no longer owns (all of them without `keep`): queued records are
   * dropped and nothing is committed for them again — a late commit could rewind the new owner.
   */
  revoke(keep?: Set<string>): void {
    for (const [id, state] of this.partitions) {
      if (keep?.has(id)) continue;
      state.revoked = true;
      this.buffered -= state.dropQueued();
      this.partitions.delete(id);
      this.stateList = undefined;
    }
    this.resumeIfRoom();
  }

  /** Stop handing out records; resolves when those in flight settled (or after `timeoutMs`). */
  async stop(timeoutMs: number): Promise<void> {
    this.stopped = true;
    for (const state of this.partitions.values()) this.buffered -= state.dropQueued();
    clearTimeout(this.wakeTimer);
    if (this.inFlight === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => this.idleWaiters.push(resolve)),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }

  private resumeIfRoom(): void {
    if (!this.stopped && this.buffered < this.hooks.maxBuffered / 2) this.hooks.backpressure(false);
  }

  /** One dispatch per microtask turn, however many records arrived or settled in it. */
  private scheduleDispatch(): void {
    if (this.dispatchQueued || this.stopped) return;
    this.dispatchQueued = true;
    queueMicrotask(this.dispatchNow);
  }

  private dispatch(): void {
    const { prefetch, partitionConcurrency } = this.hooks;
    if (this.stopped || this.inFlight >= prefetch || this.buffered === 0) {
      this.resumeIfRoom();
      return;
    }
    this.stateList ??= [...this.partitions.values()];
    const states = this.stateList;
    const now = Date.now();
    let wakeAt = Number.POSITIVE_INFINITY;
    let progressed = true;
    while (progressed && this.inFlight < prefetch) {
      progressed = false;
      for (let i = 0; i < states.length && this.inFlight < prefetch; i++) {
        const state = states[(this.cursor + i) % states.length]!;
        if (state.queued === 0 || state.inFlight >= partitionConcurrency) continue;
        const entry = state.take(now);
        if (entry === undefined) {
          if (state.wakeAt !== undefined) wakeAt = Math.min(wakeAt, state.wakeAt);
          continue;
        }
        progressed = true;
        this.buffered--;
        this.inFlight++;
        this.deliver(state, entry);
      }
      this.cursor = (this.cursor + 1) % Math.max(1, states.length);
    }
    this.scheduleWake(wakeAt);
    this.resumeIfRoom();
  }

  private scheduleWake(at: number): void {
    if (at === Number.POSITIVE_INFINITY || at >= this.wakeAt) return;
    clearTimeout(this.wakeTimer);
    this.wakeAt = at;
    this.wakeTimer = setTimeout(
      () => {
        this.wakeAt = Number.POSITIVE_INFINITY;
        this.dispatch();
      },
      Math.max(1, at - Date.now()),
    );
  }

  private deliver(state: PartitionState, entry: Entry): void {
    const delivery = new KafkaDelivery(this, state, entry);
    try {
      const result = this.hooks.onDelivery(delivery);
      if (result) result.then(undefined, (error: unknown) => delivery.fail(error));
    } catch (error) {
      delivery.fail(error);
    }
  }

  /** Runs a settle action once per delivery (see KafkaDelivery). */
  nackAction(entry: Entry, delayMs: number | undefined): () => Promise<void> {
    return () => this.hooks.nack(entry, delayMs);
  }

  deadLetterAction(entry: Entry, reason: string): () => Promise<void> {
    return () => this.hooks.deadLetter(entry, reason);
  }

  reportHandlerFailure(error: unknown): void {
    this.hooks.onError(new TransportError(`delivery handler failed: ${errorMessage(error)}`));
  }

  settle(state: PartitionState, entry: Entry, action: (() => Promise<void>) | undefined): Promise<void> {
    // A record of a partition this member lost is handled again by its new owner: moving it to a retry
    // or dead-letter topic here as well would duplicate it.
    if (state.revoked) {
      this.finish();
      return SETTLED;
    }
    if (action === undefined) {
      // An ack is bookkeeping only (the commit follows on its timer): no promise chain per record.
      state.settle(entry);
      this.finish();
      return SETTLED;
    }
    return this.settleWith(state, entry, action);
  }

  private async settleWith(state: PartitionState, entry: Entry, action: () => Promise<void>): Promise<void> {
    try {
      await action();
    } catch (error) {
      state.putBack(entry, Date.now() + 1000);
      this.buffered++;
      this.finish();
      throw new TransportError(redact(`could not settle the delivery: ${errorMessage(error)}`));
    }
    state.settle(entry);
    this.finish();
  }

  private finish(): void {
    this.inFlight--;
    if (this.inFlight === 0 && this.idleWaiters.length > 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
    this.scheduleDispatch();
  }
}

/** One delivery; a class rather than closures, since one is made per record. Settles once. */
class KafkaDelivery implements Delivery {
  private settling: Promise<void> | undefined;

  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly state: PartitionState,
    private readonly entry: Entry,
  ) {}

  get message(): Delivery['message'] {
    return this.entry.message;
  }

  get attempt(): number {
    return this.entry.attempt;
  }

  ack(): Promise<void> {
    this.settling ??= this.dispatcher.settle(this.state, this.entry, undefined);
    return this.settling;
  }

  nack(options?: NackOptions): Promise<void> {
    this.settling ??= this.dispatcher.settle(this.state, this.entry, this.dispatcher.nackAction(this.entry, options?.delayMs));
    return this.settling;
  }

  deadLetter(reason: string): Promise<void> {
    this.settling ??= this.dispatcher.settle(this.state, this.entry, this.dispatcher.deadLetterAction(this.entry, reason));
    return this.settling;
  }

  /** The handler threw or rejected without settling: report it and retry the record later. */
  fail(error: unknown): void {
    this.dispatcher.reportHandlerFailure(error);
    if (!this.settling) this.nack({ delayMs: 1000 }).catch(() => {});
  }
}
