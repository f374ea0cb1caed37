/**
 * The one place that observes what the bus did — published, started handling, settled — as plain
 * objects, for metrics (`createMetrics`) and for any live view (stats pages, tests, logs).
 *
 *     createEventBus({ transport, source, instrumentation: [tracing({ api }), observeBus(listener)] })
 *
 * The listener is told:
 * - `published(o)` once per (type, channel) of each `transport.publish` call, when the broker confirmed
 *   or refused it: `{ transport, type, channel, count, durationMs, error?, traceparent? }`. `durationMs`
 *   is the transport call (a held `ctx.emit` is timed from its flush, not from the emit).
 * - `deliveryStarted(o)` when a delivery starts being handled (after decoding and the handler's
 *   concurrency slot; in flight +1): `{ transport, group, channel, type?, eventId?, attempt }`.
 *   Poison is observed too, with `type`/`eventId` only when they could be read; so is a scheduled event
 *   the receive check settles without running (deferred because early, acked because cancelled), started
 *   at that settle.
 * - `deliveryEnded(o)`, the same plus `{ outcome, durationMs, reason?, delayMs?, traceparent? }`, once the
 *   delivery's settle completed (in flight −1). `outcome` is how it was actually settled, by whoever did:
 *   `ack`; `nack` (a retry to come — the retry middleware's or the handler's own `ctx.nack`);
 *   `dead-letter` (with the reason; poison included); `defer` (`delayMs` until it comes back);
 *   `error` (a middleware broke, or the settle itself failed: the broker redelivers).
 *   `durationMs` runs from the start to the settle.
 *
 * `traceparent` is the W3C trace context of the span to link the numbers to (exemplars): the process span
 * when tracing is on, else the event's own; for a publish, the first event's send span. A listener that
 * throws is ignored (observing never changes what the bus does).
 */
import type { Instrumentation, ReceiveInfo } from '../tracing/hooks.js';
import type { OtelSpan } from '../tracing/otel.js';
import { PROCESS_SPAN } from '../tracing/process.js';
import { formatTraceparent, isValidSpanContext } from '../tracing/trace-context.js';
import type { DeliveryOutcome } from '../tracing/hooks.js';

export type { DeliveryOutcome } from '../tracing/hooks.js';

export interface PublishObservation {
  readonly transport: string;
  readonly type: string;
  readonly channel: string;
  /** Events of this type and channel in the transport call. */
  readonly count: number;
  readonly durationMs: number;
  /** Set when the broker refused (or the call failed): none of these events was published. */
  readonly error?: unknown;
  readonly traceparent?: string;
}

export interface DeliveryStartObservation {
  readonly transport: string;
  readonly group: string;
  readonly channel: string;
  /** Absent only for poison that did not decode. */
  readonly type?: string;
  readonly eventId?: string;
  /** 1 on the first delivery. */
  readonly attempt: number;
}

export interface DeliveryEndObservation extends DeliveryStartObservation {
  readonly outcome: DeliveryOutcome;
  readonly durationMs: number;
  /** The dead-letter reason, or what broke for `error`. */
  readonly reason?: string;
  /** A nack's requested delay, or how long a defer holds the event back. */
  readonly delayMs?: number;
  readonly traceparent?: string;
}

export interface BusListener {
  published?(observation: PublishObservation): void;
  deliveryStarted?(observation: DeliveryStartObservation): void;
  deliveryEnded?(observation: DeliveryEndObservation): void;
}

/** An instrumentation that tells `listener` every publish and every delivery's start and outcome. */
export function observeBus(listener: BusListener): Instrumentation {
  return {
    publish({ transport, events }) {
      const startedAt = performance.now();
      return {
        end({ error }) {
          const durationMs = performance.now() - startedAt;
          const groups = new Map<string, { type: string; channel: string; count: number; traceparent: string | undefined }>();
          for (const { event, channel } of events) {
            const key = `${event.type}\u0000${channel}`;
            const known = groups.get(key);
            if (known) known.count += 1;
            else groups.set(key, { type: event.type, channel, count: 1, traceparent: event.traceparent });
          }
          for (const { type, channel, count, traceparent } of groups.values()) {
            tell(() =>
              listener.published?.({
                transport,
                type,
                channel,
                count,
                durationMs,
                ...(error === undefined ? {} : { error }),
                ...(traceparent === undefined ? {} : { traceparent }),
              }),
            );
          }
        },
      };
    },
    receive(info) {
      const start = startObservation(info);
      const startedAt = performance.now();
      tell(() => listener.deliveryStarted?.(start));
      return {
        end(outcome) {
          const traceparent = traceparentOf(info);
          tell(() =>
            listener.deliveryEnded?.({
              ...start,
              ...outcome,
              durationMs: performance.now() - startedAt,
              ...(traceparent === undefined ? {} : { traceparent }),
            }),
          );
        },
      };
    },
  };
}

function startObservation(info: ReceiveInfo): DeliveryStartObservation {
  const { transport, group, channel, attempt, event } = info;
  return event ? { transport, group, channel, type: event.type, eventId: event.id, attempt } : { transport, group, channel, attempt };
}

/** The process span's context when tracing opened one for this delivery, else the event's own. */
function traceparentOf(info: ReceiveInfo): string | undefined {
  const span = info.context?.state.get(PROCESS_SPAN) as OtelSpan | undefined;
  const spanContext = span?.spanContext();
  if (spanContext && isValidSpanContext(spanContext)) return formatTraceparent(spanContext);
  return info.event?.traceparent;
}

function tell(call: () => void): void {
  try {
    call();
  } catch {
    // A broken listener must not change what the bus does (see the header).
  }
}
