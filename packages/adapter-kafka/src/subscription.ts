import { type DeliveryHandler, DeliveryTracker, EventbusHeaders, errorMessage, type Logger, redact, type Subscription, TransportError } from '@org/eventbus';
import type { Consumer, ConsumerGroupJoinPayload, MessagesStream } from '@platformatic/kafka';
import { type SettleTargets, settleActions } from './delivery.js';
import { rootMessage } from './errors.js';
import type { ResolvedKafkaOptions } from './options.js';
import { PartitionScheduler } from './partition-scheduler.js';
import type { HeldRecord, PartitionState } from './partition-state.js';
import { holdTargets, type KafkaMessage, RecordReader } from './wire.js';

type KafkaConsumer = Consumer<Buffer, Buffer, Buffer, Buffer>;

export interface SubscriptionPlan {
  groupId: string;
  /** Topics read: the channels and the group's retry topic, or the group's dead-letter topic. */
  topics: string[];
  prefetch: number;
  /** Where nack and deadLetter move a record (retry topic, dead-letter topic). */
  settle: Omit<SettleTargets, 'putBack'>;
  /** `beforeJoin` runs before every JoinGroup this consumer sends (the rebalance barrier). */
  createConsumer(beforeJoin: () => Promise<Buffer>): KafkaConsumer;
  onError(error: Error): void;
  logger: Logger;
}

/** The member's subscription user data: none (the barrier only needs the hook's timing). */
const NO_USER_DATA = Buffer.alloc(0);
/**
 * Held copies (retry and delay topics) one member keeps in memory per record it buffers otherwise:
 * 64 × 256 = 16384 by default. Past it, fetching pauses until the earliest come due.
 */
const HELD_PER_BUFFERED = 64;
/** Longest wait for the commit that closes a rebalance barrier. */
const BARRIER_COMMIT_TIMEOUT_MS = 1500;

/** Close without waiting for the group's blessing; never rejects. */
function forceClose(consumer: KafkaConsumer): Promise<void> {
  return new Promise((resolve) => consumer.close(true, () => resolve()));
}

const RESTART_DELAYS_MS = [250, 500, 1000, 2000, 4000];

/**
 * One `subscribe()`: a consumer in the group feeding a PartitionScheduler, which hands records to
 * core's DeliveryTracker, and offsets committed only up to the first unsettled record of each
 * partition. A broken stream (broker restart) is rebuilt from the committed offsets; partitions
 * lost in a rebalance are never committed by this member again.
 */
export class KafkaSubscription implements Subscription {
  private consumer: KafkaConsumer | undefined;
  private stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined;
  private readonly scheduler: PartitionScheduler;
  private closing: Promise<void> | undefined;
  private restarting = false;
  private commitTimer: NodeJS.Timeout | undefined;
  private committing: Promise<void> | undefined;
  private readonly highWaterMark: number;
  private readonly reader: RecordReader;
  /** The partition of the last record taken, and the assignment it was checked against (records come in runs). */
  private lastState: PartitionState | undefined;
  private lastAssignments: KafkaConsumer['assignments'] = null;
  /** The rebalance barrier running now (a JoinGroup waits on it). */
  private barrier: Promise<Buffer> | undefined;

  constructor(
    private readonly plan: SubscriptionPlan,
    private readonly options: ResolvedKafkaOptions,
    onDelivery: DeliveryHandler,
  ) {
    const maxBuffered = Math.max(256, plan.prefetch * 4);
    this.highWaterMark = Math.min(1024, maxBuffered);
    this.reader = new RecordReader(options.topicPrefix);
    const tracker = new DeliveryTracker<HeldRecord>({
      handler: (delivery) => {
        // A copy its delay tier released before its hold ends goes on to the next (shorter) tier
        // without the pipeline seeing it: the same attempt, the same headers.
        const until = holdTargets.get(delivery.message);
        if (until === undefined || until <= Date.now()) return onDelivery(delivery);
        return delivery.defer(until, { ...delivery.message.headers, [EventbusHeaders.attempt]: String(delivery.attempt) });
      },
      onError: plan.onError,
      drainTimeoutMs: options.drainTimeoutMs,
      onSettled: () => this.scheduler.settled(),
      actions: settleActions({ ...plan.settle, putBack: (held) => this.scheduler.putBack(held) }),
    });
    this.scheduler = new PartitionScheduler(tracker, {
      prefetch: plan.prefetch,
      partitionConcurrency: options.partitionConcurrency || plan.prefetch,
      maxBuffered,
      maxHeld: maxBuffered * HELD_PER_BUFFERED,
      backpressure: (paused) => {
        const stream = this.stream;
        if (!stream || this.closing) return;
        if (paused) stream.pause();
        else if (stream.isPaused()) stream.resume();
      },
    });
  }

