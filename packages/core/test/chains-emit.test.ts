import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type CloudEvent, ConfigError, createEventBus, defineEvent, type EventBus, MemoryTransport } from '../src/index.js';
import { declarePublisher } from '../src/graph/publisher.js';
import { createSpy } from '../src/testing/index.js';

const Requested = defineEvent({ type: 'emit.requested', description: 'Start.', schema: z.object({ id: z.string() }) });
const Done = defineEvent({ type: 'emit.done', description: 'Finished.', schema: z.object({ id: z.string() }) });
const Other = defineEvent({ type: 'emit.other', description: 'Not declared by the handler.', schema: z.object({ id: z.string() }) });

const buses: EventBus[] = [];
afterEach(async () => {
  await Promise.all(buses.splice(0).map((b) => b.stop()));
});
const newBus = () => {
  const bus = createEventBus({ transport: new MemoryTransport({ broker: randomUUID() }), source: '/test/emit', contracts: [Other] });
  buses.push(bus);
  return bus;
};

describe('ctx.emit', () => {
  it('fails at run time, with the declared list in the message, for an event the handler did not declare', async () => {
    const bus = newBus();
    const errors = createSpy<unknown>();
    const others = createSpy<CloudEvent>();
    bus.handle(Requested, { group: 'worker', emits: [Done] }, async (_event, ctx) => {
      try {
        // Cast past the compile-time check to prove the run-time one.
        await ctx.emit(Other as unknown as typeof Done, { id: 'x' });
      } catch (error) {
        errors.fn(error);
      }
    });
    bus.handle(Other, { group: 'watcher' }, (event) => others.fn(event));
    await bus.start();
    await bus.publish(Requested, { id: '1' });
    const [error] = await errors.waitForCount(1);
    expect(error).toBeInstanceOf(ConfigError);
    expect(String((error as Error).message)).toContain('handler "worker:emit.requested" emitted "emit.other" but declares only [emit.done]');
    await others.expectNone(() => true, 200);
  });

  it('compiles only for declared events', () => {
    const bus = newBus();
    bus.handle(Requested, { group: 'typed', emits: [Done] }, async (event, ctx) => {
      await ctx.emit(Done, { id: event.data.id });
      // @ts-expect-error emit.other is not in this handler's `emits`
      await ctx.emit(Other, { id: event.data.id });
      // @ts-expect-error the data must match the contract
      await ctx.emit(Done, { id: 42 });
    });
    expect(bus.registrations[0]?.emits).toEqual([Done]);
  });

  it('keeps the correlation id, sets causation, and carries an incoming traceparent without a tracer', async () => {
    const bus = newBus();
    const done = createSpy<CloudEvent>();
    bus.handle(Requested, { group: 'worker', emits: [Done] }, async (event, ctx) => {
      await ctx.emit(Done, { id: event.data.id }, { subject: 'carried' });
    });
    bus.handle(Done, { group: 'sink' }, (event) => done.fn(event));
    await bus.start();
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const first = await bus.publish(Requested, { id: '1' }, { correlationId: 'corr-1', traceparent, tracestate: 'vendor=x' });
    const [next] = (await done.waitForCount(1)) as [CloudEvent];
    expect(next).toMatchObject({ correlationid: 'corr-1', causationid: first.id, traceparent, tracestate: 'vendor=x', subject: 'carried' });
  });
});

describe('declarePublisher', () => {
  it('lets an entry point publish what it declared, and nothing else', async () => {
    const bus = newBus();
    const api = declarePublisher(bus, { name: 'POST /things', publishes: [Requested] });
    const seen = createSpy<CloudEvent>();
    bus.handle(Requested, { group: 'worker' }, (event) => seen.fn(event));
    await bus.start();
    await api.publish(Requested, { id: 'p-1' });
    await seen.waitForCount(1);
    // @ts-expect-error not declared by this publisher
    await expect(api.publish(Done, { id: 'p-2' })).rejects.toThrow('publisher "POST /things" published "emit.done" but declares only [emit.requested]');
    expect(() => declarePublisher(bus, { name: 'POST /things', publishes: [Done] })).toThrow(/declared twice/);
    expect(() => declarePublisher(bus, { name: 'empty', publishes: [] })).toThrow(/at least one event/);
  });
});
