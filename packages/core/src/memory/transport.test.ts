import { describe, expect, it } from 'vitest';
import { HANDLER_FAILURE_DELAY_MS } from '../delivery-tracker.js';
import { ConfigError, UnroutableError } from '../errors.js';
import { createSpy } from '../testing/spy.js';
import type { Delivery } from '../transport.js';
import { MemoryTransport } from './transport.js';

const message = (n: number) => ({ channel: 'c', id: String(n), headers: {}, body: new Uint8Array([n % 256]) });

describe('memory transport', () => {
  it('bounds memory: publish waits while a group lags by more than maxBacklog', async () => {
    const transport = new MemoryTransport({ broker: `backlog-${process.pid}`, maxBacklog: 10 });
    const held: Delivery[] = [];
    const got = createSpy<number>();
    await transport.subscribe({ group: 'slow', channels: ['c'], prefetch: 100 }, (d) => {
      held.push(d);
      got.fn(held.length);
    });
    let published = 0;
    const publishing = (async () => {
      for (let i = 0; i < 30; i++) {
        await transport.publish([message(i)]);
        published++;
      }
    })();
    await got.waitForCount(10);
    await new Promise((r) => setImmediate(r));
    expect(published).toBe(10);
    for (const d of held.splice(0)) await d.ack();
    await got.waitForCount(20);
    for (const d of held.splice(0)) await d.ack();
    await got.waitForCount(30);
    for (const d of held.splice(0)) await d.ack();
    await publishing;
    expect(published).toBe(30);
    await transport.close();
  });

  it('refuses bad options naming them', () => {
    expect(() => new MemoryTransport({ maxBacklog: 0 })).toThrow(ConfigError);
    expect(() => new MemoryTransport({ maxMessageBytes: -1 })).toThrow(/`maxMessageBytes`/);
  });

  it('a batch with one channel nobody receives rejects whole: nothing of it is delivered', async () => {
    const transport = new MemoryTransport({ broker: `unrouted-${process.pid}` });
    const got = createSpy<string>();
    await transport.provision([{ group: 'g', channels: ['c'] }]);
    const error = await transport.publish([message(1), { ...message(2), channel: 'nobody' }]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnroutableError);
    expect(error).toMatchObject({ channel: 'nobody' });
    await transport.publish([message(3)]);
    await transport.subscribe({ group: 'g', channels: ['c'], prefetch: 10 }, async (d) => {
      got.fn(String(d.message.body[0]));
      await d.ack();
    });
    await got.waitForCount(1);
    await got.expectNone((n) => n !== '3', 100);
    expect(got.calls).toEqual(['3']);
    await transport.close();
  });

  it('a handler that throws is reported and the delivery comes back after HANDLER_FAILURE_DELAY_MS', async () => {
    const transport = new MemoryTransport({ broker: `handler-failure-${process.pid}` });
    const errors = createSpy<Error>();
    const seen = createSpy<{ attempt: number; at: number }>();
    await transport.subscribe({ group: 'g', channels: ['c'], prefetch: 1, onError: errors.fn }, async (d) => {
      seen.fn({ attempt: d.attempt, at: Date.now() });
      if (d.attempt === 1) throw new Error('broken delivery handler');
      await d.ack();
    });
    await transport.publish([message(1)]);
    const [first, second] = await seen.waitForCount(2, { timeoutMs: 5_000 });
    expect(errors.calls.map((e) => e.message)).toEqual(['broken delivery handler']);
    expect(second!.attempt).toBe(2);
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(HANDLER_FAILURE_DELAY_MS - 20);
    await transport.close();
  });

  it('close() gives up after drainTimeoutMs and puts what is still unsettled back for the next member', async () => {
    const broker = `drain-${process.pid}`;
    const first = new MemoryTransport({ broker, drainTimeoutMs: 100 });
    const held = createSpy<Delivery>();
    const sub = await first.subscribe({ group: 'g', channels: ['c'], prefetch: 5 }, (d) => held.fn(d));
    await first.publish([message(1), message(2)]);
    await held.waitForCount(2);
    await held.calls[0]!.ack();
    await sub.close();
    const second = new MemoryTransport({ broker });
    const again = createSpy<number>();
    await second.subscribe({ group: 'g', channels: ['c'], prefetch: 5 }, async (d) => {
      again.fn(d.message.body[0]!);
      await d.ack();
    });
    expect(await again.waitForCount(1)).toEqual([2]);
    await held.calls[1]!.ack(); // the late settle of the closed member is a no-op
    await again.expectNone(() => true, 100);
    await second.close();
  });
});
