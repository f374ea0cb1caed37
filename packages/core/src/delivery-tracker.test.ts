import { describe, expect, it, vi } from 'vitest';
import { DeliveryTracker, HANDLER_FAILURE_DELAY_MS, type SettleActions, type TrackedDelivery } from './delivery-tracker.js';
import { TransportError } from './errors.js';
import { createSpy } from './testing/spy.js';
import type { Delivery, DeliveryHandler, ReceivedMessage } from './transport.js';

const message: ReceivedMessage = { channel: 'orders', headers: {}, body: new Uint8Array([1]) };

type Call = [what: string, raw: string, arg?: number | string];

/** A tracker whose broker calls are recorded; `failing` names the ones that throw (or reject). */
function setup(options: { failing?: Partial<Record<keyof SettleActions<string>, 'throw' | 'reject'>>; handler?: DeliveryHandler } = {}) {
  const calls: Call[] = [];
  const errors = createSpy<Error>();
  const settled = createSpy<string>();
  const held: Delivery[] = [];
  const act =
    (what: keyof SettleActions<string>) =>
    (d: TrackedDelivery<string>, arg?: number | string): void | Promise<void> => {
      calls.push(arg === undefined ? [what, d.raw] : [what, d.raw, arg]);
      const failure = options.failing?.[what];
      if (failure === 'throw') throw new Error(`${what} refused by the broker`);
      if (failure === 'reject') return Promise.reject(new Error(`${what} refused by the broker`));
    };
  const tracker = new DeliveryTracker<string>({
    actions: { ack: act('ack'), nack: act('nack'), deadLetter: act('deadLetter'), defer: act('defer'), redeliver: act('redeliver') },
    handler: options.handler ?? ((d) => void held.push(d)),
    onError: errors.fn,
    drainTimeoutMs: 200,
    onSettled: (d) => settled.fn(d.raw),
  });
  return { tracker, calls, errors, settled, held };
}

