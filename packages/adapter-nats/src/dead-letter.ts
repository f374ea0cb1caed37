import { EventbusHeaders, MessageTooLargeError } from '@org/eventbus';
import type { RawMessage } from './publisher.js';
import { wireSize } from './wire.js';

/** Dead-letter headers that may go, in this order, when the copy would not fit max_payload. */
const EXPENDABLE = [EventbusHeaders.deadLetterTime, EventbusHeaders.deadLetterAttempts, EventbusHeaders.deadLetterReason] as const;

/**
 * The dead-letter copy of a message the server delivered, made to fit the server's max_payload.
 * The publish limit (`maxMessageBytes`) does not apply: the server already accepted the original,
 * so an oversized event (the very thing poison often is) must still reach the dead-letter stream.
 * Only an original within a few hundred bytes of max_payload (a foreign client's; the default
 * maxMessageBytes leaves 48 KB) lacks room for the reason headers: the reason is shortened first,
 * then the time, attempt and reason headers go; group and channel stay (reading the dead letters back
 * needs them). If even that does not fit, this throws and the original is redelivered, never
 * dropped.
 */
export function fitDeadLetter(message: RawMessage, maxPayload: number): RawMessage {
  let size = wireSize(message);
  if (size <= maxPayload) return message;
  const headers = { ...message.headers };
  const fitted = { ...message, headers };
  const reason = headers[EventbusHeaders.deadLetterReason] ?? '';
  // Shorten the reason by what is over (its ellipsis travels as 9 percent-encoded bytes), again
  // by what is still over where encoding made characters longer than one byte.
  const ELLIPSIS_BYTES = 9;
  let keep = reason.length - (size - maxPayload) - ELLIPSIS_BYTES;
  while (keep > 0) {
    headers[EventbusHeaders.deadLetterReason] = `${reason.slice(0, keep)}…`;
    size = wireSize(fitted);
    if (size <= maxPayload) return fitted;
    keep -= size - maxPayload;
  }
  headers[EventbusHeaders.deadLetterReason] = '…';
  for (const name of EXPENDABLE) {
    if (wireSize(fitted) <= maxPayload) return fitted;
    delete headers[name];
  }
  size = wireSize(fitted);
  if (size <= maxPayload) return fitted;
  throw new MessageTooLargeError(size, maxPayload, 'dead letter with its group and channel headers (the server max_payload)');
}
