import { describeBroker, eventually } from '@org/eventbus/testing';
import { afterEach, expect, it } from 'vitest';
import { cloudEventMessage, Fixture, URL_VARIABLE } from './helpers.js';

describeBroker('rabbitmq backlog', { variable: URL_VARIABLE }, (url) => {
  let fixture: Fixture;
  afterEach(() => fixture?.cleanup());

  it("counts the ready messages of the group's queue, and 0 for a group with no queue", async () => {
    fixture = new Fixture(url);
    const transport = fixture.transport();
    const group = fixture.group('backlog');
    expect(await transport.backlog(fixture.group('never'))).toEqual({ messages: 0 });
    await transport.provision([{ group, channels: ['backlog.ch'] }]);
    await transport.publish([1, 2, 3].map((n) => cloudEventMessage('backlog.ch', { n })));
    await eventually(() => transport.backlog(group), (b) => b.messages === 3, { description: 'a backlog of 3' });
    const sub = await transport.subscribe({ group, channels: ['backlog.ch'], prefetch: 10 }, (d) => d.ack());
    await eventually(() => transport.backlog(group), (b) => b.messages === 0, { description: 'an empty queue' });
    await sub.close();
  });
});
