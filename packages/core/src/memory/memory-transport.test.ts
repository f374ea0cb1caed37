import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { createSpy } from '../testing/spy.js';
import type { Delivery } from '../transport.js';
import { MemoryTransport } from './memory-transport.js';

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
});
