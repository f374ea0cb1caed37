import {
  attemptFromHeaders,
  type Delivery,
  type DeliveryHandler,
  EventbusHeaders,
  redact,
  type Subscription,
  TransportError,
} from '@org/eventbus';
import type { Consumer, ConsumerGroupJoinPayload, Message, MessagesStream } from '@platformatic/kafka';
import type { ResolvedKafkaOptions } from './options.js';
import { type Entry, PartitionState } from './partition-state.js';
import { errorMessage, RETRY_CHANNEL_HEADER } from './wire.js';

type KafkaMessage = Message<Buffer, Buffer, Buffer, Buffer>;
type KafkaConsumer = Consumer<Buffer, Buffer, Buffer, Buffer>;

export interface SubscriptionPlan {
  groupId: string;
  /** Topics read: the channels and the group's retry topic, or the group's dead-letter topic. */
  topics: string[];
  prefetch: number;
  /** Settle actions that move a record elsewhere (retry topic, dead-letter topic). */
  nack(entry: Entry, delayMs: number | undefined): Promise<void>;
  deadLetter(entry: Entry, reason: string): Promise<void>;
  createConsumer(): KafkaConsumer;
  onError(error: Error): void;
}

/** Close without waiting for the group's blessing; never rejects. */
function forceClose(consumer: KafkaConsumer): Promise<void> {
  return new Promise((resolve) => consumer.close(true, () => resolve()));
}

const RESTART_DELAYS_MS = [250, 500, 1000, 2000, 4000];

/**
 * One `subscribe()`: a consumer in the group, records dispatched per partition (keys never
 * overlap, at most `partitionConcurrency` per partition, `prefetch` in all), and offsets committed
 * only up to the first unsettled record. A broken stream (broker restart) is rebuilt from the
 * committed offsets; records of partitions lost in a rebalance are never committed by this member.
 */
export class KafkaSubscription implements Subscription {
  private consumer: KafkaConsumer | undefined;
  private stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined;
  private partitions = new Map<string, PartitionState>();
  private inFlight = 0;
  private buffered = 0;
  private cursor = 0;
  private closing: Promise<void> | undefined;
  private restarting = false;
  private dispatchQueued = false;
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeAt = Number.POSITIVE_INFINITY;
  private commitTimer: NodeJS.Timeout | undefined;
  private committing: Promise<void> | undefined;
  private idleWaiters: (() => void)[] = [];
  private readonly maxBuffered: number;
  private readonly partitionConcurrency: number;

  constructor(
    private readonly plan: SubscriptionPlan,
    private readonly options: ResolvedKafkaOptions,
    private readonly onDelivery: DeliveryHandler,
  ) {
    this.partitionConcurrency = options.partitionConcurrency || plan.prefetch;
    this.maxBuffered = Math.max(256, plan.prefetch * 4);
  }

