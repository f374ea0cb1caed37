import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEventBus, type EventBus } from './bus.js';
import { defineEvent } from './contract.js';
import { ConfigError, NonRetryableError, UnroutableError, ValidationError } from './errors.js';
import { EventbusHeaders } from './headers.js';
import { MemoryTransport } from './memory/transport.js';
import { createSpy } from './testing/spy.js';
import type { ReceivedMessage, Transport } from './transport.js';

const Placed = defineEvent({
  type: 'order.placed',
  description: 'An order was placed.',
  channel: 'orders',
  schema: z.object({ orderId: z.string(), total: z.number().positive() }),
});
const Cancelled = defineEvent({
  type: 'order.cancelled',
  description: 'An order was cancelled.',
  channel: 'orders',
  schema: z.object({ orderId: z.string() }),
});
const Refunded = defineEvent({
  type: 'order.refunded',
  description: 'Money went back.',
  channel: 'orders',
  schema: z.object({ orderId: z.string() }),
});
const Shipped = defineEvent({ type: 'order.shipped', description: 'Shipped.', schema: z.object({ orderId: z.string() }) });

let n = 0;
const buses: EventBus[] = [];
function setup(options: Partial<Parameters<typeof createEventBus>[0]> = {}, drainTimeoutMs?: number) {
  const transport = new MemoryTransport({ broker: `bus-test-${process.pid}-${++n}`, ...(drainTimeoutMs ? { drainTimeoutMs } : {}) });
  const bus = createEventBus({ transport, source: '/test', defaults: { backoff: { initialMs: 5, maxMs: 20 } }, ...options });
  buses.push(bus);
  return { transport, bus };
}

async function deadLetters(transport: Transport, group: string) {
  const spy = createSpy<ReceivedMessage>();
  await transport.subscribe({ group, channels: [], prefetch: 10, deadLetters: true }, async (d) => {
    spy.fn(d.message);
    await d.ack();
  });
  return spy;
}

afterEach(async () => {
  await Promise.all(buses.splice(0).map((b) => b.stop()));
});

