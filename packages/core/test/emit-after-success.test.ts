import { randomUUID } from 'node:crypto';
import * as api from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  type CloudEvent,
  createEventBus,
  decodeEvent,
  defineEvent,
  type EventBus,
  type EventBusOptions,
  EventBusError,
  type HeldEmit,
  MemoryTransport,
  MessageTooLargeError,
  type Middleware,
  type OutgoingMessage,
  type PublishOptions,
  TransportError,
  ValidationError,
} from '../src/index.js';
import { createSpy, eventually } from '../src/testing/index.js';
import { tracing } from '../src/tracing/tracing.js';

const Order = defineEvent({ type: 'held.order', description: 'An order.', schema: z.object({ id: z.string() }) });
const Shipped = defineEvent({ type: 'held.shipped', description: 'Shipped.', schema: z.object({ id: z.string(), note: z.string().optional() }) });

/** A memory transport whose broker refuses the next `refusals` publishes to one channel, as a broker can. */
class RefusingTransport extends MemoryTransport {
  refusals = 0;
  constructor(private readonly refusedChannel: string) {
    super({ broker: randomUUID() });
  }
  override async publish(messages: readonly OutgoingMessage[], options?: PublishOptions): Promise<void> {
    if (this.refusals > 0 && messages.some((m) => m.channel === this.refusedChannel)) {
      this.refusals--;
      throw new TransportError('the broker refused the publish');
    }
    return super.publish(messages, options);
  }
}

const buses: EventBus[] = [];
afterEach(async () => {
  await Promise.all(buses.splice(0).map((b) => b.stop()));
});
function newBus(options: Partial<EventBusOptions> = {}): EventBus {
  const bus = createEventBus({
    transport: new MemoryTransport({ broker: randomUUID() }),
    source: '/test/held',
    defaults: { backoff: { initialMs: 1, maxMs: 5 } },
    ...options,
  });
  buses.push(bus);
  return bus;
}
function watchShipped(bus: EventBus) {
  const shipped = createSpy<CloudEvent>();
  bus.handle(Shipped, { group: 'watcher' }, (event) => shipped.fn(event));
  return shipped;
}