  async start(): Promise<void> {
    const consumer = this.plan.createConsumer();
    this.consumer = consumer;
    consumer.on('consumer:group:join', (payload) => this.onJoin(consumer, payload));
    try {
      const stream = await consumer.consume({
        topics: this.plan.topics,
        mode: 'committed',
        fallbackMode: this.options.startFrom,
        autocommit: false,
        maxWaitTime: this.options.maxWaitTimeMs,
        sessionTimeout: this.options.sessionTimeoutMs,
        heartbeatInterval: this.options.heartbeatIntervalMs,
        rebalanceTimeout: this.options.rebalanceTimeoutMs,
        highWaterMark: Math.min(1024, this.maxBuffered),
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
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.stream?.pause();
    for (const state of this.partitions.values()) this.buffered -= state.dropQueued();
    clearTimeout(this.wakeTimer);
    if (this.inFlight > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.idleWaiters.push(resolve)),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, this.options.drainTimeoutMs);
        }),
      ]);
      clearTimeout(timer);
    }
    clearInterval(this.commitTimer);
    await this.commit();
    await this.stopConsumer();
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
    for (const [id, state] of this.partitions) {
      if (assigned.has(id)) continue;
      // Another member owns it now and starts from the committed offset: drop what is queued here, and
      // never commit for it again (a late commit could rewind the new owner).
      state.revoked = true;
      this.buffered -= state.dropQueued();
      this.partitions.delete(id);
    }
    this.resumeIfRoom();
  }

  private isAssigned(consumer: KafkaConsumer, topic: string, partition: number): boolean {
    return consumer.assignments?.some((a) => a.topic === topic && a.partitions.includes(partition)) ?? false;
  }

  private onMessage(consumer: KafkaConsumer, record: KafkaMessage): void {
    if (this.closing || consumer !== this.consumer) return;
    if (!this.isAssigned(consumer, record.topic, record.partition)) return;
    const id = `${record.topic}:${record.partition}`;
    let state = this.partitions.get(id);
    if (!state) {
      state = new PartitionState(record.topic, record.partition);
      this.partitions.set(id, state);
    }
    // Internal retry headers are read here and kept out of the message (no `delete`: it would slow every
    // later property access on the object in the decoder).
    const headers: Record<string, string> = {};
    let retryChannel: string | undefined;
    let notBefore: number | undefined;
    for (const [name, value] of record.headers ?? []) {
      if (name === undefined || name === null) continue;
      const headerName = name.toString();
      const text = value === undefined || value === null ? '' : value.toString();
      if (headerName === RETRY_CHANNEL_HEADER) retryChannel = text;
      else if (headerName === EventbusHeaders.notBefore) notBefore = Number(text);
      else headers[headerName] = text;
    }
    const channel = retryChannel ?? headers[EventbusHeaders.deadLetterChannel] ?? record.topic;
    const key = record.key === undefined || record.key === null ? undefined : record.key.toString();
    const entry: Entry = {
      offset: record.offset,
      message: { channel, headers, body: record.value ?? Buffer.alloc(0), ...(key === undefined ? {} : { key }) },
      attempt: attemptFromHeaders(headers),
      notBefore: notBefore !== undefined && Number.isFinite(notBefore) ? notBefore : undefined,
      settled: false,
    };
    if (!state.receive(entry)) return;
    this.buffered++;
    if (this.buffered >= this.maxBuffered) this.stream?.pause();
    this.scheduleDispatch();
  }

  private resumeIfRoom(): void {
    if (this.closing || !this.stream) return;
    if (this.buffered < this.maxBuffered / 2 && this.stream.isPaused()) this.stream.resume();
  }

  /** One dispatch per microtask turn, however many deliveries settled in it. */
  private scheduleDispatch(): void {
    if (this.dispatchQueued || this.closing) return;
    this.dispatchQueued = true;
    queueMicrotask(() => {
      this.dispatchQueued = false;
      this.dispatch();
    });
  }

  private dispatch(): void {
    if (this.closing || this.inFlight >= this.plan.prefetch || this.buffered === 0) {
      this.resumeIfRoom();
      return;
    }
    const states = [...this.partitions.values()];
    const now = Date.now();
    let wakeAt = Number.POSITIVE_INFINITY;
    let progressed = true;
    // Round robin over partitions so one busy partition cannot starve the others.
    while (progressed && this.inFlight < this.plan.prefetch) {
      progressed = false;
      for (let i = 0; i < states.length && this.inFlight < this.plan.prefetch; i++) {
        const state = states[(this.cursor + i) % states.length]!;
        if (state.queue.length === 0 || state.inFlight >= this.partitionConcurrency) continue;
        const taken = state.take(now);
        if (taken.wakeAt !== undefined) wakeAt = Math.min(wakeAt, taken.wakeAt);
        if (!taken.entry) continue;
        progressed = true;
        this.buffered--;
        this.inFlight++;
        this.deliver(state, taken.entry);
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
    let settling: Promise<void> | undefined;
    const settle = (action: () => Promise<void>): Promise<void> => {
      settling ??= this.settle(state, entry, action);
      return settling;
    };
    const delivery: Delivery = {
      message: entry.message,
      attempt: entry.attempt,
      ack: () => settle(async () => {}),
      nack: (options) => settle(() => this.plan.nack(entry, options?.delayMs)),
      deadLetter: (reason) => settle(() => this.plan.deadLetter(entry, reason)),
    };
    const fail = (error: unknown) => {
      this.plan.onError(new TransportError(`delivery handler failed: ${errorMessage(error)}`));
      if (!settling) delivery.nack({ delayMs: 1000 }).catch(() => {});
    };
    try {
      const result = this.onDelivery(delivery);
      if (result) result.then(undefined, fail);
    } catch (error) {
      fail(error);
    }
  }

  private async settle(state: PartitionState, entry: Entry, action: () => Promise<void>): Promise<void> {
    // A record of a partition this member lost is handled again by its new owner: moving it to a retry
    // or dead-letter topic here as well would duplicate it.
    if (state.revoked || this.partitions.get(`${state.topic}:${state.partition}`) !== state) {
      this.finish();
      return;
    }
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
    if (this.inFlight === 0 && this.closing) for (const resolve of this.idleWaiters.splice(0)) resolve();
    this.scheduleDispatch();
  }

  private commit(): Promise<void> {
    if (this.committing) return this.committing;
    const consumer = this.consumer;
    if (!consumer || this.restarting) return Promise.resolve();
    const offsets = [];
    const states: [PartitionState, bigint][] = [];
    for (const state of this.partitions.values()) {
      const point = state.commitPoint();
      if (point <= state.committed || point < 0n) continue;
      offsets.push({ topic: state.topic, partition: state.partition, offset: point, leaderEpoch: -1 });
      states.push([state, point]);
    }
    if (offsets.length === 0) return Promise.resolve();
    this.committing = consumer
      .commit({ offsets })
      .then(() => {
        for (const [state, point] of states) if (point > state.committed) state.committed = point;
      })
      // A commit refused during a rebalance is retried on the next tick with whatever is still ours.
      .catch(() => {})
      .finally(() => {
        this.committing = undefined;
      });
    return this.committing;
  }

  private restart(consumer: KafkaConsumer, cause: Error): void {
    if (this.closing || this.restarting || consumer !== this.consumer) return;
    this.restarting = true;
    this.plan.onError(new TransportError(redact(`Kafka consumer lost (${errorMessage(cause)}); reconnecting`)));
    for (const state of this.partitions.values()) {
      state.revoked = true;
      this.buffered -= state.dropQueued();
    }
    this.partitions = new Map();
    void (async () => {
      await this.stopConsumer();
      for (let attempt = 0; !this.closing; attempt++) {
        try {
          await this.start();
          break;
        } catch (error) {
          this.plan.onError(new TransportError(redact(`Kafka consumer reconnect failed: ${errorMessage(error)}`)));
          const delay = RESTART_DELAYS_MS[Math.min(attempt, RESTART_DELAYS_MS.length - 1)]!;
          await new Promise((resolve) => setTimeout(resolve, delay));
        }
      }
      this.restarting = false;
      if (this.closing) await this.stopConsumer();
    })();
  }
}
