import { decodeEvent } from '../codec.js';
import type { CloudEvent } from '../envelope.js';
import { errorMessage } from '../errors.js';
import { EventbusHeaders } from '../headers.js';
import type { ReceivedMessage, TransportCapabilities } from '../transport.js';

/** One dead letter as an operator sees it: what it is, why it is there, and the event itself. */
export interface DeadLetter {
  /** The event's id (CloudEvents `id`): what `show`, `redrive --id` and `purge --id` select by. */
  readonly id: string;
  readonly type: string;
  /** The channel it was published on. */
  readonly channel: string;
  readonly group: string;
  readonly reason: string;
  /** The delivery attempt that dead-lettered it. */
  readonly attempts: number;
  /** When it was dead-lettered (undefined when the header is missing: a dead letter of another tool). */
  readonly deadLetteredAt: Date | undefined;
  /** The event, decoded; undefined when it cannot be (`decodeError` says why: the reason it is here, often). */
  readonly event: CloudEvent | undefined;
  readonly decodeError?: string;
  /** The message as the broker holds it: headers and body bytes. */
  readonly message: ReceivedMessage;
}

/** Which dead letters an operation takes; every given condition must hold. */
export interface DeadLetterFilter {
  /** Event ids. */
  ids?: readonly string[];
  /** Event types. */
  types?: readonly string[];
  /** The reason contains this text (case-insensitive). */
  reason?: string;
  /** Dead-lettered at least this long ago. */
  olderThanMs?: number;
  /** Dead-lettered at most this long ago. */
  newerThanMs?: number;
}

const DEAD_LETTER_HEADERS = [
  EventbusHeaders.deadLetterReason,
  EventbusHeaders.deadLetterAttempts,
  EventbusHeaders.deadLetterGroup,
  EventbusHeaders.deadLetterChannel,
  EventbusHeaders.deadLetterTime,
];

/** Read a dead letter off the broker's message; a body that does not decode is still listed. */
export function readDeadLetter(message: ReceivedMessage, group: string, encoding: TransportCapabilities['encoding']): DeadLetter {
  const { headers } = message;
  let event: CloudEvent | undefined;
  let decodeError: string | undefined;
  try {
    event = message.event ?? decodeEvent(message, encoding);
  } catch (error) {
    decodeError = errorMessage(error);
  }
  const time = headers[EventbusHeaders.deadLetterTime];
  const at = time === undefined ? undefined : new Date(time);
  const attempts = Number(headers[EventbusHeaders.deadLetterAttempts]);
  return {
    id: event?.id ?? headers[`${attributePrefix(encoding)}id`] ?? '(unreadable)',
    type: event?.type ?? '(unreadable)',
    channel: headers[EventbusHeaders.deadLetterChannel] ?? message.channel,
    group: headers[EventbusHeaders.deadLetterGroup] ?? group,
    reason: headers[EventbusHeaders.deadLetterReason] ?? '(no reason recorded)',
    attempts: Number.isInteger(attempts) ? attempts : 0,
    deadLetteredAt: at && !Number.isNaN(at.getTime()) ? at : undefined,
    event,
    ...(decodeError === undefined ? {} : { decodeError }),
    message,
  };
}

function attributePrefix(encoding: TransportCapabilities['encoding']): string {
  return 'attributePrefix' in encoding && encoding.attributePrefix !== undefined ? encoding.attributePrefix : 'ce-';
}

export function matches(letter: DeadLetter, filter: DeadLetterFilter, now = Date.now()): boolean {
  if (filter.ids && !filter.ids.includes(letter.id)) return false;
  if (filter.types && !filter.types.includes(letter.type)) return false;
  if (filter.reason !== undefined && !letter.reason.toLowerCase().includes(filter.reason.toLowerCase())) return false;
  if (filter.olderThanMs !== undefined || filter.newerThanMs !== undefined) {
    // Without a time it is neither older nor newer than anything: an age filter leaves it out.
    if (letter.deadLetteredAt === undefined) return false;
    const age = now - letter.deadLetteredAt.getTime();
    if (filter.olderThanMs !== undefined && age < filter.olderThanMs) return false;
    if (filter.newerThanMs !== undefined && age > filter.newerThanMs) return false;
  }
  return true;
}

/**
 * The headers a redriven copy carries: the original event's, without the dead-letter record, the
 * retry state or a hold, so the group handles it as new (attempt 1).
 */
export function redriveHeaders(message: ReceivedMessage): Record<string, string> {
  const headers: Record<string, string> = { ...message.headers };
  for (const name of DEAD_LETTER_HEADERS) delete headers[name];
  delete headers[EventbusHeaders.attempt];
  delete headers[EventbusHeaders.notBefore];
  delete headers[EventbusHeaders.deferrals];
  return headers;
}
