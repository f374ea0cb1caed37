import type { EventContract } from '../contract.js';
import type { CloudEvent, EnvelopeOptions } from '../envelope.js';
import type { MessageContext, Middleware } from '../context.js';
import type { Transport } from '../transport.js';

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

/** One `transport.publish` call: every event in it, as built (each `traceparent` is its send span's when tracing). */
export interface PublishInfo {
  readonly transport: string;
  readonly events: readonly { readonly event: CloudEvent; readonly channel: string }[];
}

export interface PublishScope {
  /** Called once, when the broker confirmed every event (no error) or refused the call. */
  end(outcome: { error?: unknown }): void;
}

/** How a delivery was settled: `nack` is a retry to come, `error` a broken middleware or a settle that failed. */
export type DeliveryOutcome = 'ack' | 'nack' | 'dead-letter' | 'defer' | 'error';

/** One delivery the pipeline starts handling (a handled event, or poison on its way to the dead letters). */
export interface ReceiveInfo {
  readonly transport: string;
  readonly group: string;
  readonly channel: string;
  readonly attempt: number;
  /** Absent for poison that did not decode. */
  readonly event?: CloudEvent;
  /** The handler context (absent for poison): its `state` holds the process span once tracing opened it. */
  readonly context?: MessageContext;
}

export interface ReceiveScope {
  /** Called once, when the first settle of the delivery completed (or failed). */
  end(outcome: { outcome: DeliveryOutcome; reason?: string; delayMs?: number }): void;
}

/** What the bus shows an instrumentation of itself once, at `createEventBus`. */
export interface BusInfo {
  readonly transport: Transport;
  /** The groups that have handlers so far (handlers are added after creation, so ask when needed). */
  groups(): readonly string[];
}

/**
 * A hook into the bus for cross-cutting observers such as tracing and metrics: `send` wraps every
 * outgoing event, `publish` every transport call, `process` returns middleware placed outermost
 * around every handler, `receive` sees every delivery from its start to how it was settled, and
 * `attach` is shown the bus once. Every hook is optional.
 */
export interface Instrumentation {
  send?(info: SendInfo): SendScope;
  publish?(info: PublishInfo): PublishScope;
  process?(info: { transport: string }): Middleware;
  receive?(info: ReceiveInfo): ReceiveScope;
  attach?(bus: BusInfo): void;
}
