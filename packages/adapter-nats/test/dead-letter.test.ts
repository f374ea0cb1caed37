import { type Delivery, EventbusHeaders } from '@org/eventbus';
import { createSpy, describeBroker } from '@org/eventbus/testing';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { streamNameFor } from '../src/options.js';
import { fitDeadLetter, wireSize } from '../src/wire.js';
import { cloudEventMessage, type Fixture, refuseDeadLetters, URL_VARIABLE, withPlainClient } from './helpers.js';

const CE = { 'ce-specversion': '1.0', 'ce-id': 'plain-big', 'ce-source': '/plain', 'ce-type': 'test.event' };

describe('fitDeadLetter', () => {
  const dl = (reason: string, body = 100) => ({
    subject: 'dl.g',
    id: 'g:S:1',
    body: new Uint8Array(body),
    headers: {
      ...CE,
      [EventbusHeaders.deadLetterReason]: reason,
      [EventbusHeaders.deadLetterAttempts]: '1',
      [EventbusHeaders.deadLetterGroup]: 'g',
      [EventbusHeaders.deadLetterChannel]: 'c',
      [EventbusHeaders.deadLetterTime]: new Date(0).toISOString(),
    },
  });

  it('leaves a copy that fits as it is, and shortens the reason of one that does not', () => {
    const fits = dl('why');
    expect(fitDeadLetter(fits, 10_000)).toBe(fits);
    const long = dl('r'.repeat(300));
    const limit = wireSize(long) - 100;
    const fitted = fitDeadLetter(long, limit);
    expect(wireSize(fitted)).toBeLessThanOrEqual(limit);
    expect(fitted.headers[EventbusHeaders.deadLetterReason]).toMatch(/^r{150,}…$/);
    expect(fitted.headers[EventbusHeaders.deadLetterTime]).toBe(new Date(0).toISOString());
    expect(long.headers[EventbusHeaders.deadLetterReason]).toHaveLength(300);
  });

  it('then drops time, attempts and reason, keeping group and channel; refuses when even that is too much', () => {
    const message = dl('reason');
    const bare = wireSize({ ...message, headers: { ...CE, [EventbusHeaders.deadLetterGroup]: 'g', [EventbusHeaders.deadLetterChannel]: 'c' } });
    const fitted = fitDeadLetter(message, bare);
    expect(Object.keys(fitted.headers)).toEqual([...Object.keys(CE), EventbusHeaders.deadLetterGroup, EventbusHeaders.deadLetterChannel]);
    expect(() => fitDeadLetter(message, bare - 1)).toThrow(/max_payload/);
  });
});

