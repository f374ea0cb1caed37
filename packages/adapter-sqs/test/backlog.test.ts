import type { Delivery } from '@org/eventbus';
import { createSpy, eventually } from '@org/eventbus/testing';
import { describe, expect, it } from 'vitest';
import { sqsFixture } from './fixture.js';

const fixture = sqsFixture('bl');

describe('SqsTransport backlog', () => {
  it("counts the group queue's waiting and in-flight messages (approximate attributes)", async () => {
    const t = fixture.transport();
    const [group, channel] = [fixture.unique('g'), fixture.unique('ch')];
    await t.provision([{ group, channels: [channel] }]);
    expect(await t.backlog(group)).toEqual({ messages: 0, inFlight: 0 });
    const body = new TextEncoder().encode('{}');
    await t.publish([1, 2, 3].map((n) => ({ channel, id: `m${n}`, headers: {}, body })));
    await eventually(() => t.backlog(group), (b) => b.messages === 3, { description: 'a backlog of 3' });
    // Received and held unacked: not visible, still counted.
    const held = createSpy<Delivery>();
    const sub = await t.subscribe({ group, channels: [channel], prefetch: 10 }, (d) => held.fn(d));
    await held.waitForCount(3);
    expect(await t.backlog(group)).toEqual({ messages: 3, inFlight: 3 });
    for (const d of held.calls) d.ack();
    await eventually(() => t.backlog(group), (b) => b.messages === 0, { description: 'all acked' });
    await sub.close();
  }, 30_000);
});
