import type { Delivery } from './transport.js';

/**
 * Header names eventbus itself reads and writes next to the CloudEvents attributes. Retry state
 * lives here, never in the user's payload.
 */
export const EventbusHeaders = {
  /** Delivery attempt carried across republishing (retry queues, retry topics). */
  attempt: 'eventbus-attempt',
  /** Earliest time (ms since epoch) a retried message may be handled, where the broker cannot delay. */
  notBefore: 'eventbus-not-before',
  /** A scheduled publish: the event is not handled before this time (ms since epoch); kept on every copy. */
  deliverAt: 'eventbus-deliver-at',
  /** How many times a handler said "retry after" (`ctx.retryAfter`): counted apart from failed attempts. */
  deferrals: 'eventbus-deferrals',
  deadLetterReason: 'eventbus-dead-letter-reason',
  deadLetterAttempts: 'eventbus-dead-letter-attempts',
  deadLetterGroup: 'eventbus-dead-letter-group',
  deadLetterChannel: 'eventbus-dead-letter-channel',
  deadLetterTime: 'eventbus-dead-letter-time',
} as const;

const MAX_REASON_LENGTH = 1024;

/** The headers every adapter adds when it dead-letters a delivery: the original headers stay as they were. */
export function deadLetterHeaders(delivery: Pick<Delivery, 'message' | 'attempt'>, group: string, reason: string): Record<string, string> {
  return {
    ...delivery.message.headers,
    [EventbusHeaders.deadLetterReason]: reason.length > MAX_REASON_LENGTH ? `${reason.slice(0, MAX_REASON_LENGTH)}…` : reason,
    [EventbusHeaders.deadLetterAttempts]: String(delivery.attempt),
    [EventbusHeaders.deadLetterGroup]: group,
    [EventbusHeaders.deadLetterChannel]: delivery.message.channel,
    [EventbusHeaders.deadLetterTime]: new Date().toISOString(),
  };
}

/** The attempt a delivery carries in its headers (1 when absent or unreadable). */
export function attemptFromHeaders(headers: Record<string, string>): number {
  const n = Number(headers[EventbusHeaders.attempt]);
  return Number.isInteger(n) && n >= 1 ? n : 1;
}

/** Headers for republishing a message as its next attempt (retry queues and topics). */
export function nextAttemptHeaders(delivery: Delivery, notBefore?: number): Record<string, string> {
  const headers: Record<string, string> = {
    ...delivery.message.headers,
    [EventbusHeaders.attempt]: String(delivery.attempt + 1),
  };
  if (notBefore !== undefined) headers[EventbusHeaders.notBefore] = String(notBefore);
  else delete headers[EventbusHeaders.notBefore];
  return headers;
}

/**
 * Headers for `Delivery.defer`: the message's own, the same attempt (a deferral is not a failed
 * attempt), held until `notBefore`; `countDeferral` adds one to `eventbus-deferrals` (retry-after),
 * a scheduled publish that arrived early does not.
 */
export function deferHeaders(delivery: Pick<Delivery, 'message' | 'attempt'>, notBefore: number, countDeferral: boolean): Record<string, string> {
  const headers: Record<string, string> = {
    ...delivery.message.headers,
    [EventbusHeaders.attempt]: String(delivery.attempt),
    [EventbusHeaders.notBefore]: String(notBefore),
  };
  if (countDeferral) headers[EventbusHeaders.deferrals] = String(deferralsFromHeaders(delivery.message.headers) + 1);
  return headers;
}

/** The retry-after deferrals a message has been through (0 when absent or unreadable). */
export function deferralsFromHeaders(headers: Record<string, string>): number {
  const n = Number(headers[EventbusHeaders.deferrals]);
  return Number.isInteger(n) && n >= 0 ? n : 0;
}

/** Encoded size of a message as brokers count it: body plus header names and values. */
export function messageSize(message: { headers: Record<string, string>; body: Uint8Array }): number {
  let size = message.body.byteLength;
  for (const k in message.headers) size += Buffer.byteLength(k) + Buffer.byteLength(message.headers[k]!);
  return size;
}

/** True when the message certainly fits: UTF-16 length × 3 bounds UTF-8 bytes, so most checks skip the exact count. */
export function fitsIn(message: { headers: Record<string, string>; body: Uint8Array }, limit: number): boolean {
  let bound = message.body.byteLength;
  for (const k in message.headers) bound += (k.length + message.headers[k]!.length) * 3;
  return bound <= limit || messageSize(message) <= limit;
}
