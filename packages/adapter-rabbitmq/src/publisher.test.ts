import { describeBroker } from '@org/eventbus/testing';
import { afterAll, expect, it } from 'vitest';
import { cloudEventMessage, Fixture, URL_VARIABLE } from '../test/helpers.js';

// The publisher's deadlines and abort signals share one timer and one listener per signal
// (confirm-waits.ts): here against a real broker, where a confirm takes at least a round trip.
describeBroker('RabbitMQ publish: abort signals', { variable: URL_VARIABLE }, (url) => {
  const fixture = new Fixture(url);
  afterAll(() => fixture.cleanup());

  it('rejects with the reason every publish waiting on a signal shared with others, and only those', async () => {
    // One publishing connection, whose channel the first publish opens: the next ones wait for confirms.
    const transport = fixture.transport({ publishers: 1 });
    // A group bound to the channel: a publish nobody receives would be returned and rejected.
    await transport.provision([{ group: fixture.group('signals'), channels: ['signals'] }]);
    await transport.publish([cloudEventMessage('signals', 0)]);
    const shared = new AbortController();
    const reason = new Error('gave up');
    const waiting = [1, 2, 3].map((i) => transport.publish([cloudEventMessage('signals', i)], { signal: shared.signal }));
    const batch = transport.publish([cloudEventMessage('signals', 4), cloudEventMessage('signals', 5)], { signal: shared.signal });
    const other = transport.publish([cloudEventMessage('signals', 6)], { signal: new AbortController().signal });
    // Synchronously after the writes: no confirm can have been read yet.
    shared.abort(reason);
    await Promise.all([...waiting, batch].map((p) => expect(p).rejects.toBe(reason)));
    await expect(other).resolves.toBeUndefined();
    // An aborted signal refuses at once; the transport goes on publishing.
    await expect(transport.publish([cloudEventMessage('signals', 7)], { signal: shared.signal })).rejects.toBe(reason);
    await expect(
      Promise.all(Array.from({ length: 200 }, (_, i) => transport.publish([cloudEventMessage('signals', 100 + i)]))),
    ).resolves.toHaveLength(200);
  });
});
