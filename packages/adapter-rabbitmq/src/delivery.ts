import { deadLetterHeaders, nextAttemptHeaders, type SettleActions, type TrackedDelivery } from '@org/eventbus';
import type { ConsumeMessage } from 'amqplib';
import type { AckBatcher } from './ack-batcher.js';
import type { QueueType } from './options.js';
import type { Publisher } from './publisher.js';
import { deferHold, type TopologyNames } from './topology.js';
import { CHANNEL_HEADER, toPublishOptions } from './wire.js';

/** A message off a consumer channel, with the settler of the channel it came on. */
export interface AmqpDelivery {
  readonly msg: ConsumeMessage;
  readonly acks: AckBatcher;
}

/** What settling needs from the subscription (one object per subscription). */
export interface SettleSource {
  readonly group: string;
  /** Reading the dead-letter queue: a nack puts the message back where it was. */
  readonly deadLetters: boolean;
  readonly queueType: QueueType;
  readonly names: TopologyNames;
  readonly publisher: Publisher;
  /** The transport's `maxDelayMs`: the longest hold of one nack or deferral hop. */
  readonly maxDelayMs: number;
  /** Declares (once) the retry queue for this delay and returns its name. */
  retryQueue(group: string, delayMs: number): Promise<string>;
  /** A republish to that retry queue failed (deleted, say): declare it again next time. */
  forgetRetryQueue(group: string, delayMs: number): void;
}

/**
 * The broker calls of one subscription's settles; core's DeliveryTracker decides when and falls
 * back to `redeliver` (basic.nack with requeue) when one of the others throws. A delivery of a
 * channel that has closed is already back in the queue: every settle of it is a no-op.
 */
export function settleActions(source: SettleSource): SettleActions<AmqpDelivery> {
  const redeliver = ({ raw }: TrackedDelivery<AmqpDelivery>): void => raw.acks.requeue(raw.msg);
  return {
    ack({ raw }) {
      raw.acks.ack(raw.msg);
    },

    async nack(delivery, delayMs) {
      // Quorum queues count a requeue in x-delivery-count; classic queues cannot, so we republish.
      if (source.deadLetters || (delayMs <= 0 && source.queueType === 'quorum')) return redeliver(delivery);
      if (delivery.raw.acks.closed) return;
      const headers = nextAttemptHeaders(delivery);
      if (delayMs <= 0) return republish(source.publisher, delivery, '', source.names.groupQueue(source.group), headers);
      const wait = Math.min(delayMs, source.maxDelayMs);
      return toRetryQueue(source, source.group, delivery, wait, wait, headers);
    },

    async deadLetter(delivery, reason) {
      if (delivery.raw.acks.closed) return;
      const { names, group, publisher } = source;
      return republish(publisher, delivery, names.deadLetterExchange, group, deadLetterHeaders(delivery, group, reason));
    },

    /**
     * A copy with core's headers (the same `eventbus-attempt`) into one of this group's retry queues,
     * which dead-letters into this group's queue only; the original is acked after the confirm. The
     * copy is a new message, so neither x-delivery-count nor `redelivered` counts the deferral.
     */
    async defer(delivery, notBefore, headers) {
      if (delivery.raw.acks.closed) return;
      const { bucket, expirationMs } = deferHold(notBefore - Date.now(), source.maxDelayMs);
      // A dead-letter reader's deferral waits in retry queues of their own, which lead back to the dead-letter queue.
      const retryGroup = source.deadLetters ? source.names.deadLetterRetryGroup(source.group) : source.group;
      return toRetryQueue(source, retryGroup, delivery, bucket, expirationMs, headers);
    },
    redeliver,
  };
}

/** A copy into the retry queue of `group` for `bucketMs`, held `expirationMs` (per-message TTL). */
async function toRetryQueue(
  source: SettleSource,
  group: string,
  delivery: TrackedDelivery<AmqpDelivery>,
  bucketMs: number,
  expirationMs: number,
  headers: Record<string, string>,
): Promise<void> {
  const queue = await source.retryQueue(group, bucketMs);
  try {
    await republish(source.publisher, delivery, '', queue, headers, expirationMs);
  } catch (error) {
    source.forgetRetryQueue(group, bucketMs);
    throw error;
  }
}

/**
 * Publish a copy (to a retry queue or the dead-letter exchange), confirmed and mandatory, then ack
 * the original: at least once. A copy the broker refuses or cannot route rejects, and core then
 * hands the original back to the queue instead.
 */
async function republish(
  publisher: Publisher,
  { raw, message }: TrackedDelivery<AmqpDelivery>,
  exchange: string,
  routingKey: string,
  headers: Record<string, string>,
  expiration?: number,
): Promise<void> {
  const { msg } = raw;
  const outgoing = { channel: message.channel, id: msg.properties.messageId ?? message.headers.cloudEvents_id ?? '', headers, body: message.body };
  const options = toPublishOptions(message.key === undefined ? outgoing : { ...outgoing, key: message.key }, {
    [CHANNEL_HEADER]: message.channel,
  });
  options.mandatory = true;
  if (expiration !== undefined) options.expiration = String(Math.max(1, Math.round(expiration)));
  await publisher.publish([{ exchange, routingKey, body: msg.content, options }]);
  raw.acks.ack(msg);
}
