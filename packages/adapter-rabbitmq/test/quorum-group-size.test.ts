import { describeBroker } from '@org/eventbus/testing';
import amqp from 'amqplib';
import { afterAll, expect, it } from 'vitest';
import { TopologyNames } from '../src/topology.js';
import { Fixture, URL_VARIABLE } from './helpers.js';

describeBroker('RabbitMqTransport quorumInitialGroupSize', { variable: URL_VARIABLE }, (url) => {
  const fixture = new Fixture(url);
  afterAll(() => fixture.cleanup());

  /** Redeclares a queue with these arguments: RabbitMQ refuses (406) when they differ from the queue's. */
  async function redeclare(queue: string, args: Record<string, unknown>): Promise<string> {
    const connection = await amqp.connect(url());
    try {
      const ch = await connection.createChannel();
      ch.on('error', () => {});
      return await ch.assertQueue(queue, { durable: true, arguments: args }).then(
        () => 'accepted',
        (error: Error) => error.message,
      );
    } finally {
      await connection.close().catch(() => {});
    }
  }

  it('declares the group queue with x-quorum-initial-group-size when set, and without it by default', async () => {
    const names = new TopologyNames(fixture.exchange);
    const sized = fixture.group('sized');
    const plain = fixture.group('plain');
    await fixture.transport({ quorumInitialGroupSize: 1 }).provision([{ group: sized, channels: ['c.sized'] }]);
    await fixture.transport().provision([{ group: plain, channels: ['c.plain'] }]);
    const dlx = { 'x-dead-letter-exchange': names.deadLetterExchange };
    const quorum = { 'x-queue-type': 'quorum' };
    expect(await redeclare(names.groupQueue(sized), { ...quorum, ...dlx, 'x-dead-letter-routing-key': sized, 'x-quorum-initial-group-size': 1 })).toBe('accepted');
    expect(await redeclare(names.groupQueue(sized), { ...quorum, ...dlx, 'x-dead-letter-routing-key': sized })).toMatch(/x-quorum-initial-group-size/);
    expect(await redeclare(names.groupQueue(plain), { ...quorum, ...dlx, 'x-dead-letter-routing-key': plain })).toBe('accepted');
  });
});
