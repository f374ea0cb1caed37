import type { OtelApi, OtelSpanContext } from './otel.js';

// W3C Trace Context, version 00: https://www.w3.org/TR/trace-context/#traceparent-header
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const INVALID_TRACE_ID = '0'.repeat(32);
const INVALID_SPAN_ID = '0'.repeat(16);

/** A span context read from the envelope's `traceparent`/`tracestate`, or undefined when absent or malformed. */
export function parseTraceparent(api: OtelApi, traceparent?: string, tracestate?: string): OtelSpanContext | undefined {
  if (traceparent === undefined) return undefined;
  const match = TRACEPARENT.exec(traceparent.trim().toLowerCase());
  if (!match) return undefined;
  const [, version, traceId, spanId, flags, rest] = match;
  // Version ff is forbidden; version 00 has nothing after the flags.
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (traceId === INVALID_TRACE_ID || spanId === INVALID_SPAN_ID) return undefined;
  const spanContext: OtelSpanContext = {
    traceId: traceId as string,
    spanId: spanId as string,
    traceFlags: Number.parseInt(flags as string, 16),
    isRemote: true,
  };
  if (tracestate && api.createTraceState) spanContext.traceState = api.createTraceState(tracestate);
  return spanContext;
}

export function isValidSpanContext(spanContext: OtelSpanContext): boolean {
  return (
    /^[0-9a-f]{32}$/.test(spanContext.traceId) &&
    spanContext.traceId !== INVALID_TRACE_ID &&
    /^[0-9a-f]{16}$/.test(spanContext.spanId) &&
    spanContext.spanId !== INVALID_SPAN_ID
  );
}

export function formatTraceparent(spanContext: OtelSpanContext): string {
  const flags = (spanContext.traceFlags & 0xff).toString(16).padStart(2, '0');
  // join, not a template: it makes one flat string, and a cons string in the envelope sends its
  // JSON.stringify off V8's fast path (see event-id.ts).
  return ['00', spanContext.traceId, spanContext.spanId, flags].join('-');
}