describe('DeliveryTracker', () => {
  it('hands each message to the handler with its attempt, and settles it exactly once', async () => {
    const { tracker, calls, held, settled } = setup();
    tracker.dispatch('m1', message, 3);
    expect(held[0]).toMatchObject({ message, attempt: 3 });
    expect(tracker.size).toBe(1);
    expect([...tracker.deliveries()].map((d) => d.raw)).toEqual(['m1']);
    const d = held[0]!;
    await Promise.all([d.ack(), d.ack(), d.nack({ delayMs: 5 }), d.deadLetter('late')]);
    await d.nack();
    expect(calls).toEqual([['ack', 'm1']]);
    expect(settled.calls).toEqual(['m1']);
    expect(tracker.size).toBe(0);
  });

  it('passes the nack delay (never negative) and the dead-letter reason to the broker calls', async () => {
    const { tracker, calls, held } = setup();
    for (const raw of ['a', 'b', 'c']) tracker.dispatch(raw, message, 1);
    await held[0]!.nack({ delayMs: 250 });
    await held[1]!.nack({ delayMs: -5 });
    await held[2]!.deadLetter('schema-mismatch: n');
    expect(calls).toEqual([
      ['nack', 'a', 250],
      ['nack', 'b', 0],
      ['deadLetter', 'c', 'schema-mismatch: n'],
    ]);
  });

  it.each(['throw', 'reject'] as const)('a settle that fails (%s) is reported and falls back to a plain redelivery', async (failure) => {
    const { tracker, calls, errors, held, settled } = setup({ failing: { deadLetter: failure, nack: failure, ack: failure } });
    for (const raw of ['a', 'b', 'c']) tracker.dispatch(raw, message, 2);
    await held[0]!.deadLetter('poison');
    await held[1]!.nack({ delayMs: 1000 });
    await held[2]!.ack();
    expect(calls).toEqual([
      ['deadLetter', 'a', 'poison'],
      ['redeliver', 'a'],
      ['nack', 'b', 1000],
      ['redeliver', 'b'],
      ['ack', 'c'],
      ['redeliver', 'c'],
    ]);
    expect(errors.calls).toHaveLength(3);
    for (const error of errors.calls) expect(error).toBeInstanceOf(TransportError);
    expect(errors.calls[0]!.message).toBe(
      'could not dead-letter a delivery of "orders" (attempt 2): deadLetter refused by the broker; redelivering it',
    );
    expect((errors.calls[0] as Error & { cause?: unknown }).cause).toBeInstanceOf(Error);
    expect(settled.calls).toEqual(['a', 'b', 'c']);
    expect(tracker.size).toBe(0);
  });

  it('when even the redelivery fails, both failures are reported and the delivery is still released', async () => {
    const { tracker, errors, held, settled } = setup({ failing: { deadLetter: 'reject', redeliver: 'throw' } });
    tracker.dispatch('a', message, 1);
    await expect(held[0]!.deadLetter('poison')).resolves.toBeUndefined();
    expect(errors.calls.map((e) => e.message)).toEqual([
      'could not dead-letter a delivery of "orders" (attempt 1): deadLetter refused by the broker; redelivering it',
      'could not redeliver a delivery of "orders" (attempt 1): redeliver refused by the broker; the broker redelivers it when the connection closes',
    ]);
    expect(settled.calls).toEqual(['a']);
    expect(tracker.size).toBe(0);
    expect(await tracker.drain()).toBe(true);
  });

  it.each([
    ['throws', () => {
      throw new Error('broken handler');
    }],
    ['rejects', () => Promise.reject(new Error('broken handler'))],
  ])('a handler that %s instead of settling is reported and nacked with HANDLER_FAILURE_DELAY_MS', async (_how, handler) => {
    const { tracker, calls, errors, settled } = setup({ handler });
    tracker.dispatch('a', message, 1);
    await settled.waitForCount(1);
    expect(HANDLER_FAILURE_DELAY_MS).toBe(1000);
    expect(calls).toEqual([['nack', 'a', HANDLER_FAILURE_DELAY_MS]]);
    expect(errors.calls.map((e) => e.message)).toEqual(['broken handler']);
  });

  it('a handler that settled and then threw keeps its first settle', async () => {
    const { tracker, calls, errors, settled } = setup({
      handler: async (d) => {
        await d.ack();
        throw new Error('after the ack');
      },
    });
    tracker.dispatch('a', message, 1);
    await errors.waitForCount(1);
    expect(calls).toEqual([['ack', 'a']]);
    expect(settled.calls).toEqual(['a']);
  });

  it('drain() waits for what is in flight, and gives up after the timeout', async () => {
    const { tracker, held } = setup();
    expect(await tracker.drain()).toBe(true);
    tracker.dispatch('a', message, 1);
    tracker.dispatch('b', message, 1);
    const draining = tracker.drain();
    let drained = false;
    void draining.then(() => {
      drained = true;
    });
    await held[0]!.ack();
    await new Promise((resolve) => setImmediate(resolve));
    expect(drained, 'one delivery is still in flight').toBe(false);
    await held[1]!.nack();
    expect(await draining).toBe(true);

    tracker.dispatch('c', message, 1);
    const started = Date.now();
    expect(await tracker.drain(), 'timed out').toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(tracker.size).toBe(1);
    expect(await tracker.drain(20)).toBe(false);
  });

  it('holds a fallback redelivery for HANDLER_FAILURE_DELAY_MS, so a path that stays broken does not spin; drain ends the hold', async () => {
    vi.useFakeTimers();
    try {
      const { tracker, calls, held } = setup({ failing: { deadLetter: 'reject' } });
      tracker.dispatch('a', message, 1);
      tracker.dispatch('b', message, 1);
      const first = held[0]!.deadLetter('poison');
      await vi.advanceTimersByTimeAsync(HANDLER_FAILURE_DELAY_MS - 1);
      expect(calls).toEqual([['deadLetter', 'a', 'poison']]);
      await vi.advanceTimersByTimeAsync(1);
      await first;
      expect(calls.at(-1)).toEqual(['redeliver', 'a']);

      const second = held[1]!.deadLetter('poison');
      await vi.advanceTimersByTimeAsync(10);
      const draining = tracker.drain();
      await second;
      expect(calls.at(-1), 'drain() ended the hold at once').toEqual(['redeliver', 'b']);
      expect(await draining).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });
});
