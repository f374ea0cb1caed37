import type { Middleware } from '../context.js';
import { ATTR, eventAttributes, messagingSystem } from './attributes.js';
import { type OtelApi, type OtelSpan, type OtelTracer, SPAN_KIND_CONSUMER, SPAN_STATUS_ERROR } from './otel.js';
import { parseTraceparent } from './trace-context.js';

/** Where the process span waits in `ctx.state`, so `ctx.emit` parents its send span on it. */
export const PROCESS_SPAN = Symbol.for('eventbus.tracing.processSpan');

export interface ProcessTracingOptions {
  api: OtelApi;
  tracer: OtelTracer;
  /** The transport's short name; becomes `messaging.system`. */
  transport: string;
}

/**
 * A `process <channel>` CONSUMER span around one delivery attempt, a child of the publisher's span
 * (the envelope's traceparent), and the active span while the handler runs. A nack for retry or a
 * dead-letter marks the span as an error; the logger gains the trace and span ids.
 */
export function tracingMiddleware(options: ProcessTracingOptions): Middleware {
  const { api, tracer } = options;
  const system = messagingSystem(options.transport);
  return (next) => async (ctx) => {
    const remote = parseTraceparent(api, ctx.event.traceparent, ctx.event.tracestate);
    const parent = remote ? api.trace.setSpanContext(api.context.active(), remote) : api.context.active();
    const span: OtelSpan = tracer.startSpan(
      `process ${ctx.channel}`,
      {
        kind: SPAN_KIND_CONSUMER,
        attributes: {
          [ATTR.system]: system,
          [ATTR.destination]: ctx.channel,
          [ATTR.operationType]: 'process',
          [ATTR.operationName]: 'process',
          [ATTR.consumerGroup]: ctx.group,
          [ATTR.deliveryCount]: ctx.attempt,
          ...eventAttributes(ctx.event),
        },
      },
      parent,
    );
    const { traceId, spanId } = span.spanContext();
    const traced = Object.create(ctx) as typeof ctx;
    Object.defineProperties(traced, {
      logger: { value: ctx.logger.child ? ctx.logger.child({ traceId, spanId }) : ctx.logger },
      nack: {
        value: (nackOptions?: Parameters<typeof ctx.nack>[0]) => {
          span.setStatus({ code: SPAN_STATUS_ERROR, message: `nacked on attempt ${ctx.attempt}` });
          return ctx.nack(nackOptions);
        },
      },
      deadLetter: {
        value: (reason: string) => {
          span.setStatus({ code: SPAN_STATUS_ERROR, message: `dead-lettered: ${reason}` });
          return ctx.deadLetter(reason);
        },
      },
    });
    ctx.state.set(PROCESS_SPAN, span);
    try {
      await api.context.with(api.trace.setSpan(parent, span), () => next(traced));
    } catch (error) {
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({ code: SPAN_STATUS_ERROR, message: error instanceof Error ? error.message : String(error) });
      throw error;
    } finally {
      span.end();
    }
  };
}
