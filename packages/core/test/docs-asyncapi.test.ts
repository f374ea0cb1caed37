import { Parser } from '@asyncapi/parser';
import { describe, expect, it } from 'vitest';
import { generateDocs } from '../src/docs/generate.js';
import { chainRegistry } from './docs-fixture-registry.js';

const ERROR = 0; // DiagnosticSeverity.Error

describe('the generated AsyncAPI 3.0 document', () => {
  it('passes @asyncapi/parser with no errors and describes every contract, channel and operation', async () => {
    const text = generateDocs(chainRegistry).files.get('asyncapi.json') as string;
    const { document, diagnostics } = await new Parser().parse(text);
    const errors = diagnostics.filter((d) => d.severity === ERROR);
    expect(errors.map((d) => `${d.path.join('.')}: ${d.message}`)).toEqual([]);
    expect(document).toBeDefined();
    if (!document) return;
    expect(document.version()).toBe('3.0.0');
    expect(document.info().title()).toBe('Shop <chain> & "docs"');
    expect(document.info().version()).toBe('2.1.0');
    const channelAddresses = document.channels().all().map((c) => c.address()).sort();
    expect(channelAddresses).toEqual([
      'inventory.audited',
      'order.placed',
      'payment.captured',
      'payment.failed',
      'payment.retry.requested',
      'shipment.dispatched',
    ]);
    const messageNames = document.components().messages().all().map((m) => m.name()).sort();
    expect(messageNames).toEqual(channelAddresses);
    const receives = document.operations().filterByReceive().map((o) => o.id()).sort();
    expect(receives).toEqual([
      'receive.inventory.audit',
      'receive.payments.capture-payment',
      'receive.payments.retry-payment',
      'receive.payments.schedule-retry',
      'receive.shipping.ship',
    ]);
    // inventory.audited has no producer: no send operation for it.
    expect(document.operations().filterBySend().map((o) => o.id()).sort()).toEqual([
      'send.order.placed',
      'send.payment.captured',
      'send.payment.failed',
      'send.payment.retry.requested',
      'send.shipment.dispatched',
    ]);
    const placed = document.components().messages().all().find((m) => m.name() === 'order.placed');
    const payload = placed?.payload();
    expect(payload?.type()).toBe('object');
    expect(Object.keys(payload?.properties() ?? {}).sort()).toEqual(['coupon', 'lines', 'orderId', 'total']);
    expect(payload?.required()).toEqual(['orderId', 'lines', 'total']);
    expect(placed?.correlationId()?.location()).toBe('$message.header#/correlationid');
    // A recursive schema and a shared definition: their references resolve inside the document.
    const audited = document.components().messages().all().find((m) => m.name() === 'inventory.audited')?.payload();
    const tree = audited?.properties()?.tree;
    expect(Object.keys(tree?.properties() ?? {}).sort()).toEqual(['children', 'name']);
    expect(tree?.properties()?.children?.items()).toBeDefined();
    expect(audited?.properties()?.from?.properties()?.street?.type()).toBe('string');
  }, 60_000);
});
