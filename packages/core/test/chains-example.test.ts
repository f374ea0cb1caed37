import { randomUUID } from 'node:crypto';
import * as api from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { createEc2ChainApp } from '../../../examples/ec2-chain/app.js';
import { Ec2LaunchRequested as Ec2Request } from '../../../examples/ec2-chain/contracts.js';
import { type EventBus, MemoryTransport } from '../src/index.js';
import { createSpy, eventually } from '../src/testing/index.js';
import { tracing } from '../src/tracing/tracing.js';

const exporter = new InMemorySpanExporter();
const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).getTracer('example');
const buses: EventBus[] = [];
afterEach(async () => {
  await Promise.all(buses.splice(0).map((b) => b.stop()));
  exporter.reset();
});

function startApp() {
  const notifications = createSpy<string>();
  const app = createEc2ChainApp({
    transport: new MemoryTransport({ broker: randomUUID() }),
    instrumentation: tracing({ api, tracer }),
    onNotification: notifications.fn,
  });
  buses.push(app.bus);
  return { ...app, notifications };
}

const request = (imageId: string) => ({ requestId: randomUUID(), userId: 'user-1', instanceType: 't3.micro' as const, imageId });

describe('the examples/ec2-chain app (the chain docs/events documents)', () => {
  it('turns a request into a success notification, all in one trace', async () => {
    const { bus, api: http, notifications } = startApp();
    await bus.start();
    const sent = await http.publish(Ec2Request, request('ami-0123456789abcdef0'));
    const [text] = await notifications.waitForCount(1);
    expect(text).toMatch(/^success: Instance i-[0-9a-f]+ is running\.$/);
    const spans = await eventually(() => exporter.getFinishedSpans(), (s) => s.length >= 6, { description: '6 spans' });
    expect(spans.map((s) => s.name).sort()).toEqual([
      'process ec2.instance.launched',
      'process ec2.launch.requested',
      'process notification.created',
      'send ec2.instance.launched',
      'send ec2.launch.requested',
      'send notification.created',
    ]);
    expect(new Set(spans.map((s) => s.spanContext().traceId))).toEqual(new Set([sent.traceparent?.split('-')[1]]));
  });

  it('turns a launch EC2 refuses for good into an error notification', async () => {
    const { bus, api: http, notifications } = startApp();
    await bus.start();
    await http.publish(Ec2Request, request('ami-00000000000dead'));
    const [text] = await notifications.waitForCount(1);
    expect(text).toMatch(/^error: Launch failed: .*does not exist/);
  });
});
