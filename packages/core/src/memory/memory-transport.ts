import { DeliveryTracker } from '../delivery-tracker.js';
import { ConfigError, MessageTooLargeError, TransportError, UnroutableError } from '../errors.js';
import { fitsIn, messageSize } from '../headers.js';
import { checkSubscribeOptions } from '../transport-support.js';
import type {
  DeliveryHandler,
  GroupTopology,
  OutgoingMessage,
  PublishOptions,
  ReceivedMessage,
  SubscribeOptions,
  Subscription,
  Transport,
  TransportCapabilities,
} from '../transport.js';
import { type Consumer, GroupQueue, MEMORY_ENCODING, MEMORY_SETTLE, memorySettled } from './group-queue.js';

export interface MemoryTransportOptions {
  /** Transports created with one broker name share channels and groups (one process only). */
  broker?: string;
  /** A publish waits while any group it feeds holds this many unsettled messages. */
  maxBacklog?: number;
  maxMessageBytes?: number;
  /** How long a closing subscription waits for in-flight deliveries to settle. */
  drainTimeoutMs?: number;
  /**
   * Encode events to bytes as a broker would (default `true`), so tests see exactly what JSON keeps
   * and what it loses. `false` hands the event object across instead: several times the throughput
   * for one-process apps, with validation still on at both ends (each group gets its own parsed copy),
   * but no wire-size limit and no check that the data survives JSON.
   */
  serialize?: boolean;
}

/** The shared state behind every memory transport of one name: groups and their channel bindings. */
class MemoryBroker {
  readonly groups = new Map<string, GroupQueue>();
  readonly deadLetters = new Map<string, GroupQueue>();
  private readonly bindings = new Map<string, Set<GroupQueue>>();

  constructor(readonly maxBacklog: number) {}

  group(name: string, channels: readonly string[]): GroupQueue {
    let queue = this.groups.get(name);
    if (!queue) {
      queue = new GroupQueue(name, this.maxBacklog, this.deadLetterQueue(name));
      this.groups.set(name, queue);
    }
    for (const channel of channels) {
      let bound = this.bindings.get(channel);
      if (!bound) {
        bound = new Set();
        this.bindings.set(channel, bound);
      }
      bound.add(queue);
    }
    return queue;
  }

  deadLetterQueue(group: string): GroupQueue {
    let queue = this.deadLetters.get(group);
    if (!queue) {
      queue = new GroupQueue(`${group}.dead-letter`, Number.POSITIVE_INFINITY, undefined);
      this.deadLetters.set(group, queue);
    }
    return queue;
  }

  route(channel: string): Iterable<GroupQueue> {
    return this.bindings.get(channel) ?? [];
  }

  /** Some group is bound to the channel (subscribed now or before, or provisioned). */
  routable(channel: string): boolean {
    return (this.bindings.get(channel)?.size ?? 0) > 0;
  }
}

const brokers = new Map<string, MemoryBroker>();

function positive(option: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!(typeof value === 'number' && value > 0)) throw new ConfigError(option, `must be a positive number (got ${String(value)})`);
  return value;
}

/**
 * A broker in the process's memory: the same semantics as the real adapters (groups, competing
 * consumers, per-key order, prefetch, delayed nack, dead letters) for tests, examples and one-process apps.
 */
export class MemoryTransport implements Transport {
  readonly name = 'memory';
  readonly capabilities: TransportCapabilities;
  private readonly broker: MemoryBroker;
  private readonly drainTimeoutMs: number;
  private readonly subscriptions = new Set<Subscription>();
  private closed = false;

  constructor(options: MemoryTransportOptions = {}) {
    // Small enough that a backlog stays in the young generation: at 10,000 × 1 KB, GC cost a fifth of throughput.
    const maxBacklog = positive('maxBacklog', options.maxBacklog, 1_000);
    const brokerName = options.broker ?? 'default';
    let broker = brokers.get(brokerName);
    if (!broker) {
      broker = new MemoryBroker(maxBacklog);
      brokers.set(brokerName, broker);
    }
    this.broker = broker;
    this.drainTimeoutMs = positive('drainTimeoutMs', options.drainTimeoutMs, 30_000);
    this.capabilities = {
      encoding: MEMORY_ENCODING,
      orderingPerKey: true,
      nativeDelay: true,
      maxDelayMs: 2_147_483_647,
      nativeDeadLetter: true,
      unroutedPublish: 'rejected',
      maxMessageBytes: positive('maxMessageBytes', options.maxMessageBytes, 1024 * 1024),
    };
    if (options.serialize !== undefined && typeof options.serialize !== 'boolean') {
      throw new ConfigError('serialize', `must be true or false (got ${String(options.serialize)})`);
    }
    if (options.serialize === false) this.capabilities.carriesEvents = true;
  }

