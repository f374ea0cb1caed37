import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as api from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEc2ChainApp } from '../../../examples/ec2-chain/app.js';
import { Ec2LaunchRequested } from '../../../examples/ec2-chain/contracts.js';
import { MemoryTransport } from '../src/index.js';
import { createSpy, eventually } from '../src/testing/index.js';
import { tracing } from '../src/tracing/tracing.js';

const exporter = new InMemorySpanExporter();
const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).getTracer('http');
const contextManager = new AsyncLocalStorageContextManager();
const notifications = createSpy<string>();
const app = createEc2ChainApp({
  transport: new MemoryTransport({ broker: randomUUID() }),
  instrumentation: tracing({ api, tracer }),
  onNotification: notifications.fn,
});

// A plain node:http route, instrumented the way an HTTP instrumentation would: a SERVER span, active while it runs.
const server: Server = createServer((req, res) => {
  tracer.startActiveSpan('POST /launches', { kind: api.SpanKind.SERVER }, async (span) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    const event = await app.api.publish(Ec2LaunchRequested, JSON.parse(body));
    res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ requestId: event.data.requestId }));
    span.end();
  });
});

beforeAll(async () => {
  api.context.setGlobalContextManager(contextManager.enable());
  await app.bus.start();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await app.bus.stop();
  api.context.disable();
});

describe('HTTP request → launch → notification', () => {
  it('is one trace, rooted at the HTTP server span', async () => {
    const { port } = server.address() as AddressInfo;
    const response = await fetch(`http://127.0.0.1:${port}/launches`, {
      method: 'POST',
      body: JSON.stringify({ requestId: randomUUID(), userId: 'u-1', instanceType: 't3.micro', imageId: 'ami-0123456789abcdef0' }),
    });
    expect(response.status).toBe(202);
    await notifications.waitForCount(1);
    const spans = await eventually(() => exporter.getFinishedSpans(), (s) => s.length >= 7, { description: '7 spans' });
    const root = spans.find((s) => s.name === 'POST /launches');
    expect(root).toBeDefined();
    expect(new Set(spans.map((s) => s.spanContext().traceId))).toEqual(new Set([root?.spanContext().traceId]));
    const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
    const ancestry = (name: string) => {
      const names: string[] = [];
      for (let s = spans.find((x) => x.name === name); s; s = byId.get(s.parentSpanContext?.spanId ?? '')) names.push(s.name);
      return names.reverse();
    };
    expect(ancestry('process notification.created')).toEqual([
      'POST /launches',
      'send ec2.launch.requested',
      'process ec2.launch.requested',
      'send ec2.instance.launched',
      'process ec2.instance.launched',
      'send notification.created',
      'process notification.created',
    ]);
  });
});
