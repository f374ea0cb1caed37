import { randomUUID } from 'node:crypto';
import { createEventBus, type Delivery, defineEvent, EventbusHeaders } from '@org/eventbus';
import { createSpy, describeBroker } from '@org/eventbus/testing';
import amqp, { type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { z } from 'zod';
import { Fixture, runId, URL_VARIABLE } from './helpers.js';

// Interop with the CloudEvents AMQP binding as any other client sees it: a plain amqplib program
// reads what the bus writes, and the bus handles (or dead-letters) what a plain program writes.
describeBroker('rabbitmq interop with plain amqplib clients', { variable: URL_VARIABLE }, (url) => {
  const fixture = new Fixture(url);
  let plain: ChannelModel;
  let ch: Channel;
  const Ordered = defineEvent({
    type: runId('interop.order.placed').replaceAll(/[^a-z0-9]+/gi, '.'),
    description: 'an order for the interop tests',
    schema: z.object({ orderId: z.string(), total: z.number() }),
  });

  beforeAll(async () => {
    plain = await amqp.connect(url());
    ch = await plain.createChannel();
    await ch.assertExchange(fixture.exchange, 'topic', { durable: true });
  });
  afterAll(async () => {
    await plain?.close();
    await fixture.cleanup();
  });

  function busFor(group: string, received: (data: unknown, id: string) => void) {
    const bus = createEventBus({ transport: fixture.transport(), source: '/tests/interop', group });
    bus.handle(Ordered, { maxAttempts: 1 }, (event) => received(event.data, event.id));
    return bus;
  }

  it('a plain amqplib consumer reads what the bus publishes (cloudEvents_ headers, content-type property)', async () => {
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(queue, fixture.exchange, Ordered.channel);
    const got = createSpy<ConsumeMessage>();
    await ch.consume(queue, (msg) => msg && got.fn(msg), { noAck: true });
    const bus = createEventBus({ transport: fixture.transport(), source: '/tests/interop' });
    const sent = await bus.publish(Ordered, { orderId: 'o-1', total: 12.5 }, { subject: 'orders/o-1' });
    const [msg] = await got.waitForCount(1);
    expect(msg!.properties.contentType).toBe('application/json');
    expect(msg!.properties.messageId).toBe(sent.id);
    expect(msg!.properties.headers).toMatchObject({
      cloudEvents_specversion: '1.0',
      cloudEvents_id: sent.id,
      cloudEvents_type: Ordered.type,
      cloudEvents_source: '/tests/interop',
      cloudEvents_subject: 'orders/o-1',
    });
    expect(JSON.parse(msg!.content.toString('utf8'))).toEqual({ orderId: 'o-1', total: 12.5 });
    await bus.stop();
  });

  it('the bus handles an event a plain amqplib producer wrote with CloudEvents headers', async () => {
    const handled = createSpy<{ data: unknown; id: string }>();
    const bus = busFor(fixture.group('in'), (data, id) => handled.fn({ data, id }));
    await bus.start();
    const id = randomUUID();
    ch.publish(fixture.exchange, Ordered.channel, Buffer.from(JSON.stringify({ orderId: 'o-2', total: 3 })), {
      contentType: 'application/json',
      headers: {
        cloudEvents_specversion: '1.0',
        cloudEvents_id: id,
        cloudEvents_source: '/legacy/php-shop',
        cloudEvents_type: Ordered.type,
      },
    });
    const [call] = await handled.waitForCount(1);
    expect(call).toEqual({ id, data: { orderId: 'o-2', total: 3 } });
    await bus.stop();
  });

  it('the bus reads `cloudEvents:` attribute names (binding 3.1.3.1) and a time sent as an AMQP timestamp as RFC 3339', async () => {
    const handled = createSpy<{ id: string; source: string; time: string; data: unknown }>();
    const bus = createEventBus({ transport: fixture.transport(), source: '/tests/interop', group: fixture.group('colon') });
    bus.handle(Ordered, { maxAttempts: 1 }, (event) => handled.fn({ id: event.id, source: event.source, time: event.time, data: event.data }));
    await bus.start();
    const body = (orderId: string) => Buffer.from(JSON.stringify({ orderId, total: 1 }));
    const seconds = 1_767_225_600; // 2026-01-01T00:00:00Z
    ch.publish(fixture.exchange, Ordered.channel, body('colon'), {
      contentType: 'application/json',
      headers: {
        'cloudEvents:specversion': '1.0',
        'cloudEvents:id': 'c-1',
        'cloudEvents:source': '/amqp-1.0/producer',
        'cloudEvents:type': Ordered.type,
        'cloudEvents:time': { '!': 'timestamp', value: seconds },
      },
    });
    ch.publish(fixture.exchange, Ordered.channel, body('underscore'), {
      contentType: 'application/json',
      headers: {
        cloudEvents_specversion: '1.0',
        cloudEvents_id: 'c-2',
        cloudEvents_source: '/legacy',
        cloudEvents_type: Ordered.type,
        cloudEvents_time: { '!': 'timestamp', value: seconds + 1 },
      },
    });
    const calls = await handled.waitForCount(2);
    const byId = Object.fromEntries(calls.map((c) => [c.id, c]));
    expect(byId['c-1']).toEqual({ id: 'c-1', source: '/amqp-1.0/producer', time: '2026-01-01T00:00:00.000Z', data: { orderId: 'colon', total: 1 } });
    expect(byId['c-2']?.time).toBe('2026-01-01T00:00:01.000Z');
    await bus.stop();
  });

  it('poison from a plain client (not JSON, wrong schema, no headers) lands in the dead-letter queue with its reason', async () => {
    const group = fixture.group('poison');
    const handled = createSpy<unknown>();
    const bus = busFor(group, (data) => handled.fn(data));
    await bus.start();
    const attrs = (id: string) => ({
      cloudEvents_specversion: '1.0',
      cloudEvents_id: id,
      cloudEvents_source: '/legacy',
      cloudEvents_type: Ordered.type,
    });
    const send = (body: string, headers?: Record<string, string>) =>
      ch.publish(fixture.exchange, Ordered.channel, Buffer.from(body), headers ? { contentType: 'application/json', headers } : {});
    send('{not json', attrs('p-json'));
    send(JSON.stringify({ orderId: 42 }), attrs('p-schema'));
    send(JSON.stringify({ orderId: 'o', total: 1 }));
    send(JSON.stringify({ orderId: 'ok', total: 1 }), attrs('p-good'));
    // The consumer kept running: the good one after the poison is handled.
    await handled.waitForCount(1);
    expect(handled.calls).toEqual([{ orderId: 'ok', total: 1 }]);

    const reader = fixture.transport();
    const dead = createSpy<Delivery>();
    await reader.subscribe({ group, channels: [], prefetch: 10, deadLetters: true }, async (d) => {
      dead.fn(d);
      await d.ack();
    });
    const letters = await dead.waitForCount(3);
    const reasons = Object.fromEntries(
      letters.map((d) => [d.message.headers.cloudEvents_id ?? 'no-headers', d.message.headers[EventbusHeaders.deadLetterReason]]),
    );
    expect(reasons['p-json']).toMatch(/^malformed: event data is not JSON/);
    expect(reasons['p-schema']).toMatch(/^schema-mismatch:/);
    expect(reasons['no-headers']).toMatch(/^missing-attributes:/);
    const noHeaders = letters.find((d) => d.message.headers.cloudEvents_id === undefined)!;
    expect(noHeaders.message.body.toString()).toBe(JSON.stringify({ orderId: 'o', total: 1 }));
    await bus.stop();
  });
});
