import type { Delivery } from '@org/eventbus';
import { createSpy, describeBroker, eventually } from '@org/eventbus/testing';
import { afterAll, afterEach, expect, it } from 'vitest';
import type { KafkaTransport } from '../src/index.js';
import { deleteRunTopics, message, runId, testTransport } from './helpers.js';

describeBroker('kafka backlog', { variable: 'EVENTBUS_KAFKA_BROKERS' }, (brokers) => {
  const open: KafkaTransport[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((t) => t.close()));
  });
  afterAll(() => deleteRunTopics(brokers()), 60_000);

  it("is the group's lag: records published after its last commit, 0 once it has read them", async () => {
    const id = runId();
    const [group, channel] = [`g-${id}`, `kb-${id}`];
    const transport = testTransport(brokers(), { partitions: 2 });
    open.push(transport);
    expect(await transport.backlog(group)).toEqual({ messages: 0 });
    const acked = createSpy<Delivery>();
    const sub = await transport.subscribe({ group, channels: [channel], prefetch: 10 }, (d) => {
      d.ack();
      acked.fn(d);
    });
    await transport.publish([message(channel, 1), message(channel, 2)]);
    await acked.waitForCount(2);
    await sub.close();
    await transport.publish([message(channel, 3), message(channel, 4), message(channel, 5)]);
    await eventually(() => transport.backlog(group), (b) => b.messages === 3, { description: 'a lag of 3' });
    const drained = createSpy<Delivery>();
    const again = await transport.subscribe({ group, channels: [channel], prefetch: 10 }, (d) => {
      d.ack();
      drained.fn(d);
    });
    await drained.waitForCount(3);
    await eventually(() => transport.backlog(group), (b) => b.messages === 0, { description: 'no lag', timeoutMs: 15_000 });
    await again.close();
  }, 60_000);
});