describe('ctx.emit after success', () => {
  it('publishes nothing from a failed attempt and the retry’s emits once, after the handler resolved', async () => {
    const bus = newBus();
    const shipped = watchShipped(bus);
    const order: string[] = [];
    bus.handle(Order, { group: 'shipping', emits: [Shipped] }, async (event, ctx) => {
      const sent = await ctx.emit(Shipped, { id: event.data.id, note: `attempt ${ctx.attempt}` });
      expect(sent.type).toBe(Shipped.type); // resolves with the built event at once
      expect(ctx.emits.size).toBe(1);
      order.push(`handler ${ctx.attempt} ends`);
      if (ctx.attempt === 1) throw new Error('fails after emitting');
    });
    await bus.start();
    await bus.publish(Order, { id: 'o-1' });
    const [event] = await shipped.waitForCount(1);
    expect(event?.data).toEqual({ id: 'o-1', note: 'attempt 2' });
    await shipped.expectNone(() => true, 200);
    expect(order).toEqual(['handler 1 ends', 'handler 2 ends']);
  });

  it('drops what a handler emitted when it hands its delivery back itself (nack or dead-letter)', async () => {
    const bus = newBus();
    const shipped = watchShipped(bus);
    const attempts = createSpy<number>();
    bus.handle(Order, { group: 'shipping', emits: [Shipped] }, async (event, ctx) => {
      attempts.fn(ctx.attempt);
      await ctx.emit(Shipped, { id: event.data.id, note: `attempt ${ctx.attempt}` });
      if (ctx.attempt === 1) await ctx.nack({ delayMs: 1 });
      else if (ctx.attempt === 2) await ctx.deadLetter('given up by the handler');
    });
    await bus.start();
    await bus.publish(Order, { id: 'o-back' });
    await attempts.waitForCount(2);
    await shipped.expectNone(() => true, 300);
  });

  it('rejects a bad emit at the call, held or not', async () => {
    const bus = newBus();
    const errors = createSpy<unknown>();
    bus.handle(Order, { group: 'shipping', emits: [Shipped] }, async (_event, ctx) => {
      await ctx.emit(Shipped, { id: 42 } as never).catch(errors.fn);
    });
    await bus.start();
    await bus.publish(Order, { id: 'o-2' });
    const [error] = await errors.waitForCount(1);
    expect(error).toBeInstanceOf(ValidationError);
  });

  it('retries a failed flush like a failed handler: the retry emits afresh, once', async () => {
    const transport = new RefusingTransport(Shipped.channel);
    const bus = newBus({ transport });
    const shipped = watchShipped(bus);
    const attempts = createSpy<number>();
    bus.handle(Order, { group: 'shipping', emits: [Shipped] }, async (event, ctx) => {
      attempts.fn(ctx.attempt);
      await ctx.emit(Shipped, { id: event.data.id });
    });
    await bus.start();
    transport.refusals = 1;
    await bus.publish(Order, { id: 'o-3' });
    await shipped.waitForCount(1);
    expect(attempts.calls).toEqual([1, 2]);
    await shipped.expectNone(() => true, 200);
  });

  it('lets middleware take what is held (an outbox writes it), and then nothing is published', async () => {
    const bus = newBus();
    const shipped = watchShipped(bus);
    const taken = createSpy<HeldEmit[]>();
    const outbox = (): Middleware => (next) => async (ctx) => {
      await next(ctx);
      taken.fn(ctx.emits.take());
      expect(ctx.emits.size).toBe(0);
    };
    bus.handle(Order, { group: 'shipping', emits: [Shipped], middleware: [outbox()] }, async (event, ctx) => {
      await ctx.emit(Shipped, { id: event.data.id });
    });
    await bus.start();
    await bus.publish(Order, { id: 'o-4' });
    const [[held] = []] = await taken.waitForCount(1);
    expect(held?.event).toMatchObject({ type: Shipped.type, data: { id: 'o-4' } });
    expect(decodeEvent(held!.message, bus.transport.capabilities.encoding)).toMatchObject({ id: held?.event.id });
    await shipped.expectNone(() => true, 200);
  });

  it("with emit: 'immediate' publishes at the call, even from an attempt that then fails", async () => {
    const bus = newBus();
    const shipped = watchShipped(bus);
    bus.handle(Order, { group: 'shipping', emits: [Shipped], emit: 'immediate', maxAttempts: 2 }, async (event, ctx) => {
      await ctx.emit(Shipped, { id: event.data.id, note: `attempt ${ctx.attempt}` });
      expect(ctx.emits.size).toBe(0);
      if (ctx.attempt === 1) throw new Error('fails after emitting');
    });
    await bus.start();
    await bus.publish(Order, { id: 'o-5' });
    const events = await shipped.waitForCount(2);
    expect(events.map((e) => (e.data as { note: string }).note).sort()).toEqual(['attempt 1', 'attempt 2']);
  });

  it('rejects an emit made after the attempt ended (not awaited inside the handler)', async () => {
    const bus = newBus();
    const late = createSpy<unknown>();
    bus.handle(Order, { group: 'shipping', emits: [Shipped] }, (event, ctx) => {
      setTimeout(() => ctx.emit(Shipped, { id: event.data.id }).catch(late.fn), 10);
    });
    await bus.start();
    await bus.publish(Order, { id: 'o-6' });
    const [error] = await late.waitForCount(1);
    expect(error).toBeInstanceOf(EventBusError);
    expect(String((error as Error).message)).toContain('emitted after the handler');
  });

  it('checks the emit option at handle()', () => {
    const bus = newBus();
    expect(() => bus.handle(Order, { emit: 'later' as never }, () => {})).toThrow(/emit.*"after-success" or "immediate"/);
  });

  it('ends the send span of a dropped emit with the reason', async () => {
    const exporter = new InMemorySpanExporter();
    const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).getTracer('held');
    const bus = newBus({ instrumentation: tracing({ api, tracer }) });
    bus.handle(Order, { group: 'shipping', emits: [Shipped], maxAttempts: 1 }, async (event, ctx) => {
      await ctx.emit(Shipped, { id: event.data.id });
      throw new Error('no stock');
    });
    await bus.start();
    await bus.publish(Order, { id: 'o-7' });
    const [send] = await eventually(
      () => exporter.getFinishedSpans().filter((s) => s.name === `send ${Shipped.channel}`),
      (spans) => spans.length === 1,
      { description: 'the dropped emit’s send span' },
    );
    expect(send?.status.code).toBe(api.SpanStatusCode.ERROR);
    expect(send?.status.message).toMatch(/emit dropped: the handler failed \(no stock\)/);
  });
});

describe('bus.encode', () => {
  it('builds and encodes as publish does, without sending', async () => {
    const bus = newBus();
    const shipped = watchShipped(bus);
    await bus.start();
    const { event, message } = bus.encode(Shipped, { id: 's-1' }, { key: 'k-1', correlationId: 'c-1' });
    expect(event).toMatchObject({ type: Shipped.type, source: '/test/held', data: { id: 's-1' }, correlationid: 'c-1' });
    expect(message).toMatchObject({ channel: Shipped.channel, id: event.id, key: 'k-1' });
    expect(decodeEvent(message, bus.transport.capabilities.encoding)).toEqual(event);
    await shipped.expectNone(() => true, 100);
    await bus.transport.publish([message]); // what an outbox relay does later
    const [received] = await shipped.waitForCount(1);
    expect(received?.id).toBe(event.id);
  });

  it('validates and enforces the size limit like publish', () => {
    const bus = newBus({ maxMessageBytes: 600 });
    expect(() => bus.encode(Shipped, { id: 7 } as never)).toThrow(ValidationError);
    expect(() => bus.encode(Shipped, { id: 'x', note: 'y'.repeat(2_000) })).toThrow(MessageTooLargeError);
  });
});
