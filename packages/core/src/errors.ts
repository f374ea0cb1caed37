/** Base class of every error eventbus throws, so callers can tell ours from theirs. */
export class EventBusError extends Error {
  override readonly name: string = 'EventBusError';
}

/**
 * A bad option, found at construction. The message names the option — "Invalid option `url`: …" — or,
 * when the remedy is not a different value (a package to install, a variable to set), says that
 * instead: pass the whole message as `message`. `option` always names what was wrong.
 */
export class ConfigError extends EventBusError {
  override readonly name = 'ConfigError';
  constructor(
    readonly option: string,
    problem: string,
    wording: { message?: string } = {},
  ) {
    super(wording.message ?? `Invalid option \`${option}\`: ${problem}`);
  }
}

export interface ValidationIssue {
  path: string;
  message: string;
}

/** Data that does not match its contract. Thrown by publish before anything is sent. */
export class ValidationError extends EventBusError {
  override readonly name = 'ValidationError';
  constructor(
    readonly eventType: string,
    readonly issues: ValidationIssue[],
  ) {
    super(
      `Event "${eventType}" does not match its contract: ${issues
        .map((i) => (i.path ? `${i.path}: ${i.message}` : i.message))
        .join('; ')}`,
    );
  }
}

export type PoisonReason =
  | 'malformed'
  | 'missing-attributes'
  | 'unknown-type'
  | 'schema-mismatch'
  | 'oversized';

/** A received message that can never be handled: it is dead-lettered at once, never retried. */
export class PoisonMessageError extends EventBusError {
  override readonly name = 'PoisonMessageError';
  constructor(
    readonly reason: PoisonReason,
    detail: string,
  ) {
    super(`${reason}: ${detail}`);
  }
}

/** An encoded message larger than the transport (or the bus option) allows. */
export class MessageTooLargeError extends EventBusError {
  override readonly name = 'MessageTooLargeError';
  constructor(
    readonly size: number,
    readonly limit: number,
    what = 'message',
  ) {
    super(`The ${what} is ${size} bytes; the limit is ${limit} bytes`);
  }
}

/**
 * Throw from a handler when retrying cannot help (a request the external API rejects for good):
 * the event goes straight to the dead-letter destination with this message as its reason.
 */
export class NonRetryableError extends EventBusError {
  override readonly name = 'NonRetryableError';
}

/**
 * Throw from a handler to say "not now, try again at this time" (a throttled API, a resource not
 * ready yet): the delivery comes back then, as `ctx.retryAfter(when)` does. Not a failed attempt —
 * it does not count toward `maxAttempts`; deferrals have their own bound (`retryLater.maxDeferrals`).
 */
export class RetryLaterError extends EventBusError {
  override readonly name = 'RetryLaterError';
  /** ms from the throw, or the time itself. */
  readonly when: number | Date;
  constructor(when: number | Date, reason?: string) {
    super(reason ?? `retry later (${when instanceof Date ? when.toISOString() : `in ${when} ms`})`);
    // Relative to the throw, not to when a middleware further out catches it.
    this.when = when instanceof Date || typeof when !== 'number' || !Number.isFinite(when) ? when : new Date(Date.now() + Math.max(0, when));
  }
}

/** A handler ran past its `timeout`. Retried like any other failure. */
export class HandlerTimeoutError extends EventBusError {
  override readonly name = 'HandlerTimeoutError';
  constructor(readonly timeoutMs: number) {
    super(`Handler did not finish within ${timeoutMs} ms`);
  }
}

/** The transport could not do what was asked (not connected, closed, broker refused). */
export class TransportError extends EventBusError {
  override readonly name: string = 'TransportError';
}

/**
 * A publish that no group would ever receive: nobody has subscribed to the channel or provisioned a
 * group for it (`bus.provision()`), and the transport can tell at publish time. Nothing was kept.
 */
export class UnroutableError extends TransportError {
  override readonly name = 'UnroutableError';
  constructor(readonly channel: string) {
    super(
      `No group receives channel "${channel}": nothing has subscribed to it or been provisioned for it. ` +
        'Run bus.provision() (or `eventbus provision`) before publishing, or start a consumer first.',
    );
  }
}

/** A message that a subscriber waiting on a coordination store (lock, rate limit) could not get in time. */
export class CoordinationUnavailableError extends EventBusError {
  override readonly name = 'CoordinationUnavailableError';
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
