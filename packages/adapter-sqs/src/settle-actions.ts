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
import type { Decoded, SqsReceived } from './delivery.js';
import { awsError } from './errors.js';
import { fifoId } from './names.js';
import type { Settler } from './settler.js';
import type { QueueInfo } from './topology.js';

export interface SettleConfig {
  sqs: SQSClient;
  /** Batched deletes and visibility changes of `queue`. */
  settler: Settler;
  /** The queue the subscription reads (the group's queue, or its dead-letter queue). */
  queue: QueueInfo;
  /** Where `deadLetter()` sends. */
  deadLetters: QueueInfo;
  group: string;
  fifo: boolean;
  /** Longest nack delay one visibility change holds; longer ones are chained through re-sent copies. */
  maxVisibilityDelayMs: number;
  /** A delivery's settle has started (its SQS call is under way): its prefetch slot is free. */
  onSettling: () => void;
}

/** The longest per-message delay of SendMessage. */
const MAX_SEND_DELAY_S = 900;

/**
 * The SQS calls behind each settle (core's DeliveryTracker decides when, and falls back to
 * `redeliver` when one fails). ack deletes; nack makes the message visible again after the delay
 * (a delay SQS cannot hold in one visibility change is chained through re-sent copies carrying a
 * not-before header); deadLetter sends it to the group's dead-letter queue with the reason, then
 * deletes it; redeliver makes it visible at once.
 */
export class SqsSettleActions implements SettleActions<SqsReceived> {
  constructor(private readonly config: SettleConfig) {}

  ack(delivery: TrackedDelivery<SqsReceived>): Promise<void> {
    this.start(delivery.raw);
    return this.config.settler.delete(delivery.raw.receiptHandle);
  }

  async nack(delivery: TrackedDelivery<SqsReceived>, delayMs: number): Promise<void> {
    const { raw } = delivery;
    this.start(raw);
    const limit = this.config.maxVisibilityDelayMs;
    // FIFO cannot re-send without breaking the group's order: it holds at most one visibility change.
    if (Date.now() - raw.receivedAt + delayMs <= limit || this.config.fifo) {
      // Whole seconds, rounded up, so a delayed message is never redelivered early.
      await this.config.settler.changeVisibility(raw.receiptHandle, Math.ceil(Math.min(delayMs, limit) / 1000));
      return;
    }
    await this.resend(delivery.message, raw.groupId, this.config.queue, nextAttemptHeaders(delivery, Date.now() + delayMs));
    await this.config.settler.delete(raw.receiptHandle);
  }

  async deadLetter(delivery: TrackedDelivery<SqsReceived>, reason: string): Promise<void> {
    this.start(delivery.raw);
    const headers = deadLetterHeaders(delivery, this.config.group, reason);
    // A message near SNS's 256 KiB still fits once the reason is cut to the room left. Queues take up
    // to 1 MiB (their MaximumMessageSize), so a copy larger still is sent as it is; should the
    // dead-letter queue refuse it, the tracker redelivers and the redrive policy moves the original.
    const overflow = toWire({ ...delivery.message, headers }).size - SQS_MAX_MESSAGE_BYTES;
    const full = headers[EventbusHeaders.deadLetterReason] ?? '';
    if (overflow > 0) headers[EventbusHeaders.deadLetterReason] = `${full.slice(0, Math.max(0, full.length - overflow - 4))}…`;
    await this.resend(delivery.message, delivery.raw.groupId, this.config.deadLetters, headers);
    await this.config.settler.delete(delivery.raw.receiptHandle);
  }

  redeliver(delivery: TrackedDelivery<SqsReceived>): Promise<void> {
    this.start(delivery.raw);
    return this.config.settler.changeVisibility(delivery.raw.receiptHandle, 0);
  }

  /** A copy that must wait longer still (a chained delay): send it on with the rest of its delay. */
  async passOn({ received, message }: Decoded, remainingMs: number): Promise<void> {
    received.settling = true;
    if (this.config.fifo) {
      const seconds = Math.ceil(Math.min(remainingMs, this.config.maxVisibilityDelayMs) / 1000);
      await this.config.settler.changeVisibility(received.receiptHandle, seconds);
      return;
    }
    await this.resend(message, received.groupId, this.config.queue, message.headers);
    await this.config.settler.delete(received.receiptHandle);
  }

  /** Hand a message back at once (received while closing, or queued behind its FIFO group at close). */
  handBack(received: SqsReceived): Promise<void> {
    received.settling = true;
    return this.config.settler.changeVisibility(received.receiptHandle, 0);
  }

  /** Once per delivery, whichever settle comes first (a fallback redeliver follows a failed one). */
  private start(raw: SqsReceived): void {
    if (raw.settling) return;
    raw.settling = true;
    this.config.onSettling();
  }

  private async resend(message: ReceivedMessage, groupId: string | undefined, queue: QueueInfo, headers: Record<string, string>): Promise<void> {
    const wire = toWire({ ...message, headers });
    const notBefore = Number(headers[EventbusHeaders.notBefore]);
    const delay = notBefore > Date.now() ? Math.min(MAX_SEND_DELAY_S, Math.ceil((notBefore - Date.now()) / 1000)) : 0;
    const fifo = this.config.fifo
      ? { MessageGroupId: groupId ?? fifoId(message.channel), MessageDeduplicationId: randomUUID() }
      : delay > 0
        ? { DelaySeconds: delay }
        : {};
    try {
      await this.config.sqs.send(
        new SendMessageCommand({ QueueUrl: queue.url, MessageBody: wire.body, MessageAttributes: wire.attributes, ...fifo }),
      );
    } catch (error) {
      throw awsError(`sending a message to SQS queue "${queue.name}"`, error);
    }
  }
}
