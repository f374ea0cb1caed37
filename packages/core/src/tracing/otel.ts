// The few parts of @opentelemetry/api that tracing uses, described structurally so that core's types
// and main entry never require the optional peer: pass `import * as api from '@opentelemetry/api'`.

export interface OtelContext {
  getValue(key: symbol): unknown;
  setValue(key: symbol, value: unknown): OtelContext;
  deleteValue(key: symbol): OtelContext;
}

export interface OtelTraceState {
  serialize(): string;
}

export interface OtelSpanContext {
  traceId: string;
  spanId: string;
  traceFlags: number;
  isRemote?: boolean;
  traceState?: OtelTraceState;
}

export type OtelAttributeValue = string | number | boolean;

export interface OtelSpan {
  spanContext(): OtelSpanContext;
  setAttribute(key: string, value: OtelAttributeValue): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  recordException(exception: Error | string): void;
  end(): void;
}

export interface OtelTracer {
  startSpan(
    name: string,
    options?: { kind?: number; attributes?: Record<string, OtelAttributeValue> },
    context?: OtelContext,
  ): OtelSpan;
}

/** The `@opentelemetry/api` module, or any object with the same shape. */
export interface OtelApi {
  trace: {
    getTracer(name: string, version?: string): OtelTracer;
    getSpan(context: OtelContext): OtelSpan | undefined;
    setSpan(context: OtelContext, span: OtelSpan): OtelContext;
    setSpanContext(context: OtelContext, spanContext: OtelSpanContext): OtelContext;
  };
  context: {
    active(): OtelContext;
    with<F extends () => ReturnType<F>>(context: OtelContext, fn: F): ReturnType<F>;
  };
  createTraceState?(raw?: string): OtelTraceState;
}

// Stable numeric values of the API's SpanKind and SpanStatusCode enums.
export const SPAN_KIND_PRODUCER = 3;
export const SPAN_KIND_CONSUMER = 4;
export const SPAN_STATUS_ERROR = 2;
