import { ConfigError, MessageTooLargeError, TransportError, UnroutableError } from '../errors.js';
import { fitsIn, messageSize } from '../headers.js';
import { checkSubscribeOptions } from '../transport-support.js';
import type {
  Backlog,
  DeadLetterVisitor,
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
import { brokerNamed, type MemoryBroker } from './broker.js';
import type { Entry } from './group-queue.js';
import { type MemoryTransportOptions, resolveOptions } from './options.js';
import { subscribeQueue } from './subscription.js';
import { MEMORY_ENCODING } from './wire.js';

export type { MemoryTransportOptions } from './options.js';

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
    const resolved = resolveOptions(options);
    this.broker = brokerNamed(resolved.broker, resolved.maxBacklog);
    this.drainTimeoutMs = resolved.drainTimeoutMs;
    this.capabilities = {
      encoding: MEMORY_ENCODING,
      orderingPerKey: true,
      nativeDelay: true,
      holdsScheduledPublish: true,
      maxDelayMs: resolved.maxDelayMs,
      nativeDeadLetter: true,
      unroutedPublish: 'rejected',
      maxMessageBytes: resolved.maxMessageBytes,
    };
    if (!resolved.serialize) this.capabilities.carriesEvents = true;
  }

  /** Unsettled messages of the group: ready, held back by key, waiting out a delay, or in flight. */
  async backlog(group: string): Promise<Backlog> {
    const queue = this.broker.groups.get(group);
    return { messages: queue?.backlog ?? 0, inFlight: queue?.inFlight ?? 0 };
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
      // A scheduled message waits in each group's queue (counted in its backlog) until its time, or
      // for one `maxDelayMs` step: the receive check defers what still arrives early.
      const now = Date.now();
      const due = message.notBefore !== undefined && message.notBefore > now ? Math.min(message.notBefore, now + this.capabilities.maxDelayMs) : undefined;
      for (const queue of this.broker.route(message.channel)) {
        if (!queue.hasSpace()) await queue.waitForSpace();
        if (due !== undefined) queue.enqueueAt(received, due);
        else queue.enqueue(received);
      }
    }
  }

  async subscribe(options: SubscribeOptions, onDelivery: DeliveryHandler): Promise<Subscription> {
    this.assertOpen();
    checkSubscribeOptions(options);
    const queue = options.deadLetters
      ? this.broker.deadLetterQueue(options.group)
      : this.broker.group(options.group, options.channels);
    const subscription = subscribeQueue(queue, options, onDelivery, this.drainTimeoutMs, this.capabilities.maxDelayMs, (closed) =>
      this.subscriptions.delete(closed),
    );
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

  /** The group's dead-letter queue, entry by entry; kept ones go back in their order when the scan ends. */
  async scanDeadLetters(group: string, visit: DeadLetterVisitor): Promise<void> {
    this.assertOpen();
    const source = this.broker.deadLetters.get(group);
    if (!source) return;
    const kept: Entry[] = [];
    const taken = source.takeWaiting();
    try {
      while (taken.length > 0) {
        const entry = taken.shift()!;
        const answer = await visit(entry.message);
        if (answer.action === 'keep') kept.push(entry);
        else if (answer.action === 'redrive') this.broker.group(group, []).enqueue({ ...entry.message, headers: answer.headers });
      }
    } finally {
      // A visitor that threw leaves the rest where they were.
      source.putBack([...kept, ...taken]);
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
