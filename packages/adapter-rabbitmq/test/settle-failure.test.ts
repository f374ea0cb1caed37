import { type Delivery, EventbusHeaders } from '@org/eventbus';
import { createSpy, describeBroker } from '@org/eventbus/testing';
import { afterAll, expect, it } from 'vitest';
import { TopologyNames } from '../src/topology.js';
import { breakDeadLetter, breakRetryQueues } from './break-settle.js';
import { cloudEventMessage, Fixture, json, URL_VARIABLE } from './helpers.js';

// A settle whose broker path is refused (issue 13, item 2): core's tracker reports it and falls back
// to basic.nack with requeue. The delivery comes back, is never stranded holding a prefetch slot,
// and once the path is repaired it settles as asked.
describeBroker('RabbitMQ settle failures', { variable: URL_VARIABLE }, (url) => {
  const fixture = new Fixture(url);
  afterAll(() => fixture.cleanup());

  it('a delayed nack whose retry queue cannot be declared redelivers the message (after the hold), and works after repair', async () => {
    const transport = fixture.transport();
    const group = fixture.group('retry-broken');
    const names = new TopologyNames(fixture.exchange);
    const errors = createSpy<Error>();
    const seen = createSpy<Delivery>();
    const afterRepair = createSpy<number>();
    let repaired = false;
    await transport.subscribe({ group, channels: ['r'], prefetch: 1, onError: (e) => errors.fn(e) }, async (d) => {
      seen.fn(d);
      if (!repaired) return d.nack({ delayMs: 4000 });
      afterRepair.fn(Date.now());
      // Once more through the (now declarable) retry queue, then done.
      if (afterRepair.count === 1) await d.nack({ delayMs: 300 });
      else await d.ack();
    });
    const repair = await breakRetryQueues(url(), names, group);
    await transport.publish([cloudEventMessage('r', { n: 1 })]);
    // Redelivered at once (a plain requeue), long before the 4 s delay: the prefetch slot was not held.
    const [first, second] = await seen.waitForCount(2, { timeoutMs: 3000 });
    expect(json(second!.message.body)).toEqual(json(first!.message.body));
    expect(second!.attempt).toBe(2);
    const [error] = await errors.waitForCount(1);
    expect(error!.message).toMatch(/could not nack a delivery of "r" \(attempt 1\).*PRECONDITION_FAILED.*; redelivering it/);
    await repair();
    repaired = true;
    const [nackedAt, ackedAt] = await afterRepair.waitForCount(2, { timeoutMs: 10_000 });
    expect(ackedAt! - nackedAt!).toBeGreaterThanOrEqual(290);
    await afterRepair.expectNone(() => true, 300);
  });

  it('a dead-letter whose destination refuses the copy redelivers the message, and dead-letters it after repair', async () => {
    const transport = fixture.transport();
    const group = fixture.group('dl-broken');
    const names = new TopologyNames(fixture.exchange);
    const errors = createSpy<Error>();
    const attempts = createSpy<number>();
    await transport.subscribe({ group, channels: ['d'], prefetch: 1, onError: (e) => errors.fn(e) }, (d) => {
      attempts.fn(d.attempt);
      return d.deadLetter('gave up');
    });
    const repair = await breakDeadLetter(url(), names, group);
    await transport.publish([cloudEventMessage('d', { n: 2 })]);
    await attempts.waitForCount(2);
    const [error] = await errors.waitForCount(1);
    expect(error!.message).toMatch(/could not dead-letter a delivery of "d".*returned the message as unroutable.*; redelivering it/);
    await repair();
    const dead = createSpy<Delivery>();
    await transport.subscribe({ group, channels: [], prefetch: 1, deadLetters: true }, async (d) => {
      dead.fn(d);
      await d.ack();
    });
    const [letter] = await dead.waitForCount(1, { timeoutMs: 10_000 });
    expect(letter!.message.headers[EventbusHeaders.deadLetterReason]).toBe('gave up');
    expect(json(letter!.message.body)).toEqual({ n: 2 });
    await dead.expectNone(() => true, 300);
  });
});
