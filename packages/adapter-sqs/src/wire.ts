import { createHash } from 'node:crypto';
import type { Message } from '@aws-sdk/client-sqs';
import { attemptFromHeaders, EventbusHeaders, heldUntil, type ReceivedMessage } from '@org/eventbus';
import { fromWire, toWire, type WireMessage } from './attributes.js';

// SQS messages ⇄ the pipeline's messages: the attempt, not-before and dead-letter headers, FIFO ids.
// How headers and body ride on SQS message attributes is attributes.ts's business.

/** What the adapter keeps of one received SQS message: the `raw` of its tracked delivery. */
export interface SqsReceived {
  readonly receiptHandle: string;
  readonly receivedAt: number;
  /** FIFO message group (the ordering key). */
  readonly groupId: string | undefined;
  /** A settle has started: the visibility heartbeat leaves it alone (its receipt handle may be gone). */
  settling: boolean;
}

/** One message off the queue, decoded, before it is handed to the pipeline. */
export interface Decoded {
  received: SqsReceived;
  message: ReceivedMessage;
  attempt: number;
}

/**
 * Read one received SQS message. The attempt is the retry state carried across re-sent copies
 * (chained delays) plus SQS's own receive count for this copy. Undefined without a receipt handle
 * (nothing could settle it).
 */
export function decodeMessage(raw: Message, channels: readonly string[]): Decoded | undefined {
  if (!raw.ReceiptHandle) return undefined;
  const decoded = fromWire(raw.Body, raw.MessageAttributes);
  const groupId = raw.Attributes?.MessageGroupId;
  const key = decoded.key ?? groupId;
  const message: ReceivedMessage = {
    channel: decoded.channel ?? (channels.length === 1 ? channels[0]! : ''),
    headers: decoded.headers,
    body: decoded.body,
  };
  if (key !== undefined) message.key = key;
  const receives = Number(raw.Attributes?.ApproximateReceiveCount ?? 1);
  const attempt = attemptFromHeaders(decoded.headers) + (Number.isInteger(receives) && receives > 1 ? receives - 1 : 0);
  return { received: { receiptHandle: raw.ReceiptHandle, receivedAt: Date.now(), groupId, settling: false }, message, attempt };
}

/**
 * How long a message must still wait before a handler may see it (0: it is due): the later of its
 * scheduled time (`eventbus-deliver-at`) and its deferral's hold (`eventbus-not-before`), as core's
 * receive check reads them.
 */
export function heldRemainingMs(message: ReceivedMessage, now = Date.now()): number {
  const until = heldUntil(message.headers, now);
  return until === undefined ? 0 : until - now;
}

/** The longest per-message delay of SendMessage (standard queues; FIFO queues take none). */
export const MAX_SEND_DELAY_S = 900;

/**
 * The DelaySeconds of a copy due at `until`: whole seconds rounded DOWN, at most 900 s and at most
 * `maxHoldMs`. Rounding down means it comes back up to a second early, never late by the rounding;
 * the subscription holds that last second in process (see `SqsSubscription.dispatch`), so nothing
 * reaches a handler early either.
 */
export function sendDelaySeconds(until: number | undefined, maxHoldMs: number, now = Date.now()): number {
  if (until === undefined || until <= now) return 0;
  return Math.min(MAX_SEND_DELAY_S, Math.floor(maxHoldMs / 1000), Math.floor((until - now) / 1000));
}

/**
 * A value SQS accepts as a FIFO message group or deduplication id (1–128 printable ASCII
 * characters); anything else is replaced by its hash, so one key still maps to one group.
 */
export function fifoId(value: string): string {
  return /^[\x21-\x7E]{1,128}$/.test(value) ? value : createHash('sha256').update(value).digest('hex');
}

/** Headers that described the message's death and retries: a redriven message starts afresh. */
const DEATH_AND_RETRY = new Set<string>([
  EventbusHeaders.attempt,
  EventbusHeaders.notBefore,
  EventbusHeaders.deadLetterReason,
  EventbusHeaders.deadLetterAttempts,
  EventbusHeaders.deadLetterGroup,
  EventbusHeaders.deadLetterChannel,
  EventbusHeaders.deadLetterTime,
]);

/**
 * A dead letter as it goes back to its group's queue: on its original channel, without the headers
 * of its death and retries (it starts over at attempt 1), in its FIFO group.
 */
export function redrivenCopy(raw: Message): { wire: WireMessage; groupId: string } {
  const decoded = fromWire(raw.Body, raw.MessageAttributes);
  const headers = Object.fromEntries(Object.entries(decoded.headers).filter(([name]) => !DEATH_AND_RETRY.has(name)));
  const channel = decoded.headers[EventbusHeaders.deadLetterChannel] ?? decoded.channel ?? '';
  const wire = toWire({ channel, ...(decoded.key === undefined ? {} : { key: decoded.key }), headers, body: decoded.body });
  const group = raw.Attributes?.MessageGroupId ?? decoded.key ?? channel;
  return { wire, groupId: fifoId(group || 'redrive') };
}
