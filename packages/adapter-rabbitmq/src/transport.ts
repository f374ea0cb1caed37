import {
  type Backlog,
  ConfigError,
  checkSubscribeOptions,
  type DeadLetterVisitor,
  type DeliveryHandler,
  fitsIn,
  type GroupTopology,
  hideSecrets,
  MessageTooLargeError,
  messageSize,
  type OutgoingMessage,
  PendingWork,
  type PublishOptions,
  type SubscribeOptions,
  type Subscription,
  type Transport,
  type TransportCapabilities,
  TransportError,
} from '@org/eventbus';
import type { Channel } from 'amqplib';
import { ConnectionManager, closeQuietly, OutageLog, type Wait, waitFor } from './connection.js';
import { groupBacklog } from './backlog.js';
import { scanDeadLetters } from './dead-letters.js';
import { transportError } from './errors.js';
import { type RabbitMqTransportOptions, type ResolvedOptions, resolveOptions } from './options.js';
import type { Envelope } from './publisher.js';
import { PublisherPool } from './publisher-pool.js';
import { RabbitMqSubscription } from './subscription.js';
import { assertGroup, assertRetryQueue, retryBucket, TopologyNames } from './topology.js';
import { toPublishOptions } from './wire.js';

/** amqplib encodes a headers table into a 64 KiB buffer and refuses anything larger. */
const MAX_HEADER_BYTES = 60 * 1024;
const NO_BODY = new Uint8Array(0);

/**
 * RabbitMQ transport: one topic exchange (channel = routing key), a durable queue per group with a
 * dead-letter queue and delay-bucketed retry queues, publisher confirms, manual ack with prefetch,
 * and the CloudEvents AMQP binding (structured by default, `cloudEvents_` headers in binary mode). Every publish
 * is mandatory: one that no group's queue is bound for rejects with `UnroutableError`.
 */
export class RabbitMqTransport implements Transport {
  readonly name = 'rabbitmq';
  readonly capabilities: TransportCapabilities;
  private readonly options: ResolvedOptions;
  private readonly names: TopologyNames;
  /** The consumers' connection; publishing has its own (PublisherPool). */
  private readonly connection: ConnectionManager;
  private readonly publishers: PublisherPool;
  private readonly subscriptions = new Set<RabbitMqSubscription>();
  private readonly retryQueues = new Map<string, Promise<string>>();
  private closing: Promise<void> | undefined;
  /** Publishes accepted before close(): close waits for their confirms (each bounded by publishTimeoutMs). */
  private readonly publishing = new PendingWork();

  constructor(options: RabbitMqTransportOptions) {
    this.options = resolveOptions(options);
    this.names = new TopologyNames(this.options.exchange);
    const outage = new OutageLog(this.options.logger);
    // Seed 0 for the consumers, 1, 2… for the publishers: with several seeds they spread over the nodes.
    this.connection = new ConnectionManager(this.options, 'eventbus consume', outage, 0);
    this.publishers = new PublisherPool(this.options, this.names, outage);
    // Retry queues were declared on the broker; a new connection may face a broker that lost them.
    const forgetRetryQueues = () => this.retryQueues.clear();
    this.connection.on('connected', forgetRetryQueues);
    this.publishers.onConnected(forgetRetryQueues);
    this.capabilities = {
      // Both modes name the binding's headers: a structured-mode bus still reads binary messages (0008).
      encoding: { mode: this.options.wireMode, attributePrefix: 'cloudEvents_', contentTypeHeader: 'content-type' },
      orderingPerKey: false,
      nativeDelay: true,
      holdsScheduledPublish: false,
      maxDelayMs: this.options.maxDelayMs,
      nativeDeadLetter: true,
      unroutedPublish: 'rejected',
      maxMessageBytes: this.options.maxMessageBytes,
    };
    const { safeUrl, exchange, queue, publishers } = this.options;
    hideSecrets(this, () => ({ url: safeUrl, exchange, queueType: queue.type, publishers }));
  }

  async connect(): Promise<void> {
    this.assertOpen();
    try {
      await this.publishers.start();
    } catch (error) {
      throw error instanceof TransportError ? error : transportError(`could not connect to ${this.options.safeUrl}`, error);
    }
  }

  async publish(messages: readonly OutgoingMessage[], options: PublishOptions = {}): Promise<void> {
    this.assertOpen();
    if (messages.length === 0) return;
    const envelopes: Envelope[] = messages.length === 1 ? [this.envelope(messages[0]!)] : messages.map((message) => this.envelope(message));
    options.signal?.throwIfAborted();
    await this.publishing.track(this.publishers.publish(envelopes, messages[0]!.key, options.signal));
  }

