import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEventBus, type EventBus } from '../bus.js';
import { decodeEvent } from '../codec.js';
import { defineEvent } from '../contract.js';
import { createTransport } from '../create-transport.js';
import { ConfigError } from '../errors.js';
import { EventbusHeaders } from '../headers.js';
import { createSpy } from '../testing/spy.js';
import type { ReceivedMessage } from '../transport.js';
import { MemoryTransport } from './transport.js';

const Noted = defineEvent({
  type: 'note.added',
  description: 'A note was added.',
  schema: z.object({ text: z.string(), tags: z.array(z.string()) }),
});
const Stamped = defineEvent({ type: 'note.stamped', description: 'A dated note.', schema: z.object({ at: z.date() }) });

let n = 0;
const buses: EventBus[] = [];
function busOn(serialize: boolean) {
  const transport = new MemoryTransport({ broker: `serialize-${process.pid}-${++n}`, serialize });
  const bus = createEventBus({ transport, source: '/test', defaults: { maxAttempts: 1 } });
  buses.push(bus);
  return { bus, transport };
}

afterEach(async () => {
  await Promise.all(buses.splice(0).map((b) => b.stop()));
});

describe('memory transport, serialize: false', () => {
  it('gives every group its own validated copy: one handler mutating its event cannot touch another', async () => {
    const { bus } = busOn(false);
    const seen = createSpy<string[]>();
    bus.handle(Noted, { group: 'mutator' }, (event) => {
      event.data.tags.push('mutated');
      event.subject = 'changed';
    });
    bus.handle(Noted, { group: 'reader', concurrency: 1 }, async (event) => {
      await new Promise((resolve) => setImmediate(resolve));
      seen.fn([...event.data.tags, event.subject ?? 'no subject']);
    });
    await bus.start();
    const data = { text: 'hi', tags: ['a'] };
    await bus.publish(Noted, data);
    const [tags] = await seen.waitForCount(1, { timeoutMs: 2000 });
    expect(tags).toEqual(['a', 'no subject']);
    expect(data.tags).toEqual(['a']);
  });

  it('dead-letters as bytes, so a dead letter reads like one from a broker', async () => {
    const { bus, transport } = busOn(false);
    bus.handle(Noted, { group: 'failing' }, () => {
      throw new Error('boom');
    });
    await bus.start();
    const letters = createSpy<ReceivedMessage>();
    await transport.subscribe({ group: 'failing', channels: [], prefetch: 1, deadLetters: true }, async (d) => {
      letters.fn(d.message);
      await d.ack();
    });
    const sent = await bus.publish(Noted, { text: 'x', tags: [] });
    const letter = (await letters.waitForCount(1, { timeoutMs: 2000 }))[0]!;
    expect(letter.event).toBeUndefined();
    expect(letter.headers[EventbusHeaders.deadLetterReason]).toContain('boom');
    expect(decodeEvent(letter, transport.capabilities.encoding)).toMatchObject({ id: sent.id, data: { text: 'x', tags: [] } });
  });

  it('passes what JSON would lose, which is why `serialize: true` is the default', async () => {
    for (const serialize of [true, false]) {
      const { bus, transport } = busOn(serialize);
      const handled = createSpy<Date>();
      bus.handle(Stamped, { group: 'dates' }, (event) => handled.fn(event.data.at));
      await bus.start();
      const letters = createSpy<string>();
      await transport.subscribe({ group: 'dates', channels: [], prefetch: 1, deadLetters: true }, async (d) => {
        letters.fn(d.message.headers[EventbusHeaders.deadLetterReason] ?? '');
        await d.ack();
      });
      await bus.publish(Stamped, { at: new Date(0) });
      if (serialize) {
        // The Date became a string on the wire, as on every broker: the consumer's schema refuses it.
        const [reason] = await letters.waitForCount(1, { timeoutMs: 2000 });
        expect(reason).toMatch(/schema-mismatch/);
        await handled.expectNone(() => true, 50);
      } else {
        const [at] = await handled.waitForCount(1, { timeoutMs: 2000 });
        expect(at).toBeInstanceOf(Date);
      }
    }
  });

  it('is chosen by option or URL, and refuses anything but a boolean naming the option', async () => {
    expect(new MemoryTransport({ serialize: false }).capabilities.carriesEvents).toBe(true);
    expect(new MemoryTransport().capabilities.carriesEvents).toBeUndefined();
    expect((await createTransport('memory://u?serialize=false')).capabilities.carriesEvents).toBe(true);
    expect(() => new MemoryTransport({ serialize: 'no' as unknown as boolean })).toThrow(/`serialize`/);
    await expect(createTransport('memory://u?serialize=maybe')).rejects.toThrow(ConfigError);
    await expect(createTransport('memory://u?colour=blue')).rejects.toThrow(/unknown parameter "colour"/);
  });
});
