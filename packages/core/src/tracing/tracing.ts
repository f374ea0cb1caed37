import { ConfigError } from '../errors.js';
import type { MessageContext } from '../context.js';
import { PROCESS_SPAN, tracingMiddleware } from './process.js';
import { ATTR, eventAttributes, messagingSystem } from './attributes.js';
import type { Instrumentation, SendInfo } from './hooks.js';
import { type OtelApi, type OtelContext, type OtelSpan, type OtelTracer, SPAN_KIND_PRODUCER, SPAN_STATUS_ERROR } from './otel.js';
import { formatTraceparent, isValidSpanContext, parseTraceparent } from './trace-context.js';

export interface TracingOptions {
  /** The `@opentelemetry/api` module (`import * as api from '@opentelemetry/api'`). */
  api: OtelApi;
  /** Defaults to `api.trace.getTracer('@org/eventbus')`. */
  tracer?: OtelTracer;
}

/**
 * OpenTelemetry for the bus: pass as `createEventBus({ instrumentation: tracing({ api }) })`.
 * Publishing opens a PRODUCER `send <channel>` span and writes its W3C trace context into the envelope;
 * handling opens a CONSUMER `process <channel>` span as its child. `ctx.emit` inside a handler sends as
 * a child of the process span, so a whole chain — from the HTTP request that started it — is one trace.
 */
export function tracing(options: TracingOptions): Instrumentation {
  const api = options?.api;
  if (!api || typeof api.trace?.getTracer !== 'function' || typeof api.context?.active !== 'function') {
    throw new ConfigError('api', 'must be the @opentelemetry/api module (or use loadTracing())');
  }
  const tracer = options.tracer ?? api.trace.getTracer('@org/eventbus');

  /** The active span wins (a handler's own child span, an HTTP request); then the handler's process span; then the envelope. */
  const parentOf = (info: SendInfo): OtelContext => {
    const active = api.context.active();
    if (api.trace.getSpan(active)) return active;
    const processSpan = info.cause?.state.get(PROCESS_SPAN) as OtelSpan | undefined;
    if (processSpan) return api.trace.setSpan(active, processSpan);
    const remote = parseTraceparent(api, info.options.traceparent, info.options.tracestate);
    return remote ? api.trace.setSpanContext(active, remote) : active;
  };

  return {
    send(info) {
      const span = tracer.startSpan(
        `send ${info.channel}`,
        {
          kind: SPAN_KIND_PRODUCER,
          attributes: {
            [ATTR.system]: messagingSystem(info.transport),
            [ATTR.destination]: info.channel,
            [ATTR.operationType]: 'send',
            [ATTR.operationName]: 'send',
          },
        },
        parentOf(info),
      );
      const spanContext = span.spanContext();
      // A no-op tracer (no SDK registered) yields an invalid context: keep whatever trace context the caller had.
      const options = isValidSpanContext(spanContext)
        ? {
            ...info.options,
            traceparent: formatTraceparent(spanContext),
            ...(spanContext.traceState ? { tracestate: spanContext.traceState.serialize() } : {}),
          }
        : info.options;
      return {
        options,
        end({ event, error }) {
          if (event) for (const [key, value] of Object.entries(eventAttributes(event))) span.setAttribute(key, value);
          if (error !== undefined) {
            span.recordException(error instanceof Error ? error : String(error));
            span.setStatus({ code: SPAN_STATUS_ERROR, message: error instanceof Error ? error.message : String(error) });
          }
          span.end();
        },
      };
    },
    process: ({ transport }) => tracingMiddleware({ api, tracer, transport }),
  };
}

/**
 * `tracing()` with `@opentelemetry/api` loaded on demand, so the bus works without the optional peer
 * installed until tracing is actually asked for.
 */
export async function loadTracing(options: Omit<TracingOptions, 'api'> = {}): Promise<Instrumentation> {
  let api: OtelApi;
  try {
    api = (await import('@opentelemetry/api')) as unknown as OtelApi;
  } catch (error) {
    throw new ConfigError('tracing', `needs the optional peer @opentelemetry/api installed (${String(error)})`);
  }
  return tracing({ ...options, api });
}

/** The process span of a handler context, for handlers that want to add attributes. */
export function processSpanOf(ctx: MessageContext): OtelSpan | undefined {
  return ctx.state.get(PROCESS_SPAN) as OtelSpan | undefined;
}