describeBroker('NATS dead letters of oversized messages', { variable: URL_VARIABLE }, (url) => {
  const { fixture, client } = withPlainClient(url);

  /** A group that dead-letters everything, and a reader of its dead letters. */
  async function deadLettering(options: Parameters<Fixture['transport']>[0], reason = 'too big for this service') {
    const transport = fixture.transport({ maxDeliver: 3, ...options });
    const group = fixture.name('big');
    const channel = fixture.name('big');
    const attempts = createSpy<number>();
    const errors = createSpy<Error>();
    await transport.subscribe({ group, channels: [channel], prefetch: 2, onError: errors.fn }, async (d) => {
      attempts.fn(d.attempt);
      await d.deadLetter(reason);
    });
    const dead = createSpy<Delivery>();
    await transport.subscribe({ group, channels: [], prefetch: 2, deadLetters: true }, async (d) => {
      dead.fn(d);
      await d.ack();
    });
    return { group, channel, attempts, errors, dead, subject: `${fixture.prefix}.${channel}` };
  }

  it('a 100 KB message over maxMessageBytes=65536 reaches the dead-letter stream intact', async () => {
    const { channel, dead, attempts } = await deadLettering({ maxMessageBytes: 65_536 });
    const big = cloudEventMessage(channel, 'x'.repeat(100_000));
    await fixture.transport().publish([big]);
    const [copy] = await dead.waitForCount(1, { timeoutMs: 10_000 });
    expect(copy!.message.body.byteLength).toBe(big.body.byteLength);
    expect(copy!.message.headers['ce-id']).toBe(big.id);
    expect(copy!.message.headers[EventbusHeaders.deadLetterReason]).toBe('too big for this service');
    expect(attempts.calls).toEqual([1]);
  });

  it('a 1,020,000-byte message (over the default publish limit) from a plain client is dead-lettered', async () => {
    const { subject, dead, attempts } = await deadLettering({});
    const h = natsHeaders();
    for (const [k, v] of Object.entries(CE)) h.set(k, v);
    client().publish(subject, new Uint8Array(1_020_000).fill(0x61), { headers: h });
    await client().flush();
    const [copy] = await dead.waitForCount(1, { timeoutMs: 15_000 });
    expect(copy!.message.body.byteLength).toBe(1_020_000);
    expect(copy!.message.headers[EventbusHeaders.deadLetterReason]).toBe('too big for this service');
    expect(attempts.calls).toEqual([1]);
  });

  it('a message with room for only part of the reason is dead-lettered with the reason shortened', async () => {
    const reason = `refused: ${'r'.repeat(400)}`;
    const { group, subject, dead } = await deadLettering({}, reason);
    const maxPayload = client().info!.max_payload;
    // The dead-letter copy with an empty reason, its id with a 9-digit stream sequence (an upper bound).
    const dlHeaders = {
      ...CE,
      [EventbusHeaders.deadLetterReason]: '',
      [EventbusHeaders.deadLetterAttempts]: '1',
      [EventbusHeaders.deadLetterGroup]: group,
      [EventbusHeaders.deadLetterChannel]: subject.slice(fixture.prefix.length + 1),
      [EventbusHeaders.deadLetterTime]: new Date().toISOString(),
    };
    const id = `${group}:${streamNameFor(fixture.prefix)}:123456789`;
    const bodyBytes = maxPayload - wireSize({ id, headers: dlHeaders, body: new Uint8Array(0) }) - 60;
    const h = natsHeaders();
    for (const [k, v] of Object.entries(CE)) h.set(k, v);
    client().publish(subject, new Uint8Array(bodyBytes).fill(0x62), { headers: h });
    await client().flush();
    const [copy] = await dead.waitForCount(1, { timeoutMs: 15_000 });
    expect(copy!.message.body.byteLength).toBe(bodyBytes);
    const shortened = copy!.message.headers[EventbusHeaders.deadLetterReason]!;
    expect(shortened.startsWith('refused: r')).toBe(true);
    expect(shortened.endsWith('…')).toBe(true);
    expect(shortened.length).toBeLessThan(60);
  });

  it('a message at max_payload that cannot carry the dead-letter headers is reported and redelivered, never dropped', async () => {
    const { subject, errors, attempts, dead } = await deadLettering({});
    const maxPayload = client().info!.max_payload;
    const h = natsHeaders();
    for (const [k, v] of Object.entries(CE)) h.set(k, v);
    const headerBytes = wireSize({ id: '', headers: CE, body: new Uint8Array(0) }) - 'Nats-Msg-Id: \r\n'.length;
    client().publish(subject, new Uint8Array(maxPayload - headerBytes).fill(0x63), { headers: h });
    await client().flush();
    await attempts.waitForCount(2, { timeoutMs: 10_000, description: 'a redelivery after the refused dead letter' });
    expect(errors.calls[0]?.message).toMatch(/could not dead-letter.*max_payload.*redelivering/);
    await dead.expectNone(() => true, 300);
  });

  it('a refused dead-letter publish is reported and redelivered, and dead-lettered once the stream accepts again', async () => {
    const { channel, errors, attempts, dead } = await deadLettering({ maxDeliver: 100 });
    const repair = await refuseDeadLetters(url(), fixture.prefix);
    const poison = cloudEventMessage(channel, 'poison');
    try {
      await fixture.transport().publish([poison]);
      await attempts.waitForCount(2, { timeoutMs: 10_000, description: 'a redelivery after the refused dead letter' });
      expect(errors.calls[0]?.message).toMatch(/could not dead-letter.*exceeds maximum allowed.*redelivering/);
      expect(dead.calls).toHaveLength(0);
    } finally {
      await repair();
    }
    const [copy] = await dead.waitForCount(1, { timeoutMs: 10_000 });
    expect(copy!.message.headers['ce-id']).toBe(poison.id);
  });

  it('a message whose consumers keep dying is dead-lettered after maxDeliver deliveries, without running the handler again', async () => {
    const options = { ackWaitMs: 1000, maxDeliver: 2, drainTimeoutMs: 0 };
    const group = fixture.name('dying');
    const channel = fixture.name('dying');
    const dead = createSpy<Delivery>();
    await fixture.transport().subscribe({ group, channels: [], prefetch: 2, deadLetters: true }, async (d) => {
      dead.fn(d);
      await d.ack();
    });
    await fixture.transport().publish([cloudEventMessage(channel, 'kills its consumer')]);
    // Two members take it and go away without settling (as a crash would leave it).
    for (const attempt of [1, 2]) {
      const member = fixture.transport(options);
      const taken = createSpy<number>();
      await member.subscribe({ group, channels: [channel], prefetch: 1 }, (d) => taken.fn(d.attempt));
      expect(await taken.waitForCount(1, { timeoutMs: 10_000 })).toEqual([attempt]);
      await member.close();
    }
    const third = createSpy<number>();
    await fixture.transport(options).subscribe({ group, channels: [channel], prefetch: 1 }, (d) => third.fn(d.attempt));
    const [copy] = await dead.waitForCount(1, { timeoutMs: 10_000 });
    expect(copy!.message.headers[EventbusHeaders.deadLetterReason]).toMatch(/delivered 3 times without being settled \(maxDeliver 2\)/);
    expect(third.calls).toEqual([]);
  });
});
