import { type Delivery, deadLetterHeaders, type NackOptions, nextAttemptHeaders, type ReceivedMessage } from '@org/eventbus';
import type { Channel, ConsumeMessage } from 'amqplib';
import type { AckBatcher } from './ack-batcher.js';
import type { QueueType } from './options.js';
import type { Publisher } from './publisher.js';
import type { TopologyNames } from './topology.js';
import { CHANNEL_HEADER, toPublishOptions } from './wire.js';

/** What a delivery needs from the subscription it came from (one object per subscription). */
export interface DeliverySource {
  readonly group: string;
  /** Reading the dead-letter queue: a nack puts the message back where it was. */
  readonly deadLetters: boolean;
  readonly queueType: QueueType;
  readonly names: TopologyNames;
  readonly publisher: Publisher;
  /** Declares (once) the retry queue for this delay and returns its name. */
  retryQueue(group: string, delayMs: number): Promise<string>;
  /** Called once per delivery when it is settled, whichever way. */
  released(): void;
}

/**
 * One message off a group's queue. A class rather than an object of closures: one is made per
 * message. Settling on a channel that died is a no-op — the broker hands its messages out again.
 */
export class RabbitMqDelivery implements Delivery {
  private done = false;

  constructor(
    private readonly source: DeliverySource,
    private readonly ch: Channel,
    private readonly acks: AckBatcher,
    private readonly msg: ConsumeMessage,
    readonly message: ReceivedMessage,
    readonly attempt: number,
  ) {}

  ack(): Promise<void> {
    if (!this.claim()) return Promise.resolve();
    this.acks.ack(this.msg);
    this.source.released();
    return Promise.resolve();
  }

  nack(options?: NackOptions): Promise<void> {
    if (!this.claim()) return Promise.resolve();
    return this.released(this.requeue(options?.delayMs ?? 0));
  }

  deadLetter(reason: string): Promise<void> {
    if (!this.claim()) return Promise.resolve();
    const { names, group } = this.source;
    return this.released(this.republish(names.deadLetterExchange, group, deadLetterHeaders(this, group, reason)));
  }

  private claim(): boolean {
    if (this.done) return false;
    this.done = true;
    return true;
  }

  private released(settling: Promise<void>): Promise<void> {
    return settling.finally(() => this.source.released());
  }

  private async requeue(delayMs: number): Promise<void> {
    const { source } = this;
    // Quorum queues count a requeue in x-delivery-count; classic queues cannot, so we republish.
    if (source.deadLetters || (delayMs <= 0 && source.queueType === 'quorum')) {
      this.acks.settled(this.msg);
      try {
        this.ch.nack(this.msg, false, true);
      } catch {
        // The channel is gone; its unsettled messages return to the queue on their own.
      }
      return;
    }
    const headers = nextAttemptHeaders(this);
    if (delayMs <= 0) return this.republish('', source.names.groupQueue(source.group), headers);
    const queue = await source.retryQueue(source.group, delayMs);
    return this.republish('', queue, headers, delayMs);
  }

  /** Publish a copy (to a retry or dead-letter queue), then ack the original: at least once. */
  private async republish(exchange: string, routingKey: string, headers: Record<string, string>, expiration?: number) {
    const { message, msg } = this;
    const outgoing = { channel: message.channel, id: msg.properties.messageId ?? message.headers.cloudEvents_id ?? '', headers, body: message.body };
    const options = toPublishOptions(message.key === undefined ? outgoing : { ...outgoing, key: message.key }, {
      [CHANNEL_HEADER]: message.channel,
    });
    if (expiration !== undefined) options.expiration = String(Math.max(1, Math.round(expiration)));
    await this.source.publisher.publish([{ exchange, routingKey, body: msg.content, options }]);
    this.acks.ack(msg);
  }
}
