// A registry for the docs tests: a chain with every kind of finding, built without a transport.
import { z } from 'zod';
import { defineEvent } from '../src/contract.js';
import { defineRegistry } from '../src/graph/registry.js';

export const OrderPlaced = defineEvent({
  type: 'order.placed',
  description: 'A customer placed an order.',
  schema: z.object({
    orderId: z.uuid().describe('The order.'),
    lines: z.array(z.object({ sku: z.string().min(3), quantity: z.number().int().positive() })).min(1),
    total: z.number().positive(),
    coupon: z.string().optional(),
  }),
});
export const PaymentCaptured = defineEvent({
  type: 'payment.captured',
  description: 'The card was charged.',
  schema: z.object({ orderId: z.uuid(), amount: z.number(), capturedAt: z.iso.datetime() }),
});
export const PaymentFailed = defineEvent({
  type: 'payment.failed',
  description: 'The card was declined; the order waits for a retry.',
  schema: z.object({ orderId: z.uuid(), reason: z.enum(['declined', 'expired']) }),
});
export const PaymentRetryRequested = defineEvent({
  type: 'payment.retry.requested',
  description: 'Try the card again later (a deliberate cycle with payment.failed).',
  schema: z.object({ orderId: z.uuid(), attempt: z.number().int().min(1) }),
});
export const ShipmentDispatched = defineEvent({
  type: 'shipment.dispatched',
  description: 'Nobody listens to this yet.',
  schema: z.object({ orderId: z.uuid(), carrier: z.string() }),
});
const Category = z.object({
  name: z.string(),
  get children() {
    return z.array(Category);
  },
});
const Address = z.object({ street: z.string() }).meta({ id: 'Address' });
export const InventoryAudited = defineEvent({
  type: 'inventory.audited',
  description: 'Handled, but nobody declared a producer. Its schema is recursive and reuses a definition.',
  schema: z.object({ at: z.iso.datetime(), tree: Category, from: Address, to: Address }),
});

export const chainRegistry = defineRegistry({
  title: 'Shop <chain> & "docs"',
  description: 'Orders, payments and shipping.',
  version: '2.1.0',
  publishers: [{ name: 'POST /orders', publishes: [OrderPlaced], description: 'The checkout API.' }],
  handlers: [
    { name: 'capture-payment', group: 'payments', on: OrderPlaced, emits: [PaymentCaptured, PaymentFailed] },
    { name: 'schedule-retry', group: 'payments', on: PaymentFailed, emits: [PaymentRetryRequested] },
    { name: 'retry-payment', group: 'payments', on: PaymentRetryRequested, emits: [PaymentCaptured, PaymentFailed] },
    { name: 'ship', group: 'shipping', on: PaymentCaptured, emits: [ShipmentDispatched, 'invoice.created'] },
    { name: 'audit', group: 'inventory', on: InventoryAudited, emits: [] },
  ],
});
