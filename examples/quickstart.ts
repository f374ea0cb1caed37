// The README's quick start, end to end on the memory transport.
import { createEventBus, createTransport, defineEvent } from '@org/eventbus';
import { z } from 'zod';

const OrderPlaced = defineEvent({
  type: 'order.placed',
  version: 1,
  description: 'A customer placed an order.',
  schema: z.object({ orderId: z.string(), total: z.number().positive() }),
});

const bus = createEventBus({
  transport: await createTransport(process.env.EVENTBUS_URL ?? 'memory://'),
  source: '/examples/quickstart',
});

let markHandled: () => void = () => {};
const handled = new Promise<void>((resolve) => {
  markHandled = resolve;
});
bus.handle(OrderPlaced, { group: 'billing', maxAttempts: 3 }, async (event, ctx) => {
  console.log(`billing: order ${event.data.orderId} for ${event.data.total} (attempt ${ctx.attempt})`);
  markHandled();
});

await bus.start();
const sent = await bus.publish(OrderPlaced, { orderId: 'o-1', total: 42 });
console.log(`published ${sent.type} ${sent.id}`);
await handled;
await bus.stop();
console.log('done: published, handled, acked, stopped');
