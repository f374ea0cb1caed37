import {
  attemptFromHeaders,
  type DeliveryHandler,
  DeliveryTracker,
  EventbusHeaders,
  errorMessage,
  hideSecrets,
  type Logger,
  type SubscribeOptions,
  type Subscription,
} from '@org/eventbus';
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { AckBatcher } from './ack-batcher.js';
import { type ConnectionManager, closeQuietly, type Wait } from './connection.js';
import { type AmqpDelivery, settleActions } from './delivery.js';
import { transportError } from './errors.js';
import type { QueueSpec } from './options.js';
import type { Publisher } from './publisher.js';
import { assertDeadLetter, assertGroup, type TopologyNames } from './topology.js';
import { brokerRedeliveries, fromConsumeMessage } from './wire.js';

export interface SubscriptionDeps {
  connection: ConnectionManager;
  publisher: Publisher;
  names: TopologyNames;
  queue: QueueSpec;
  drainTimeoutMs: number;
  maxDelayMs: number;
  /** Declares (once) the retry queue for this delay and returns its name. */
  retryQueue(group: string, delayMs: number): Promise<string>;
  forgetRetryQueue(group: string, delayMs: number): void;
  logger: Logger;
  onClosed(subscription: RabbitMqSubscription): void;
}

/**
 * One consumer on a group's queue (or its dead-letter queue), on a channel of its own with manual
 * ack and the subscription's prefetch. Every message goes through core's DeliveryTracker, which
 * settles it exactly once with this adapter's broker calls (delivery.ts). It re-attaches whenever the
 * connection comes back; deliveries of a dead channel cannot be settled any more (the broker hands
 * them out again), so settling them is a no-op.
 */
export class RabbitMqSubscription implements Subscription {
  private channel: Channel | undefined;
  private acks: AckBatcher | undefined;
  private consumerTag: string | undefined;
  private readonly tracker: DeliveryTracker<AmqpDelivery>;
  private stopped = false;
  private closing: Promise<void> | undefined;
  private readonly queue: string;
  private readonly onConnected = (model: ChannelModel) => {
    void this.attach(model).catch((error: unknown) => this.report(transportError(`could not resubscribe to ${this.queue}`, error)));
  };

  constructor(
    private readonly deps: SubscriptionDeps,
    private readonly options: SubscribeOptions,
    onDelivery: DeliveryHandler,
  ) {
    const { names } = deps;
    this.queue = options.deadLetters ? names.deadLetterQueue(options.group) : names.groupQueue(options.group);
    const actions = settleActions({
      group: options.group,
      deadLetters: options.deadLetters === true,
      queueType: deps.queue.type,
      names,
      publisher: deps.publisher,
      maxDelayMs: deps.maxDelayMs,
      retryQueue: deps.retryQueue,
      forgetRetryQueue: deps.forgetRetryQueue,
    });
    this.tracker = new DeliveryTracker({
      actions,
      handler: onDelivery,
      onError: (error) => this.report(error),
      drainTimeoutMs: deps.drainTimeoutMs,
    });
    hideSecrets(this, () => ({ group: options.group, queue: this.queue }));
  }

  async start(wait: Wait): Promise<void> {
    const model = await this.deps.connection.waitForConnection(wait);
    await this.attach(model);
    this.deps.connection.on('connected', this.onConnected);
  }

  private async attach(model: ChannelModel): Promise<void> {
    if (this.stopped) return;
    const ch = await model.createChannel();
    ch.on('error', (error: Error) => this.report(transportError(`channel of ${this.queue} failed`, error)));
    ch.on('close', () => this.onChannelClosed(ch, model));
    const { names, queue } = this.deps;
    if (this.options.deadLetters) await assertDeadLetter(ch, names, queue, this.options.group);
    else await assertGroup(ch, names, queue, this.options.group, this.options.channels);
    await ch.prefetch(this.options.prefetch);
    if (this.stopped) {
      await ch.close().catch(() => {});
      return;
    }
    this.channel = ch;
    const acks = new AckBatcher(ch);
    this.acks = acks;
    const { consumerTag } = await ch.consume(this.queue, (msg) => this.receive(ch, acks, msg), { noAck: false });
    this.consumerTag = consumerTag;
  }

  /** A channel closed while its connection lives (a channel-level error): take a new one. */
  private onChannelClosed(ch: Channel, model: ChannelModel): void {
    if (this.channel !== ch) return;
    this.channel = undefined;
    this.consumerTag = undefined;
    if (this.stopped || this.deps.connection.connection !== model) return;
    setTimeout(() => {
      if (this.channel || this.stopped || this.deps.connection.connection !== model) return;
      this.onConnected(model);
    }, 500).unref();
  }

  private receive(ch: Channel, acks: AckBatcher, msg: ConsumeMessage | null): void {
    if (msg === null) {
      // The broker cancelled the consumer (queue deleted): re-declare and consume again.
      this.report(transportError(`consumer of ${this.queue} cancelled by the broker`, 'queue deleted?'));
      void ch.close().catch(() => {});
      return;
    }
    if (this.stopped) {
      // Arrived after close began: hand it back untouched.
      safely(() => ch.nack(msg, false, true));
      return;
    }
    acks.delivered(msg);
    const message = fromConsumeMessage(msg);
    if (this.options.deadLetters && !message.headers[EventbusHeaders.deadLetterReason]) {
      // Dead-lettered by the broker itself (delivery limit, rejection), not by us: say so.
      const reason = msg.properties.headers?.['x-first-death-reason'];
      if (reason !== undefined) message.headers[EventbusHeaders.deadLetterReason] = `rabbitmq: ${String(reason)}`;
    }
    const attempt = attemptFromHeaders(message.headers) + brokerRedeliveries(msg);
    this.tracker.dispatch({ msg, acks }, message, attempt);
  }

  /** To the subscriber's onError (the bus logs it there); one warning line when nobody listens. */
  private report(error: Error): void {
    if (this.options.onError) this.options.onError(error);
    else this.deps.logger.warn({ err: errorMessage(error), queue: this.queue }, 'rabbitmq subscription error');
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.stopped = true;
    this.deps.connection.off('connected', this.onConnected);
    const ch = this.channel;
    if (ch && this.consumerTag) {
      // A cancel on a connection that is dying gets no reply: do not wait for it longer than a close.
      await Promise.race([ch.cancel(this.consumerTag).catch(() => {}), new Promise((r) => setTimeout(r, 2_000).unref())]);
    }
    await this.tracker.drain();
    this.channel = undefined;
    this.acks?.flush();
    if (ch) await closeQuietly(ch);
    this.deps.onClosed(this);
  }
}

function safely(action: () => void): void {
  try {
    action();
  } catch {
    // The channel is gone; its unsettled messages return to the queue on their own.
  }
}
