import { ConfigError } from './errors.js';
import { EventbusHeaders } from './headers.js';

/** When an event may be handled: after `delay` ms, or at `deliverAt` (one of them, never both). */
export interface ScheduleOptions {
  /** Not handled before this many ms from now. 0 = now. */
  delay?: number;
  /** Not handled before this time (a Date or ms since epoch). A time in the past = now. */
  deliverAt?: Date | number;
}

/**
 * How much later than now a hold time must be before the receive check defers: clocks of one host
 * agree, a broker's timer fires a few ms early or late, and a hop for 2 ms would cost more than it saves.
 */
export const CLOCK_TOLERANCE_MS = 5;

/**
 * The time (ms since epoch) a publish with these options is scheduled for, or undefined for "now"
 * (no options, a delay of 0, a time already past). Bad values throw a ConfigError naming the option.
 */
export function scheduledTime(options: ScheduleOptions | undefined, clock?: number): number | undefined {
  const delay = options?.delay;
  const deliverAt = options?.deliverAt;
  if (delay === undefined && deliverAt === undefined) return undefined;
  // The clock is read only for a scheduled publish: an ordinary one (every event of a batch) skips it.
  const now = clock ?? Date.now();
  if (delay !== undefined && deliverAt !== undefined) {
    throw new ConfigError('delay', 'give `delay` or `deliverAt`, not both');
  }
  let at: number;
  if (delay !== undefined) {
    if (typeof delay !== 'number' || !Number.isFinite(delay) || delay < 0) {
      throw new ConfigError('delay', `must be a finite number of ms ≥ 0 (got ${String(delay)})`);
    }
    at = now + Math.ceil(delay);
  } else {
    const ms = deliverAt instanceof Date ? deliverAt.getTime() : deliverAt;
    if (typeof ms !== 'number' || !Number.isFinite(ms)) {
      throw new ConfigError('deliverAt', `must be a valid Date or ms since epoch (got ${String(deliverAt)})`);
    }
    at = Math.ceil(ms);
  }
  return at > now ? at : undefined;
}

/** Drop the schedule fields from publish options (what the envelope must not see). */
export function withoutSchedule<T extends ScheduleOptions>(options: T): Omit<T, keyof ScheduleOptions> {
  if (!('delay' in options) && !('deliverAt' in options)) return options;
  const { delay: _delay, deliverAt: _deliverAt, ...rest } = options;
  return rest;
}

function timeHeader(headers: Record<string, string>, name: string): number | undefined {
  const raw = headers[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  return Number.isFinite(n) ? n : undefined;
}

/** The scheduled time a message carries (`eventbus-deliver-at`), if any. */
export function deliverAtOf(headers: Record<string, string>): number | undefined {
  return timeHeader(headers, EventbusHeaders.deliverAt);
}

/**
 * The receive check: the time this message must not be handled before, when that is still ahead
 * (beyond the clock tolerance) — the later of its scheduled time and the hold of its last deferral.
 * Undefined: handle it now.
 */
export function heldUntil(headers: Record<string, string>, now = Date.now()): number | undefined {
  const deliverAt = timeHeader(headers, EventbusHeaders.deliverAt) ?? 0;
  const notBefore = timeHeader(headers, EventbusHeaders.notBefore) ?? 0;
  const until = Math.max(deliverAt, notBefore);
  return until > now + CLOCK_TOLERANCE_MS ? until : undefined;
}

/** `ctx.retryAfter` / `RetryLaterError`: ms from now or a time → ms since epoch (never before now). */
export function retryTime(when: number | Date, now = Date.now()): number {
  const at = when instanceof Date ? when.getTime() : typeof when === 'number' && Number.isFinite(when) && when >= 0 ? now + Math.ceil(when) : Number.NaN;
  if (!Number.isFinite(at)) {
    throw new ConfigError('retryAfter', `takes ms ≥ 0 or a valid Date (got ${String(when)})`);
  }
  return Math.max(now, at);
}
