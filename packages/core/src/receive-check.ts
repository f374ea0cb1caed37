import { deferHeaders } from './headers.js';
import { deliverAtOf, heldUntil } from './schedule.js';
import type { ScheduleCancellations } from './schedule-cancellations.js';
import type { Delivery } from './transport.js';

/** How long a due scheduled event waits when the cancellation store cannot be asked. */
const CANCELLATIONS_UNAVAILABLE_DELAY_MS = 2_000;

export interface ScheduleCheckOptions {
  cancellations: ScheduleCancellations | undefined;
  /** Run a settle, reporting (never throwing) its failure. */
  settle(what: string, settle: () => Promise<void>): Promise<void>;
  /** The store could not be asked (the event is redelivered later). */
  onStoreError(error: unknown): void;
}

/**
 * The receive check, before any middleware: an event whose time has not come (a scheduled publish a
 * transport delivered early, or a deferral's copy handed back before its hold ended — a hop of at
 * most the transport's `maxDelayMs`) is deferred again for this group, the same attempt, without
 * running; a due scheduled event that was cancelled is acked without running. True when it settled here.
 */
export async function settledBySchedule(delivery: Delivery, eventId: string, options: ScheduleCheckOptions): Promise<boolean> {
  const { headers } = delivery.message;
  const until = heldUntil(headers);
  if (until !== undefined) {
    await options.settle('defer', () => delivery.defer(until, deferHeaders(delivery, until, false)));
    return true;
  }
  // Only scheduled events are looked up: an ordinary event never costs a store round trip.
  const { cancellations } = options;
  if (cancellations === undefined || deliverAtOf(headers) === undefined) return false;
  let cancelled: boolean;
  try {
    cancelled = await cancellations.isCancelled(eventId);
  } catch (error) {
    options.onStoreError(error);
    // Deferred, not nacked: an unreachable store is not the event's failed attempt.
    const retryAt = Date.now() + CANCELLATIONS_UNAVAILABLE_DELAY_MS;
    await options.settle('defer', () => delivery.defer(retryAt, deferHeaders(delivery, retryAt, false)));
    return true;
  }
  if (!cancelled) return false;
  await options.settle('ack', () => delivery.ack());
  return true;
}
