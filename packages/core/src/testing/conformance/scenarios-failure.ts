import { expect } from 'vitest';
import { decodeEvent, encodeEvent } from '../../codec.js';
import { createEnvelope } from '../../envelope.js';
import { EventbusHeaders } from '../../headers.js';
import type { OutgoingMessage, ReceivedMessage, Transport } from '../../transport.js';
import { createSpy } from '../spy.js';
import { ids, provisionGroup, readDeadLetters } from './harness.js';
import { check, type Scenario } from './scenario.js';

function header(message: ReceivedMessage, name: string): string | undefined {
  return message.headers[name];
}

/** Raw messages a plain client might send: each one poison in its own way. */
function poisonMessages(transport: Transport, type: string, channel: string, limit: number): Record<string, OutgoingMessage> {
  const encoding = transport.capabilities.encoding;
  const valid = (t: string, data: unknown) => {
    const event = createEnvelope(t, 1, '/plain-client', data);
    return { id: event.id, ...encodeEvent(event, encoding) };
  };
  const notJson = valid(type, { n: 1 });
  const notJsonBody =
    encoding.mode === 'structured' ? new TextEncoder().encode('{ this is not json') : new TextEncoder().encode('<<not json>>');
  const unknown = valid('conformance.nobody.knows.this', { n: 1 });
  const mismatch = valid(type, { n: 'not a number' });
  const big = valid(type, { n: 1, pad: 'x'.repeat(limit) });
  const bare = new TextEncoder().encode(JSON.stringify({ hello: 'no attributes at all' }));
  return {
    malformed: { channel, id: notJson.id, headers: notJson.headers, body: notJsonBody },
    'unknown-type': { channel, id: unknown.id, headers: unknown.headers, body: unknown.body },
    'schema-mismatch': { channel, id: mismatch.id, headers: mismatch.headers, body: mismatch.body },
    'missing-attributes': { channel, id: 'bare', headers: {}, body: bare },
    oversized: { channel, id: big.id, headers: big.headers, body: big.body },
  };
}

export const failureScenarios: Scenario[] = [
  {
    name: 'nack-redelivery',
    title: 'a failing handler is retried: every event arrives, attempt counts rise',
    async run(h) {
      const contract = h.contract('retry');
      const group = h.group();
      const attempts = createSpy<{ id: string; attempt: number }>();
      const bus = await h.bus();
      bus.handle(contract, { group, maxAttempts: 5, backoff: { initialMs: 20, maxMs: 100 } }, (event, ctx) => {
        attempts.fn({ id: event.id, attempt: ctx.attempt });
        if (ctx.attempt < 3) throw new Error(`fail attempt ${ctx.attempt}`);
      });
      await bus.start();
      const publisher = await h.bus();
      const sent = ids(await publisher.publishBatch(Array.from({ length: 20 }, (_, n) => ({ contract, data: { n } }))));
      const calls = await attempts.waitFor((c) => [...sent].every((id) => c.some((x) => x.id === id && x.attempt >= 3)), {
        timeoutMs: 30_000,
        description: 'every event reaching attempt 3',
      });
      for (const id of sent) {
        const seen = calls.filter((c) => c.id === id).map((c) => c.attempt);
        expect(seen.slice(0, 3), `attempts of ${id}`).toEqual([1, 2, 3]);
      }
    },
  },
  {
    name: 'nack-delay',
    title: 'a nack with delay is not redelivered early',
    async run(h) {
      const contract = h.contract('delay');
      const group = h.group();
      const times = createSpy<{ attempt: number; at: number }>();
      const bus = await h.bus();
      bus.handle(
        contract,
        { group, maxAttempts: 3, backoff: { initialMs: 1500, maxMs: 1500, jitter: false } },
        (_event, ctx) => {
          times.fn({ attempt: ctx.attempt, at: Date.now() });
          if (ctx.attempt === 1) throw new Error('later, please');
        },
      );
      await bus.start();
      const publisher = await h.bus();
      await publisher.publish(contract, { n: 1 });
      const [first, second] = await times.waitForCount(2, { timeoutMs: 30_000 });
      check(first && second, 'two deliveries expected');
      expect(second.attempt).toBe(2);
      expect(second.at - first.at, 'redelivered after the delay').toBeGreaterThanOrEqual(1500 - 25);
    },
  },
  {
    name: 'max-attempts',
    title: 'after maxAttempts the event is dead-lettered with its reason, intact and readable',
    async run(h) {
      const contract = h.contract('dlq');
      const group = h.group();
      const calls = createSpy<number>();
      const bus = await h.bus();
      bus.handle(contract, { group, maxAttempts: 3, backoff: { initialMs: 10, maxMs: 50 } }, (_e, ctx) => {
        calls.fn(ctx.attempt);
        throw new Error('the external API said no');
      });
      await bus.start();
      const { transport, letters } = await readDeadLetters(h, group, [contract.channel]);
      const publisher = await h.bus();
      const sent = await publisher.publish(contract, { n: 7, text: 'keep me' }, { key: 'k1' });
      const [letter] = await letters.waitForCount(1, { timeoutMs: 30_000 });
      check(letter, 'no dead letter');
      expect(header(letter, EventbusHeaders.deadLetterReason)).toMatch(/failed after 3 attempt\(s\): the external API said no/);
      expect(header(letter, EventbusHeaders.deadLetterAttempts)).toBe('3');
      expect(header(letter, EventbusHeaders.deadLetterGroup)).toBe(group);
      const original = decodeEvent(letter, transport.capabilities.encoding);
      expect(original).toMatchObject({ id: sent.id, type: contract.type, data: { n: 7, text: 'keep me' } });
      expect(calls.calls).toEqual([1, 2, 3]);
    },
  },
  {
    name: 'poison',
    title: 'poison input (not JSON, unknown type, schema mismatch, no attributes, oversized) is dead-lettered; the consumer keeps running',
    async run(h) {
      const contract = h.contract('poison');
      const group = h.group();
      await provisionGroup(h, group, [contract.channel]);
      const limit = 16 * 1024;
      const handled = createSpy<number>();
      const bus = await h.bus({ maxMessageBytes: limit });
      bus.handle(contract, { group }, (e) => handled.fn(e.data.n));
      await bus.start();
      const { letters } = await readDeadLetters(h, group, [contract.channel]);
      const raw = await h.transport();
      const poison = poisonMessages(raw, contract.type, contract.channel, limit);
      for (const message of Object.values(poison)) await raw.publish([message]);
      const publisher = await h.bus();
      await publisher.publish(contract, { n: 42 });
      await handled.waitFor((c) => c.includes(42), { description: 'the valid event after the poison' });
      const dead = await letters.waitForCount(5, { timeoutMs: 30_000 });
      const reasons = dead.map((m) => header(m, EventbusHeaders.deadLetterReason) ?? '');
      for (const kind of Object.keys(poison)) {
        expect(reasons.some((r) => r.startsWith(kind)), `a dead letter with reason "${kind}: …" in ${JSON.stringify(reasons)}`).toBe(true);
      }
      expect(handled.calls).toEqual([42]);
    },
  },
];
