import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEventBus, defineEvent, MemoryTransport } from '../src/index.js';
import { buildEventGraph } from '../src/graph/build.js';
import { describeApp, registryFromModule } from '../src/graph/describe-app.js';
import { declarePublisher, publishersOf } from '../src/graph/publisher.js';
import { defineRegistry } from '../src/graph/registry.js';
import { generateDocs } from '../src/docs/generate.js';
import { chainRegistry, OrderPlaced, PaymentCaptured, PaymentFailed } from './docs-fixture-registry.js';

const Pinged = defineEvent({ type: 'graph.pinged', description: 'Ping.', schema: z.object({ n: z.number() }) });

describe('the event graph', () => {
  it('links producers → events → handlers (by group) → emitted events', () => {
    const graph = buildEventGraph(chainRegistry);
    const placed = graph.events.find((e) => e.type === 'order.placed');
    expect(placed).toMatchObject({
      publishers: ['POST /orders'],
      emittedBy: [],
      consumers: ['capture-payment'],
      leadsTo: ['payment.captured', 'payment.failed'],
      causedBy: [],
    });
    const captured = graph.events.find((e) => e.type === 'payment.captured');
    expect(captured).toMatchObject({ emittedBy: ['capture-payment', 'retry-payment'], consumers: ['ship'], causedBy: ['order.placed', 'payment.retry.requested'] });
    expect(graph.handlers.map((h) => `${h.group}/${h.name}`)).toEqual([
      'inventory/audit',
      'payments/capture-payment',
      'payments/retry-payment',
      'payments/schedule-retry',
      'shipping/ship',
    ]);
    expect(graph.events.map((e) => e.type)).toEqual([
      'inventory.audited',
      'invoice.created',
      'order.placed',
      'payment.captured',
      'payment.failed',
      'payment.retry.requested',
      'shipment.dispatched',
    ]);
  });

  it('reports every kind of finding: no contract, unhandled, unproduced, cycle', () => {
    const findings = buildEventGraph(chainRegistry).findings.map((f) => `${f.severity} ${f.code} ${f.subject}`);
    expect(findings).toEqual([
      'error emit-without-contract invoice.created',
      'warning cycle payment.failed',
      'warning unhandled-event invoice.created',
      'warning unhandled-event shipment.dispatched',
      'warning unproduced-event inventory.audited',
    ]);
    const cycle = buildEventGraph(chainRegistry).findings.find((f) => f.code === 'cycle');
    expect(cycle?.path).toEqual(['payment.failed', 'payment.retry.requested', 'payment.failed']);
  });

  it('finds a self-loop and a handler on a type without a contract', () => {
    const graph = buildEventGraph(
      defineRegistry({
        title: 'loops',
        publishers: [{ name: 'cron', publishes: [Pinged] }],
        handlers: [
          { name: 'again', group: 'g', on: Pinged, emits: [Pinged] },
          { name: 'legacy', group: 'g', on: 'legacy.thing', emits: [] },
        ],
      }),
    );
    expect(graph.findings.map((f) => `${f.code} ${f.subject}`)).toEqual([
      'missing-contract legacy.thing',
      'cycle graph.pinged',
      'unproduced-event legacy.thing',
    ]);
  });

  it('is the same graph and the same docs whatever order things were declared in', () => {
    const reversed = defineRegistry({
      ...chainRegistry,
      contracts: [...chainRegistry.contracts].reverse(),
      handlers: [...chainRegistry.handlers].reverse(),
      publishers: [...chainRegistry.publishers].reverse(),
    });
    expect(buildEventGraph(reversed)).toEqual(buildEventGraph(chainRegistry));
    expect([...generateDocs(reversed).files]).toEqual([...generateDocs(chainRegistry).files]);
  });
});

describe('describeApp', () => {
  it('reads handlers, emits and declared entry points from a bus that never starts', async () => {
    const bus = createEventBus({ transport: new MemoryTransport({ broker: `graph-${Date.now()}` }), source: '/svc/shop' });
    declarePublisher(bus, { name: 'POST /orders', publishes: [OrderPlaced] });
    bus.handle(OrderPlaced, { group: 'payments', name: 'capture', emits: [PaymentCaptured, PaymentFailed] }, () => {});
    bus.handle(PaymentCaptured, { group: 'shipping' }, () => {});
    const registry = describeApp(bus, { title: 'Shop' });
    expect(registry.title).toBe('Shop');
    expect(registry.contracts.map((c) => c.type).sort()).toEqual(['order.placed', 'payment.captured', 'payment.failed']);
    expect(registry.publishers).toEqual(publishersOf(bus));
    const graph = buildEventGraph(registry);
    expect(graph.handlers.map((h) => `${h.name} ${h.on} → ${h.emits.join(',')}`)).toEqual([
      'capture order.placed → payment.captured,payment.failed',
      'shipping:payment.captured payment.captured → ',
    ]);
    expect(graph.findings.map((f) => `${f.code} ${f.subject}`)).toEqual(['unhandled-event payment.failed']);
    expect(bus.transport.name).toBe('memory');
    // The CLI's loader takes the same bus from a module's exports.
    expect(await registryFromModule({ bus }, { title: 'Shop' })).toEqual(registry);
  });

  it('rejects what is neither a bus nor a registry, and a registry without a title', () => {
    expect(() => describeApp({} as never)).toThrow(/event bus .* or a registry/);
    expect(() => defineRegistry({ title: '' })).toThrow(/title/);
    expect(() =>
      defineRegistry({ title: 't', contracts: [Pinged, defineEvent({ type: 'graph.pinged', version: 2, description: 'x', schema: z.object({}) })] }),
    ).toThrow(/two different contracts/);
  });
});
