import type { Delivery } from '@org/eventbus';
import { createSpy, describeBroker, eventually } from '@org/eventbus/testing';
import { afterEach, expect, it } from 'vitest';
import { cloudEventMessage, Fixture, URL_VARIABLE } from './helpers.js';

describeBroker('nats backlog', { variable: URL_VARIABLE }, (url) => {
  let fixture: Fixture;
  afterEach(() => fixture?.cleanup());

  it("sums num_pending and num_ack_pending over the group's consumers, and no other group's", async () => {
    fixture = new Fixture(url);
    const transport = fixture.transport();
    const [group, other] = [fixture.name('g'), fixture.name('g')];
    expect(await transport.backlog(group)).toEqual({ messages: 0, inFlight: 0 });
    await transport.provision([
      { group, channels: ['bl.a', 'bl.b'] },
      { group: other, channels: ['bl.a'] },
    ]);
    await transport.publish([cloudEventMessage('bl.a', 1), cloudEventMessage('bl.a', 2), cloudEventMessage('bl.b', 3)]);
    await eventually(() => transport.backlog(group), (b) => b.messages === 3, { description: 'a backlog of 3' });
    expect(await transport.backlog(other)).toEqual({ messages: 2, inFlight: 0 });
    // Held unacked: still counted (num_ack_pending), as in flight.
    const held = createSpy<Delivery>();
    const sub = await transport.subscribe({ group, channels: ['bl.a', 'bl.b'], prefetch: 10 }, (d) => held.fn(d));
    await held.waitForCount(3);
    expect(await transport.backlog(group)).toEqual({ messages: 3, inFlight: 3 });
    for (const d of held.calls) d.ack();
    await eventually(() => transport.backlog(group), (b) => b.messages === 0, { description: 'all acked' });
    await sub.close();
  });
});
