import * as api from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineEvent } from '../contract.js';
import { createEnvelope } from '../envelope.js';
import { silentLogger } from '../logger.js';
import { formatTraceparent, parseTraceparent } from './trace-context.js';
import { PROCESS_SPAN, tracingMiddleware } from './process.js';
import type { MessageContext } from '../context.js';

const Thing = defineEvent({ type: 'mw.thing', description: 'A thing.', schema: z.object({}) });

function contextFor(traceparent?: string): MessageContext {
  const event = createEnvelope(Thing.type, 1, '/test', {}, traceparent ? { traceparent } : {});
  return {
    event,
    contract: Thing,
    group: 'g1',
    channel: Thing.channel,
    attempt: 3,
    maxAttempts: 5,
    signal: new AbortController().signal,
    logger: silentLogger,
    state: new Map(),
    emits: { take: () => [], flush: async () => {}, size: 0 },
    settled: false,
    abort: () => {},
    ack: async () => {},
    nack: async () => {},
    deadLetter: async () => {},
    retryAfter: async () => {},
  };
}

describe('tracingMiddleware', () => {
  const exporter = new InMemorySpanExporter();
  const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).getTracer('mw');

  it('opens a CONSUMER "process <channel>" span, a child of the envelope’s traceparent, with the semantic-convention attributes', async () => {
    const parent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const ctx = contextFor(parent);
    let seenInside: unknown;
    await tracingMiddleware({ api, tracer, transport: 'sqs' })(async (inner) => {
      seenInside = inner.state.get(PROCESS_SPAN);
    })(ctx);
    const [span] = exporter.getFinishedSpans();
    expect(span?.name).toBe('process mw.thing');
    expect(span?.kind).toBe(api.SpanKind.CONSUMER);
    expect(span?.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(span?.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
    expect(span?.attributes).toMatchObject({
      'messaging.system': 'aws_sqs',
      'messaging.destination.name': 'mw.thing',
      'messaging.operation.type': 'process',
      'messaging.message.id': ctx.event.id,
      'messaging.message.conversation_id': ctx.event.id,
      'messaging.consumer.group.name': 'g1',
      'messaging.message.delivery_count': 3,
    });
    expect(seenInside).toBeDefined();
  });

  it('records an escaping error and rethrows it', async () => {
    exporter.reset();
    const failing = tracingMiddleware({ api, tracer, transport: 'memory' })(async () => {
      throw new Error('nope');
    });
    await expect(failing(contextFor())).rejects.toThrow('nope');
    const [span] = exporter.getFinishedSpans();
    expect(span?.status).toMatchObject({ code: api.SpanStatusCode.ERROR, message: 'nope' });
    expect(span?.parentSpanContext).toBeUndefined();
  });
});

describe('W3C traceparent', () => {
  it('round-trips and rejects malformed or all-zero ids', () => {
    const text = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const parsed = parseTraceparent(api, text, 'a=1');
    expect(parsed).toMatchObject({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1, isRemote: true });
    expect(parsed?.traceState?.serialize()).toBe('a=1');
    expect(formatTraceparent(parsed as NonNullable<typeof parsed>)).toBe(text);
    for (const bad of ['', 'junk', `00-${'0'.repeat(32)}-b7ad6b7169203331-01`, `00-0af7651916cd43dd8448eb211c80319c-${'0'.repeat(16)}-01`, `ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01`, `${text}-extra`]) {
      expect(parseTraceparent(api, bad), bad).toBeUndefined();
    }
  });
});