describe('publish', () => {
  it('validates before anything is sent', async () => {
    const { bus, transport } = setup();
    let sent = 0;
    const publish = transport.publish.bind(transport);
    transport.publish = (m, o) => {
      sent += m.length;
      return publish(m, o);
    };
    const error = await bus.publish(Placed, { orderId: 'o1', total: -5 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues).toEqual([{ path: 'total', message: expect.any(String) }]);
    expect((error as Error).message).toMatch(/order\.placed.*total/);
    await expect(bus.publishBatch([{ contract: Placed, data: { orderId: 'ok', total: 1 } }, { contract: Placed, data: {} as never }])).rejects.toThrow(
      ValidationError,
    );
    expect(sent).toBe(0);
  });

  it('returns the envelope it sent, starting a chain when none is given', async () => {
    const { bus, transport } = setup();
    await transport.provision([{ group: 'orders-audit', channels: [Placed.channel] }]);
    const event = await bus.publish(Placed, { orderId: 'o1', total: 3 }, { subject: 'o1' });
    expect(event).toMatchObject({ specversion: '1.0', type: 'order.placed', source: '/test', subject: 'o1', correlationid: event.id });
  });
});

describe('provision', () => {
  it('a publish nobody receives rejects naming the channel; after provision() it is kept until the group starts', async () => {
    const { bus: api } = setup();
    await expect(api.publish(Placed, { orderId: 'o1', total: 3 })).rejects.toThrow(UnroutableError);
    await expect(api.publish(Placed, { orderId: 'o1', total: 3 })).rejects.toThrow(/channel "orders"/);
    // The worker is another service on the same broker (the memory broker is shared by name).
    const worker = createEventBus({ transport: new MemoryTransport({ broker: `bus-test-${process.pid}-${n}` }), source: '/worker' });
    buses.push(worker);
    const got = createSpy<string>();
    worker.handle(Placed, { group: 'billing' }, (e) => got.fn(e.data.orderId));
    await worker.provision();
    await worker.provision();
    await api.publish(Placed, { orderId: 'kept', total: 1 });
    await new Promise((resolve) => setImmediate(resolve));
    expect(got.count, 'provision consumes nothing').toBe(0);
    await worker.start();
    await got.waitFor((ids) => ids.includes('kept'));
  });

  it('declares the same topology start() subscribes with, types only for a shared channel', async () => {
    const { bus, transport } = setup();
    const declared: unknown[] = [];
    const subscribed: unknown[] = [];
    const provision = transport.provision.bind(transport);
    const subscribe = transport.subscribe.bind(transport);
    transport.provision = async (groups) => {
      declared.push(...groups);
      await provision(groups);
    };
    transport.subscribe = async (options, handler) => {
      subscribed.push({ group: options.group, channels: options.channels, ...(options.types ? { types: options.types } : {}) });
      return subscribe(options, handler);
    };
    bus.handle(Placed, { group: 'a' }, () => {});
    bus.handle(Shipped, { group: 'a' }, () => {});
    bus.handle(Shipped, { group: 'b' }, () => {});
    await bus.provision();
    expect(declared).toEqual([
      { group: 'a', channels: ['orders', 'order.shipped'] },
      { group: 'b', channels: ['order.shipped'] },
    ]);
    // Once the bus knows a second contract on "orders", group a names the types it handles.
    const withShared = setup({ contracts: [Cancelled] }).bus;
    withShared.handle(Placed, { group: 'a' }, () => {});
    const shared: unknown[] = [];
    const sharedTransport = withShared.transport;
    const sharedProvision = sharedTransport.provision.bind(sharedTransport);
    sharedTransport.provision = async (groups) => {
      shared.push(...groups);
      await sharedProvision(groups);
    };
    await withShared.provision();
    expect(shared).toEqual([{ group: 'a', channels: ['orders'], types: ['order.placed'] }]);
    await bus.start();
    expect(subscribed).toEqual(declared);
  });

  it('a bus without handlers provisions nothing; a stopped bus refuses', async () => {
    const { bus } = setup();
    await bus.provision();
    await bus.stop();
    await expect(bus.provision()).rejects.toThrow(/stopped/);
  });
});

describe('options', () => {
  it.each([
    [{ maxAttempts: 0 }, /`maxAttempts`/],
    [{ concurrency: 0 }, /`concurrency`/],
    [{ timeout: -1 }, /`timeout`/],
    [{ backoff: { multiplier: 0 } }, /`backoff\.multiplier`/],
  ])('a bad handler option fails at handle() naming it (%#)', (options, message) => {
    const { bus } = setup();
    expect(() => bus.handle(Placed, { group: 'g', ...options }, () => {})).toThrow(ConfigError);
    expect(() => bus.handle(Shipped, { group: 'g', ...options }, () => {})).toThrow(message);
  });

  it('a bus without transport or source fails at construction', () => {
    expect(() => createEventBus({ source: '/x' } as never)).toThrow(/`transport`/);
    expect(() => createEventBus({ transport: new MemoryTransport(), source: '' })).toThrow(/`source`/);
    expect(() => createEventBus({ transport: new MemoryTransport(), source: '/x', defaults: { maxAttempts: 0 } })).toThrow(
      /`defaults\.maxAttempts`/,
    );
  });

  it('one handler per type per group, registered before start', async () => {
    const { bus } = setup();
    bus.handle(Placed, { group: 'g' }, () => {});
    expect(() => bus.handle(Placed, { group: 'g' }, () => {})).toThrow(/already has a handler/);
    await bus.start();
    expect(() => bus.handle(Shipped, { group: 'g' }, () => {})).toThrow(/before start/);
  });
});

describe('routing', () => {
  it('dispatches by type on a shared channel; a known type this group does not handle is acked, not dead-lettered', async () => {
    const { bus, transport } = setup({ contracts: [Refunded] });
    const subscribed = createSpy<readonly string[] | undefined>();
    const subscribe = transport.subscribe.bind(transport);
    transport.subscribe = (o, handler) => {
      subscribed.fn(o.types);
      return subscribe(o, handler);
    };
    const placed = createSpy<string>();
    const cancelled = createSpy<string>();
    bus.handle(Placed, { group: 'billing' }, (e) => placed.fn(e.data.orderId));
    bus.handle(Cancelled, { group: 'billing' }, (e) => cancelled.fn(e.data.orderId));
    await bus.start();
    // The broker may filter a shared channel by the types the group handles (an SNS filter policy).
    expect(subscribed.calls).toEqual([['order.placed', 'order.cancelled']]);
    const dead = await deadLetters(transport, 'billing');
    await bus.publish(Placed, { orderId: 'a', total: 1 });
    await bus.publish(Refunded, { orderId: 'r' });
    await bus.publish(Cancelled, { orderId: 'b' });
    await placed.waitForCount(1);
    await cancelled.waitForCount(1);
    expect(placed.calls).toEqual(['a']);
    expect(cancelled.calls).toEqual(['b']);
    await dead.expectNone(() => true, 100);
  });
});

describe('failures', () => {
  it('retries with rising attempts, then dead-letters with the reason and the attempt count', async () => {
    const { bus, transport } = setup();
    const attempts = createSpy<number>();
    bus.handle(Placed, { group: 'g', maxAttempts: 3 }, (_e, ctx) => {
      attempts.fn(ctx.attempt);
      throw new Error('card declined');
    });
    await bus.start();
    const dead = await deadLetters(transport, 'g');
    await bus.publish(Placed, { orderId: 'a', total: 1 });
    const [letter] = await dead.waitForCount(1);
    expect(attempts.calls).toEqual([1, 2, 3]);
    expect(letter?.headers[EventbusHeaders.deadLetterReason]).toBe('failed after 3 attempt(s): card declined');
    expect(letter?.headers[EventbusHeaders.deadLetterAttempts]).toBe('3');
    expect(JSON.parse(new TextDecoder().decode(letter?.body))).toEqual({ orderId: 'a', total: 1 });
  });

  it('a NonRetryableError dead-letters on the first attempt', async () => {
    const { bus, transport } = setup();
    const attempts = createSpy<number>();
    bus.handle(Placed, { group: 'g', maxAttempts: 5 }, (_e, ctx) => {
      attempts.fn(ctx.attempt);
      throw new NonRetryableError('instance type does not exist');
    });
    await bus.start();
    const dead = await deadLetters(transport, 'g');
    await bus.publish(Placed, { orderId: 'a', total: 1 });
    const [letter] = await dead.waitForCount(1);
    expect(letter?.headers[EventbusHeaders.deadLetterReason]).toMatch(/non-retryable failure on attempt 1: instance type/);
    expect(attempts.calls).toEqual([1]);
  });

  it('a timeout aborts the handler signal and counts as a failed attempt', async () => {
    const { bus } = setup();
    const aborted = createSpy<string>();
    const attempts = createSpy<number>();
    bus.handle(Placed, { group: 'g', timeout: 30, maxAttempts: 2 }, async (_e, ctx) => {
      attempts.fn(ctx.attempt);
      if (ctx.attempt === 1) {
        await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
        aborted.fn(String((ctx.signal.reason as Error).name));
      }
    });
    await bus.start();
    await bus.publish(Placed, { orderId: 'a', total: 1 });
    await attempts.waitForCount(2);
    expect(aborted.calls).toEqual(['HandlerTimeoutError']);
  });

  it('a failing settle reaches onError, never an unhandled rejection', async () => {
    const errors = createSpy<string>();
    // Its ack "failed", so the delivery stays unsettled: a short drain lets stop() give up on it quickly.
    const { bus, transport } = setup({ onError: (e) => errors.fn(e.message) }, 50);
    const subscribe = transport.subscribe.bind(transport);
    transport.subscribe = (o, handler) =>
      subscribe(o, (d) => handler({ ...d, message: d.message, attempt: d.attempt, ack: () => Promise.reject(new Error('channel closed')), nack: d.nack, deadLetter: d.deadLetter }));
    bus.handle(Placed, { group: 'g' }, () => {});
    await bus.start();
    await bus.publish(Placed, { orderId: 'a', total: 1 });
    await errors.waitFor((c) => c.includes('channel closed'));
  });

  it('an ack that throws (not rejects) after a success reaches onError with the settle and the event id', async () => {
    const errors = createSpy<[string, string | undefined, string | undefined]>();
    const { bus, transport } = setup({ onError: (e, context) => errors.fn([e.message, context.settle, context.eventId]) }, 50);
    const subscribe = transport.subscribe.bind(transport);
    const throwing = () => {
      throw new Error('socket gone');
    };
    transport.subscribe = (o, handler) => subscribe(o, (d) => handler({ ...d, message: d.message, attempt: d.attempt, ack: throwing, nack: d.nack, deadLetter: d.deadLetter }));
    bus.handle(Placed, { group: 'g' }, () => {});
    await bus.start();
    const sent = await bus.publish(Placed, { orderId: 'a', total: 1 });
    const [call] = await errors.waitForCount(1);
    expect(call).toEqual(['socket gone', 'ack', sent.id]);
  });
});

describe('chains', () => {
  it('emit sets causation and keeps correlation; an undeclared emit fails clearly', async () => {
    const { bus } = setup();
    const shipped = createSpy<{ causationid?: string; correlationid?: string }>();
    const refused = createSpy<string>();
    bus.handle(Placed, { group: 'g', emits: [Shipped] }, async (event, ctx) => {
      await ctx.emit(Shipped, { orderId: event.data.orderId });
      // @ts-expect-error Cancelled is not declared in emits, so this does not compile
      await ctx.emit(Cancelled, { orderId: 'x' }).catch((e: Error) => refused.fn(e.message));
    });
    bus.handle(Shipped, { group: 'g' }, (e) => shipped.fn(e));
    await bus.start();
    const placed = await bus.publish(Placed, { orderId: 'a', total: 1 }, { correlationId: 'req-1' });
    const [event] = await shipped.waitForCount(1);
    expect(event).toMatchObject({ causationid: placed.id, correlationid: 'req-1' });
    await refused.waitForCount(1);
    expect(refused.calls[0]).toMatch(/emitted "order.cancelled" but declares only \[order.shipped\]/);
  });
});

describe('stop', () => {
  it('waits for in-flight handlers and settles them before closing', async () => {
    const { bus, transport } = setup();
    const started = createSpy<string>();
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const done: string[] = [];
    bus.handle(Placed, { group: 'g', concurrency: 3 }, async (e) => {
      started.fn(e.id);
      await gate;
      done.push(e.id);
    });
    await bus.start();
    await Promise.all([1, 2, 3].map((i) => bus.publish(Placed, { orderId: `o${i}`, total: 1 })));
    await started.waitForCount(3);
    const stopped = bus.stop();
    let finished = false;
    void stopped.then(() => {
      finished = true;
    });
    await new Promise((r) => setImmediate(r));
    expect(finished).toBe(false);
    release();
    await stopped;
    expect(done).toHaveLength(3);
    await expect(transport.publish([])).rejects.toThrow(/closed/);
  });
});
