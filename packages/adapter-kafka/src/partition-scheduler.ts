import type { DeliveryTracker } from '@org/eventbus';
import { type Entry, type HeldRecord, PartitionState } from './partition-state.js';

export interface SchedulerLimits {
  prefetch: number;
  partitionConcurrency: number;
  /** Records received, not held and not yet handed out, above which the fetch stream is paused. */
  maxBuffered: number;
  /**
   * Held records (retry and delay topics) kept in memory until due, above which the fetch stream is
   * paused as well. Counted apart: a delay topic's backlog must not stop the channels being read.
   */
  maxHeld: number;
  /** Pause (true) or resume (false) fetching. */
  backpressure(paused: boolean): void;
}

/**
 * Decides which received record goes to core's DeliveryTracker next: round robin over partitions,
 * `prefetch` in flight in all, `partitionConcurrency` per partition, never two records of one key
 * at once, retry records not before their time (that partition waits on a timer). Settling is the
 * tracker's; what is Kafka's here is each partition's queue and commit point, and holding
 * everything back while a rebalance waits for what is in flight.
 */
export class PartitionScheduler {
  private partitions = new Map<string, PartitionState>();
  /** Queued records, held ones included. */
  private buffered = 0;
  /** Of those, the held ones. */
  private held = 0;
  private cursor = 0;
  private stopped = false;
  /** A rebalance is waiting for what is in flight: nothing new starts until the member rejoined. */
  private rebalancing = false;
  private dispatchQueued = false;
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeAt = Number.POSITIVE_INFINITY;
  /** `partitions` as an array for round robin, rebuilt only when partitions come or go. */
  private stateList: PartitionState[] | undefined;
  private readonly dispatchNow = () => {
    this.dispatchQueued = false;
    this.dispatch();
  };

  constructor(
    private readonly tracker: DeliveryTracker<HeldRecord>,
    private readonly limits: SchedulerLimits,
  ) {}

  /** A delivery was settled: its slot is free (call from the tracker's `onSettled`). */
  settled(): void {
    this.scheduleDispatch();
  }

  /** A record whose settle failed runs again on this member, at once (core already held it). */
  putBack({ state, entry }: HeldRecord): void {
    state.putBack(entry, Date.now());
    this.buffered++;
    this.held++;
  }

  /** Deliveries handed out and not yet settled. */
  get inFlight(): number {
    return this.tracker.size;
  }

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
    if (entry.notBefore !== undefined) this.held++;
    if (this.buffered - this.held >= this.limits.maxBuffered || this.held >= this.limits.maxHeld) this.limits.backpressure(true);
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
      this.drop(state);
      this.partitions.delete(id);
      this.stateList = undefined;
    }
    this.resumeIfRoom();
  }

  /**
   * A rebalance began: start nothing new and wait (at most `timeoutMs`) until every delivery in
   * flight is settled, so the commit that follows covers them before any partition moves. True when
   * all settled in time.
   */
  hold(timeoutMs: number): Promise<boolean> {
    this.rebalancing = true;
    this.limits.backpressure(true);
    return this.tracker.drain(timeoutMs);
  }

  /** The member rejoined: hand out records again. */
  release(): void {
    if (!this.rebalancing) return;
    this.rebalancing = false;
    this.scheduleDispatch();
    this.resumeIfRoom();
  }

  /** Stop handing out records; resolves when those in flight settled (or after the drain timeout). */
  async stop(): Promise<boolean> {
    this.stopped = true;
    for (const state of this.partitions.values()) this.drop(state);
    clearTimeout(this.wakeTimer);
    return this.tracker.drain();
  }

  private drop(state: PartitionState): void {
    const { dropped, held } = state.dropQueued();
    this.buffered -= dropped;
    this.held -= held;
  }

  private resumeIfRoom(): void {
    const { maxBuffered, maxHeld } = this.limits;
    if (!this.stopped && !this.rebalancing && this.buffered - this.held < maxBuffered / 2 && this.held < maxHeld / 2) this.limits.backpressure(false);
  }

  /**
   * One dispatch per turn, however many records arrived or settled in it. A tick, not a microtask:
   * the client pushes a fetch response's records and then queues its next fetch with
   * `process.nextTick`, and ticks run before microtasks — behind a microtask, every delivery waited
   * for the next fetch request to be built and written (~0.25 ms at p50 for a lone record). Queued on
   * the response's first record, this tick runs first and still sees every record of the response.
   */
  private scheduleDispatch(): void {
    if (this.dispatchQueued || this.stopped) return;
    this.dispatchQueued = true;
    process.nextTick(this.dispatchNow);
  }

  private dispatch(): void {
    const { prefetch, partitionConcurrency } = this.limits;
    if (this.stopped || this.rebalancing || this.tracker.size >= prefetch || this.buffered === 0) {
      this.resumeIfRoom();
      return;
    }
    this.stateList ??= [...this.partitions.values()];
    const states = this.stateList;
    const now = Date.now();
    let wakeAt = Number.POSITIVE_INFINITY;
    let progressed = true;
    while (progressed && this.tracker.size < prefetch) {
      progressed = false;
      for (let i = 0; i < states.length && this.tracker.size < prefetch; i++) {
        const state = states[(this.cursor + i) % states.length]!;
        if (state.queued === 0 || state.inFlight >= partitionConcurrency) continue;
        const entry = state.take(now);
        if (entry === undefined) {
          if (state.wakeAt !== undefined) wakeAt = Math.min(wakeAt, state.wakeAt);
          continue;
        }
        progressed = true;
        this.buffered--;
        if (entry.notBefore !== undefined) this.held--;
        this.tracker.dispatch({ state, entry }, entry.message, entry.attempt);
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
}