  async start(): Promise<void> {
    const consumer = this.plan.createConsumer(() => this.beforeJoin());
    this.consumer = consumer;
    consumer.on('consumer:group:join', (payload) => this.onJoin(consumer, payload));
    // Group errors the client raises outside a stream (a rejoin that failed); after close() they are
    // the closed client refusing a join it no longer needs. Unheard, an 'error' event would crash the process.
    consumer.on('error', (error: Error) => {
      if (consumer === this.consumer && !this.closing) this.plan.onError(new TransportError(redact(`Kafka consumer group "${this.plan.groupId}": ${errorMessage(error)}`)));
    });
    try {
      const stream = await consumer.consume({
        topics: this.plan.topics,
        mode: 'committed',
        fallbackMode: this.options.startFrom,
        autocommit: false,
        maxWaitTime: this.options.maxWaitTimeMs,
        maxBytes: this.options.fetchMaxBytes,
        sessionTimeout: this.options.sessionTimeoutMs,
        heartbeatInterval: this.options.heartbeatIntervalMs,
        rebalanceTimeout: this.options.rebalanceTimeoutMs,
        highWaterMark: this.highWaterMark,
      });
      this.stream = stream;
      stream.on('data', (message) => this.onMessage(consumer, message));
      stream.on('error', (error) => this.restart(consumer, error));
      stream.on('close', () => this.restart(consumer, new Error('the consumer stream closed')));
      clearInterval(this.commitTimer);
      this.commitTimer = setInterval(() => void this.commit(), this.options.commitIntervalMs);
    } catch (error) {
      this.consumer = undefined;
      await forceClose(consumer);
      throw error;
    }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.stream?.pause();
      // The membership is kept while the drain runs: a member joining now waits in the rebalance
      // barrier (beforeJoin) until this member's deliveries are settled and committed.
      await this.scheduler.stop();
      clearInterval(this.commitTimer);
      await this.committing;
      await this.commit();
      await this.stopConsumer();
    })();
    return this.closing;
  }

  private async stopConsumer(): Promise<void> {
    const { stream, consumer } = this;
    this.stream = undefined;
    this.consumer = undefined;
    stream?.removeAllListeners('close');
    stream?.removeAllListeners('data');
    stream?.on('error', () => {});
    await stream?.close().catch(() => {});
    // Leaving the group at once hands this member's partitions to the others without a session timeout.
    if (consumer) await forceClose(consumer);
  }

  private onJoin(consumer: KafkaConsumer, payload: ConsumerGroupJoinPayload): void {
    if (consumer !== this.consumer) return;
    const assigned = new Set<string>();
    for (const a of payload.assignments ?? []) for (const p of a.partitions) assigned.add(`${a.topic}:${p}`);
    this.scheduler.revoke(assigned);
    this.scheduler.release();
  }

  /**
   * Runs before each JoinGroup of this member (the client's protocolsMetadata hook). In a rebalance
   * (Kafka's eager protocol: every partition may move) the member starts nothing new, waits for its
   * deliveries in flight and commits them before it rejoins; the group cannot complete the rebalance
   * without it, so no other member starts one of these records while it still runs here. Bounded by
   * the session and rebalance timeouts (less a heartbeat and a margin): a member that rejoins too
   * late is dropped from the group and its records run elsewhere anyway (a warning says so).
   */
  private beforeJoin(): Promise<Buffer> {
    // A commit refused mid-rebalance makes the client rejoin from inside the barrier: no second wait.
    if (this.barrier || (this.scheduler.inFlight === 0 && !this.consumer?.assignments?.length)) return Promise.resolve(NO_USER_DATA);
    this.barrier = (async () => {
      // The coordinator drops a member that neither heartbeats nor rejoins within the session timeout
      // (the client stops heartbeating once it starts to rejoin), and any member after the rebalance timeout.
      const { rebalanceTimeoutMs, sessionTimeoutMs, heartbeatIntervalMs } = this.options;
      const bound = Math.max(0, Math.min(rebalanceTimeoutMs, sessionTimeoutMs) - heartbeatIntervalMs - BARRIER_COMMIT_TIMEOUT_MS);
      const group = { group: this.plan.groupId };
      this.plan.logger.debug(group, `Kafka group rebalancing: waiting for ${this.scheduler.inFlight} deliveries in flight before rejoining`);
      const settled = await this.scheduler.hold(bound);
      if (!settled) {
        this.plan.logger.warn(
          group,
          `Kafka group "${this.plan.groupId}" is rebalancing and ${this.scheduler.inFlight} deliveries are still running after ${bound} ms ` +
            '(the lesser of sessionTimeoutMs and rebalanceTimeoutMs, less a heartbeat and a margin): rejoining, so another member may start them again',
        );
      }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.commit(true), new Promise((resolve) => (timer = setTimeout(resolve, BARRIER_COMMIT_TIMEOUT_MS)))]);
      clearTimeout(timer);
      // A member draining for close() leaves rather than rejoins: its LeaveGroup must not queue behind
      // a JoinGroup of its own on the coordinator connection, so the join waits until the member left.
      if (this.closing) await this.closing;
      this.plan.logger.debug(group, 'Kafka group rebalancing: deliveries settled and committed, rejoining');
      return NO_USER_DATA;
    })().finally(() => {
      this.barrier = undefined;
    });
    return this.barrier;
  }

  private onMessage(consumer: KafkaConsumer, record: KafkaMessage): void {
    if (this.closing || consumer !== this.consumer) return;
    const { topic, partition } = record;
    let state = this.lastState;
    const assignments = consumer.assignments;
    if (state === undefined || state.revoked || state.partition !== partition || state.topic !== topic || assignments !== this.lastAssignments) {
      // Records fetched before a rebalance may still be buffered in the stream: keep only what is ours
      // now. The client replaces the assignments array on every change, so one check holds for a run.
      this.lastState = undefined;
      if (!assignments?.some((a) => a.topic === topic && a.partitions.includes(partition))) return;
      state = this.scheduler.partitionState(topic, partition);
      if (!state) return;
      this.lastState = state;
      this.lastAssignments = assignments;
    }
    this.scheduler.add(state, this.reader.entry(record));
  }

  /** Commit what is settled; `fresh`: a commit of its own even while the periodic one runs. */
  private commit(fresh = false): Promise<void> {
    if (this.committing && !fresh) return this.committing;
    const consumer = this.consumer;
    if (!consumer || this.restarting) return Promise.resolve();
    const offsets = [];
    const states: [PartitionState, bigint][] = [];
    for (const state of this.scheduler.states()) {
      const point = state.commitPoint();
      if (point <= state.committed || point < 0n) continue;
      offsets.push({ topic: state.topic, partition: state.partition, offset: point, leaderEpoch: -1 });
      states.push([state, point]);
    }
    if (offsets.length === 0) return Promise.resolve();
    const committing = consumer
      .commit({ offsets })
      .then(() => {
        for (const [state, point] of states) if (point > state.committed) state.committed = point;
      })
      // A commit refused during a rebalance is retried on the next tick with whatever is still ours.
      .catch(() => {})
      .finally(() => {
        if (this.committing === committing) this.committing = undefined;
      });
    this.committing = committing;
    return committing;
  }

  private restart(consumer: KafkaConsumer, cause: Error): void {
    if (this.closing || this.restarting || consumer !== this.consumer) return;
    this.restarting = true;
    const lost = new TransportError(redact(`Kafka consumer of group "${this.plan.groupId}" lost (${rootMessage(cause)}); reconnecting`));
    this.plan.logger.warn({ group: this.plan.groupId }, lost.message);
    this.plan.onError(lost);
    this.scheduler.revoke();
    void (async () => {
      await this.stopConsumer();
      for (let attempt = 0; !this.closing; attempt++) {
        try {
          await this.start();
          if (attempt > 0) this.plan.logger.info({ group: this.plan.groupId }, `Kafka consumer of group "${this.plan.groupId}" reconnected after ${attempt + 1} attempts`);
          break;
        } catch (error) {
          const failed = new TransportError(redact(`Kafka consumer reconnect failed: ${rootMessage(error)}`));
          // One warning when reconnecting starts failing, not one per attempt: the broker may be down for minutes.
          if (attempt === 0) this.plan.logger.warn({ group: this.plan.groupId }, `${failed.message}; retrying every ${RESTART_DELAYS_MS.at(-1)! / 1000} s at most until it answers`);
          this.plan.onError(failed);
          const delay = RESTART_DELAYS_MS[Math.min(attempt, RESTART_DELAYS_MS.length - 1)]!;
          await new Promise((resolve) => setTimeout(resolve, delay));
        }
      }
      this.restarting = false;
      if (this.closing) await this.stopConsumer();
    })();
  }
}