  private envelope(message: OutgoingMessage): Envelope {
    // fitsIn bounds the size without counting UTF-8 bytes; the exact count runs only near a limit.
    // A message within MAX_HEADER_BYTES as a whole (the usual event) passes both checks with one count.
    const small = fitsIn(message, MAX_HEADER_BYTES);
    if (!(small && this.options.maxMessageBytes >= MAX_HEADER_BYTES) && !fitsIn(message, this.options.maxMessageBytes)) {
      throw new MessageTooLargeError(messageSize(message), this.options.maxMessageBytes);
    }
    if (!small && !fitsIn({ headers: message.headers, body: NO_BODY }, MAX_HEADER_BYTES)) {
      throw new MessageTooLargeError(messageSize({ headers: message.headers, body: NO_BODY }), MAX_HEADER_BYTES, 'header table');
    }
    const publishOptions = toPublishOptions(message);
    // RabbitMQ returns what no queue is bound for, and the publish rejects instead of the event vanishing.
    publishOptions.mandatory = true;
    const body = Buffer.isBuffer(message.body)
      ? message.body
      : Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength);
    return { exchange: this.names.exchange, routingKey: message.channel, body, options: publishOptions };
  }

  async subscribe(options: SubscribeOptions, onDelivery: DeliveryHandler): Promise<Subscription> {
    this.assertOpen();
    checkSubscribeOptions(options);
    // AMQP's basic.qos carries the prefetch count in 16 bits.
    if (options.prefetch > 65_535) throw new ConfigError('prefetch', `must be at most 65535 (got ${options.prefetch})`);
    const subscription = new RabbitMqSubscription(
      {
        connection: this.connection,
        publisher: this.publishers.primary,
        names: this.names,
        queue: this.options.queue,
        drainTimeoutMs: this.options.drainTimeoutMs,
        maxDelayMs: this.options.maxDelayMs,
        retryQueue: (group, delayMs) => this.retryQueue(group, delayMs),
        forgetRetryQueue: (group, delayMs) => this.retryQueues.delete(retryKey(group, delayMs)),
        logger: this.options.logger,
        onClosed: (s) => this.subscriptions.delete(s),
      },
      options,
      onDelivery,
    );
    try {
      await subscription.start(waitFor(this.options.connectTimeoutMs, 'connectTimeoutMs'));
    } catch (error) {
      await subscription.close();
      throw transportError(`could not subscribe group "${options.group}"`, error);
    }
    this.subscriptions.add(subscription);
    return subscription;
  }

  /**
   * Declare each group's queue, its bindings and its dead-letter queue, as `subscribe` does, without
   * consuming: events published from now on are kept for the group. On a channel of its own, so a
   * refused redeclare (other arguments) closes nothing else.
   */
  async provision(groups: readonly GroupTopology[]): Promise<void> {
    this.assertOpen();
    if (groups.length === 0) return;
    await this.declaring(waitFor(this.options.connectTimeoutMs, 'connectTimeoutMs'), async (ch) => {
      for (const { group, channels } of groups) {
        await assertGroup(ch, this.names, this.options.queue, group, channels).catch((error: unknown) => {
          throw transportError(`could not provision group "${group}"`, error);
        });
      }
    });
  }

  /** Declares on a short-lived channel of the primary publishing connection: a refused declare closes only it. */
  private async declaring<T>(wait: Wait, declare: (ch: Channel) => Promise<T>): Promise<T> {
    const model = await this.publishers.primaryConnection.waitForConnection(wait);
    const ch = await model.createChannel();
    ch.on('error', () => {
      // A refused declare also rejects its call, which the caller reports.
    });
    try {
      return await declare(ch);
    } finally {
      await closeQuietly(ch);
    }
  }

  private retryQueue(group: string, delayMs: number): Promise<string> {
    const key = retryKey(group, delayMs);
    let declared = this.retryQueues.get(key);
    if (!declared) {
      declared = this.declaring(waitFor(this.options.publishTimeoutMs, 'publishTimeoutMs'), (ch) =>
        assertRetryQueue(ch, this.names, this.options.queue, group, delayMs),
      );
      declared.catch(() => this.retryQueues.delete(key));
      this.retryQueues.set(key, declared);
    }
    return declared;
  }

  /** The group's dead-letter queue, message by message (dead-letters.ts). */
  async scanDeadLetters(group: string, visit: DeadLetterVisitor): Promise<void> {
    this.assertOpen();
    const wait = () => waitFor(this.options.connectTimeoutMs, 'connectTimeoutMs');
    try {
      await scanDeadLetters({ publishers: this.publishers, names: this.names, wait }, group, visit);
    } catch (error) {
      throw error instanceof TransportError ? error : transportError(`could not scan the dead letters of group "${group}"`, error);
    }
  }

  async backlog(group: string): Promise<Backlog> {
    this.assertOpen();
    const wait = () => waitFor(this.options.connectTimeoutMs, 'connectTimeoutMs');
    return groupBacklog({ publishers: this.publishers, names: this.names, wait }, group);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all([...this.subscriptions].map((s) => s.close()));
      await this.publishing.settled();
      await Promise.all([this.publishers.close(), this.connection.close()]);
    })();
    return this.closing;
  }

  private assertOpen(): void {
    if (this.closing) throw new TransportError('rabbitmq transport is closed');
  }
}

function retryKey(group: string, delayMs: number): string {
  return `${group}\u0000${retryBucket(delayMs)}`;
}
