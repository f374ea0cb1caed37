import { randomUUID } from 'node:crypto';
import { type Message, SendMessageCommand } from '@aws-sdk/client-sqs';
import {
  attemptFromHeaders,
  type Delivery,
  deadLetterHeaders,
  EventbusHeaders,
  type NackOptions,
  nextAttemptHeaders,
  type ReceivedMessage,
} from '@org/eventbus';
import { fromWire, SQS_MAX_MESSAGE_BYTES, toWire } from './attributes.js';
import type { ConsumerConfig } from './consumer.js';
import { fifoId } from './publisher.js';
import { awsError } from './errors.js';
import type { Settler } from './settler.js';
import type { QueueInfo } from './topology.js';

/** What a delivery needs from its subscription. */
export interface DeliverySink {
  readonly config: ConsumerConfig;
  readonly settler: Settler;
  settled(delivery: SqsDelivery, work: Promise<unknown> | undefined): void;
}

/** The longest per-message delay of SendMessage. */
const MAX_SEND_DELAY_S = 900;

/**
 * One received SQS message. ack deletes it; nack makes it visible again after the delay (a delay
 * SQS cannot hold in one visibility change is chained through re-sent copies carrying a
 * not-before header); deadLetter sends it to the group's dead-letter queue with the reason, then deletes it.
 */
export class SqsDelivery implements Delivery {
  readonly message: ReceivedMessage;
  readonly attempt: number;
  readonly receiptHandle: string;
  readonly receivedAt = Date.now();
  /** FIFO message group (the ordering key). */
  readonly groupId: string | undefined;
  private done = false;

  constructor(
    private readonly sink: DeliverySink,
    raw: Message,
  ) {
    const { channels } = sink.config;
    const decoded = fromWire(raw.Body, raw.MessageAttributes);
    this.receiptHandle = raw.ReceiptHandle ?? '';
    this.groupId = raw.Attributes?.MessageGroupId;
    const key = decoded.key ?? this.groupId;
    const message: ReceivedMessage = {
      channel: decoded.channel ?? (channels.length === 1 ? channels[0]! : ''),
      headers: decoded.headers,
      body: decoded.body,
    };
    if (key !== undefined) message.key = key;
    this.message = message;
    const receives = Number(raw.Attributes?.ApproximateReceiveCount ?? 1);
    // Retry state carried across re-sent copies (chained delays) plus SQS's own count for this copy.
    this.attempt = attemptFromHeaders(decoded.headers) + (Number.isInteger(receives) && receives > 1 ? receives - 1 : 0);
  }

  ack(): Promise<void> {
    return this.settle(() => this.sink.settler.delete(this.receiptHandle), true);
  }

  nack(options: NackOptions = {}): Promise<void> {
    const delayMs = Math.max(0, options.delayMs ?? 0);
    const limit = this.sink.config.maxVisibilityDelayMs;
    return this.settle(async () => {
      if (Date.now() - this.receivedAt + delayMs <= limit || this.sink.config.fifo) {
        // Whole seconds, rounded up, so a delayed message is never redelivered early.
        const seconds = Math.ceil(Math.min(delayMs, limit) / 1000);
        await this.sink.settler.changeVisibility(this.receiptHandle, seconds);
        return;
      }
      await this.resend(this.sink.config.queue, nextAttemptHeaders(this, Date.now() + delayMs));
      await this.sink.settler.delete(this.receiptHandle);
    });
  }

  deadLetter(reason: string): Promise<void> {
    return this.settle(async () => {
      const headers = deadLetterHeaders(this, this.sink.config.group, reason);
      // A message near the size limit still fits once the reason is cut to the room left.
      const overflow = toWire({ ...this.message, headers }).size - SQS_MAX_MESSAGE_BYTES;
      const full = headers[EventbusHeaders.deadLetterReason] ?? '';
      if (overflow > 0) headers[EventbusHeaders.deadLetterReason] = `${full.slice(0, Math.max(0, full.length - overflow - 4))}…`;
      await this.resend(this.sink.config.deadLetters, headers);
      await this.sink.settler.delete(this.receiptHandle);
    });
  }

  /**
   * A copy that must wait longer still (a chained delay): send it on with the rest of its delay and
   * report true, so it is never handed to the handler early.
   */
  holdUntilNotBefore(): boolean {
    const notBefore = Number(this.message.headers[EventbusHeaders.notBefore]);
    const remaining = notBefore - Date.now();
    if (!(remaining > 0)) return false;
    void this.settle(async () => {
      if (this.sink.config.fifo) {
        await this.sink.settler.changeVisibility(this.receiptHandle, Math.ceil(Math.min(remaining, this.sink.config.maxVisibilityDelayMs) / 1000));
        return;
      }
      await this.resend(this.sink.config.queue, this.message.headers);
      await this.sink.settler.delete(this.receiptHandle);
    }).catch(() => {});
    return true;
  }

  /** Settle once; `viaSettler` work is a single batched delete or visibility change the subscription already waits for. */
  private settle(work: () => Promise<void>, viaSettler = false): Promise<void> {
    if (this.done) return Promise.resolve();
    this.done = true;
    const promise = work();
    this.sink.settled(this, viaSettler ? undefined : promise);
    return promise;
  }

  private async resend(queue: QueueInfo, headers: Record<string, string>): Promise<void> {
    const wire = toWire({ ...this.message, headers });
    const notBefore = Number(headers[EventbusHeaders.notBefore]);
    const delay = notBefore > Date.now() ? Math.min(MAX_SEND_DELAY_S, Math.ceil((notBefore - Date.now()) / 1000)) : 0;
    const fifo = this.sink.config.fifo
      ? { MessageGroupId: this.groupId ?? fifoId(this.message.channel), MessageDeduplicationId: randomUUID() }
      : delay > 0
        ? { DelaySeconds: delay }
        : {};
    try {
      await this.sink.config.sqs.send(
        new SendMessageCommand({ QueueUrl: queue.url, MessageBody: wire.body, MessageAttributes: wire.attributes, ...fifo }),
      );
    } catch (error) {
      throw awsError(`sending a message to SQS queue "${queue.name}"`, error);
    }
  }
}
