import type { EventContract } from '../contract.js';
import type { CloudEvent, EnvelopeOptions } from '../envelope.js';
import type { MessageContext, Middleware } from '../context.js';

/** What the bus tells an instrumentation about one event it is about to publish. */
export interface SendInfo {
  readonly contract: EventContract;
  readonly channel: string;
  /** The transport's short name ("memory", "kafka", …). */
  readonly transport: string;
  /** Envelope options as the caller gave them (ctx.emit already carries the incoming trace context). */
  readonly options: EnvelopeOptions;
  /** The handler context when the event is emitted through `ctx.emit`. */
  readonly cause?: MessageContext;
}

export interface SendScope {
  /** Envelope options to publish with, e.g. with `traceparent` set to the send span. */
  readonly options: EnvelopeOptions;
  /** Called once: with the event when the broker confirmed it, or with the error. */
  end(outcome: { event?: CloudEvent; error?: unknown }): void;
}

/**
 * A hook into the bus for cross-cutting observers such as tracing: `send` wraps every outgoing event,
 * `process` returns middleware placed outermost around every handler.
 */
export interface Instrumentation {
  send?(info: SendInfo): SendScope;
  process?(info: { transport: string }): Middleware;
}
