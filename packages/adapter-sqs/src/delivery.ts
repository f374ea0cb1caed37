import { randomUUID } from 'node:crypto';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import {
  deadLetterHeaders,
  EventbusHeaders,
  nextAttemptHeaders,
  type ReceivedMessage,
  type SettleActions,
  type TrackedDelivery,
} from '@org/eventbus';
import { SQS_MAX_MESSAGE_BYTES, toWire } from './attributes.js';
import { awsError } from './errors.js';
import type { SettleBatcher } from './settle-batcher.js';
import type { QueueInfo } from './topology.js';
import { type Decoded, fifoId, type SqsReceived, sendDelaySeconds } from './wire.js';

export interface SettleConfig {
  sqs: SQSClient;
  /** Batched deletes and visibility changes of `queue`. */
  batcher: SettleBatcher;
  /** The queue the subscription reads (the group's queue, or its dead-letter queue). */
  queue: QueueInfo;
  /** Where `deadLetter()` sends. */
  deadLetters: QueueInfo;
  group: string;
  fifo: boolean;
  /** Longest nack delay one visibility change holds; longer ones are chained through re-sent copies. */
  maxVisibilityDelayMs: number;
  /** Longest hold of one step (`maxDelayMs`): caps each delayed copy's DelaySeconds too. */
  maxDelayMs: number;
  /** A delivery's settle has started (its SQS call is under way): its prefetch slot is free. */
  onSettling: () => void;
}

/** Core's four settles, and the two SQS needs for messages that never reach a handler. */
export interface SqsSettleActions extends SettleActions<SqsReceived> {
  ack(delivery: TrackedDelivery<SqsReceived>): Promise<void>;
  nack(delivery: TrackedDelivery<SqsReceived>, delayMs: number): Promise<void>;
  deadLetter(delivery: TrackedDelivery<SqsReceived>, reason: string): Promise<void>;
  defer(delivery: TrackedDelivery<SqsReceived>, notBefore: number, headers: Record<string, string>): Promise<void>;
  redeliver(delivery: TrackedDelivery<SqsReceived>): Promise<void>;
  /** A copy that must wait longer still (a chained delay): send it on with the rest of its delay. */
  passOn(decoded: Decoded, remainingMs: number): Promise<void>;
  /** Hand a message back at once (received while closing, or queued behind its FIFO group at close). */
  handBack(received: SqsReceived): Promise<void>;
}

/**
 * The SQS calls behind each settle (core's DeliveryTracker decides when, and falls back to
 * `redeliver` when one fails). ack deletes; nack makes the message visible again after the delay
 * (a delay SQS cannot hold in one visibility change is chained through re-sent copies carrying a
 * not-before header); deadLetter sends it to the group's dead-letter queue with the reason, then
 * deletes it; redeliver makes it visible at once; defer re-sends a copy to the group's own queue,
 * delayed, then deletes the original (never a visibility change: SQS would count that as a receive,
 * and the attempt is the copy's header plus its receive count − 1).
 */
export function settleActions(config: SettleConfig): SqsSettleActions {
  const { batcher } = config;

  /** Once per delivery, whichever settle comes first (a fallback redeliver follows a failed one). */
  function start(raw: SqsReceived): void {
    if (raw.settling) return;
    raw.settling = true;
    config.onSettling();
  }

  /** A copy of `message` with `headers` to `queue`, delayed toward `until` as far as one step goes (standard queues). */
  async function resend(
    message: ReceivedMessage,
    groupId: string | undefined,
    queue: QueueInfo,
    headers: Record<string, string>,
    until: number | undefined,
  ): Promise<void> {
    const wire = toWire({ ...message, headers });
    const delay = sendDelaySeconds(until, config.maxDelayMs);
    // FIFO queues take no per-message delay: the copy is due at once and the subscription holds it.
    const fifo = config.fifo
      ? { MessageGroupId: groupId ?? fifoId(message.channel), MessageDeduplicationId: randomUUID() }
      : delay > 0
        ? { DelaySeconds: delay }
        : {};
    try {
      await config.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: wire.body, MessageAttributes: wire.attributes, ...fifo }));
    } catch (error) {
      throw awsError(`sending a message to SQS queue "${queue.name}"`, error);
    }
  }

  return {
    ack(delivery) {
      start(delivery.raw);
      return batcher.delete(delivery.raw.receiptHandle);
    },

    async nack(delivery, delayMs) {
      const { raw } = delivery;
      start(raw);
      const limit = config.maxVisibilityDelayMs;
      // FIFO cannot re-send without breaking the group's order: it holds at most one visibility change.
      if (Date.now() - raw.receivedAt + delayMs <= limit || config.fifo) {
        // Whole seconds, rounded up, so a delayed message is never redelivered early.
        await batcher.changeVisibility(raw.receiptHandle, Math.ceil(Math.min(delayMs, limit) / 1000));
        return;
      }
      const until = Date.now() + delayMs;
      await resend(delivery.message, raw.groupId, config.queue, nextAttemptHeaders(delivery, until), until);
      await batcher.delete(raw.receiptHandle);
    },

    async deadLetter(delivery, reason) {
      start(delivery.raw);
      const headers = deadLetterHeaders(delivery, config.group, reason);
      // A message near SNS's 256 KiB still fits once the reason is cut to the room left. Queues take up
      // to 1 MiB (their MaximumMessageSize), so a copy larger still is sent as it is; should the
      // dead-letter queue refuse it, the tracker redelivers and the redrive policy moves the original.
      const overflow = toWire({ ...delivery.message, headers }).size - SQS_MAX_MESSAGE_BYTES;
      const full = headers[EventbusHeaders.deadLetterReason] ?? '';
      if (overflow > 0) headers[EventbusHeaders.deadLetterReason] = `${full.slice(0, Math.max(0, full.length - overflow - 4))}…`;
      await resend(delivery.message, delivery.raw.groupId, config.deadLetters, headers, undefined);
      await batcher.delete(delivery.raw.receiptHandle);
    },

    async defer(delivery, notBefore, headers) {
      start(delivery.raw);
      // To the queue this subscription reads, which is this group's alone (SNS fans out before it);
      // deleted only once the copy is stored, so a failed send leaves the original to the tracker.
      await resend(delivery.message, delivery.raw.groupId, config.queue, headers, notBefore);
      await batcher.delete(delivery.raw.receiptHandle);
    },
    redeliver(delivery) {
      start(delivery.raw);
      return batcher.changeVisibility(delivery.raw.receiptHandle, 0);
    },

    async passOn({ received, message, attempt }, remainingMs) {
      received.settling = true;
      if (config.fifo) {
        const seconds = Math.ceil(Math.min(remainingMs, config.maxVisibilityDelayMs) / 1000);
        await batcher.changeVisibility(received.receiptHandle, seconds);
        return;
      }
      // The attempt as this copy reports it (a copy redelivered after a crash keeps that count).
      const headers = { ...message.headers, [EventbusHeaders.attempt]: String(attempt) };
      await resend(message, received.groupId, config.queue, headers, Date.now() + remainingMs);
      await batcher.delete(received.receiptHandle);
    },

    handBack(received) {
      received.settling = true;
      return batcher.changeVisibility(received.receiptHandle, 0);
    },
  };
}