  async connect(): Promise<void> {
    this.assertOpen();
  }

  /**
   * Every message is checked before any is sent: a batch with one oversized message or one channel
   * that no group receives rejects whole, and nothing of it is delivered.
   */
  async publish(messages: readonly OutgoingMessage[], options: PublishOptions = {}): Promise<void> {
    this.assertOpen();
    for (const message of messages) {
      if (message.event === undefined && !fitsIn(message, this.capabilities.maxMessageBytes)) {
        throw new MessageTooLargeError(messageSize(message), this.capabilities.maxMessageBytes);
      }
      if (!this.broker.routable(message.channel)) throw new UnroutableError(message.channel);
    }
    for (const message of messages) {
      options.signal?.throwIfAborted();
      // Messages are immutable once published, so every group shares one received message.
      const received: ReceivedMessage = { channel: message.channel, headers: message.headers, body: message.body };
      if (message.key !== undefined) received.key = message.key;
      if (message.event !== undefined) received.event = message.event;
      for (const queue of this.broker.route(message.channel)) {
        if (!queue.hasSpace()) await queue.waitForSpace();
        queue.enqueue(received);
      }
    }
  }

  async subscribe(options: SubscribeOptions, onDelivery: DeliveryHandler): Promise<Subscription> {
    this.assertOpen();
    checkSubscribeOptions(options);
    const queue = options.deadLetters
      ? this.broker.deadLetterQueue(options.group)
      : this.broker.group(options.group, options.channels);
    const onError = options.onError ?? (() => {});
    const tracker = new DeliveryTracker({
      actions: MEMORY_SETTLE,
      handler: onDelivery,
      onError,
      drainTimeoutMs: this.drainTimeoutMs,
      onSettled: memorySettled,
    });
    const consumer: Consumer = { prefetch: options.prefetch, closed: false, tracker };
    queue.addConsumer(consumer);
    let closing: Promise<void> | undefined;
    const subscription: Subscription = {
      close: () => {
        closing ??= (async () => {
          queue.removeConsumer(consumer);
          if (!(await tracker.drain())) {
            // What is still unsettled goes back to the queue, as a broker requeues a closed channel's
            // unacked messages; a handler settling it later is a no-op.
            for (const delivery of [...tracker.deliveries()]) void delivery.nack();
          }
          this.subscriptions.delete(subscription);
        })();
        return closing;
      },
    };
    this.subscriptions.add(subscription);
    return subscription;
  }

  /** Create each group's queue and bind it to its channels, so what is published before it subscribes is kept. */
  async provision(groups: readonly GroupTopology[]): Promise<void> {
    this.assertOpen();
    for (const { group, channels } of groups) {
      if (typeof group !== 'string' || group === '') throw new ConfigError('group', 'must be a non-empty string');
      this.broker.group(group, channels);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subscriptions].map((s) => s.close()));
  }

  private assertOpen(): void {
    if (this.closed) throw new TransportError('memory transport is closed');
  }
}

/**
 * For tests of the settle-failure edge: make the memory broker `broker` refuse, for `group`, the
 * dead-letter copy or a delayed redelivery, as a real broker can (a refused publish, a retry queue
 * that cannot be declared). Returns the repair. The conformance suite's `breakSettle` hook uses it.
 */
export function refuseSettles(broker: string, group: string, what: 'dead-letter' | 'delayed-nack'): () => void {
  const queue = brokers.get(broker)?.groups.get(group);
  if (!queue) throw new ConfigError('group', `no group "${group}" on memory broker "${broker}"`);
  queue.refusing.add(what);
  return () => {
    queue.refusing.delete(what);
  };
}

/** Forget every memory broker (between tests). */
export function resetMemoryBrokers(): void {
  for (const broker of brokers.values()) for (const q of broker.groups.values()) q.dispose();
  brokers.clear();
}
