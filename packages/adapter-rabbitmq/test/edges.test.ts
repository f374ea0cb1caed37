import { inspect } from 'node:util';
import { type Delivery, type Logger, UnroutableError } from '@org/eventbus';
import { createSpy, describeBroker } from '@org/eventbus/testing';
import { afterAll, expect, it } from 'vitest';
import { RabbitMqTransport } from '../src/index.js';
import { cloudEventMessage, Fixture, json, URL_VARIABLE } from './helpers.js';

/** A logger that keeps every line, as the text a log shipper would see. */
function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const line = (level: string) => (obj: object, msg?: string) => lines.push(JSON.stringify({ level, msg, ...obj }));
  return { lines, debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
}

// The edges of issue 13 on RabbitMQ: nobody bound (item 3), refused logins and unreachable brokers
// (item 6), secrets in output (item 5).
describeBroker('RabbitMQ edges', { variable: URL_VARIABLE }, (url) => {
  const fixture = new Fixture(url);
  afterAll(() => fixture.cleanup());

  it('a publish no group receives rejects with UnroutableError naming the channel; a batch names the unbound one and delivers the rest', async () => {
    const transport = fixture.transport();
    const group = fixture.group('bound');
    const got = createSpy<Delivery>();
    await transport.subscribe({ group, channels: ['bound'], prefetch: 10 }, async (d) => {
      got.fn(d);
      await d.ack();
    });
    const lonely = transport.publish([cloudEventMessage('nobody-listens', 1)]);
    await expect(lonely).rejects.toBeInstanceOf(UnroutableError);
    await expect(lonely).rejects.toMatchObject({ channel: 'nobody-listens', message: expect.stringMatching(/No group receives channel "nobody-listens"/) });
    const batch = transport.publish([cloudEventMessage('bound', 'a'), cloudEventMessage('unbound', 'b'), cloudEventMessage('bound', 'c')]);
    await expect(batch).rejects.toMatchObject({ name: 'UnroutableError', channel: 'unbound' });
    const delivered = await got.waitForCount(2);
    expect(delivered.map((d) => json(d.message.body))).toEqual(['a', 'c']);
    // The transport goes on publishing.
    await expect(transport.publish([cloudEventMessage('bound', 'd')])).resolves.toBeUndefined();
  });

  it('provision() declares the group (queue, bindings, dead letters) so events published before any consumer are kept; idempotent', async () => {
    const api = fixture.transport();
    const group = fixture.group('provisioned');
    const groups = [{ group, channels: ['orders.placed', 'orders.cancelled'] }];
    await api.provision(groups);
    await api.provision(groups);
    await api.publish([cloudEventMessage('orders.placed', 1), cloudEventMessage('orders.cancelled', 2)]);
    const worker = fixture.transport();
    const got = createSpy<Delivery>();
    await worker.subscribe({ group, channels: ['orders.placed', 'orders.cancelled'], prefetch: 10 }, async (d) => {
      got.fn(d);
      if (d.attempt === 1 && json(d.message.body) === 2) await d.deadLetter('kept for the dead-letter reader');
      else await d.ack();
    });
    const calls = await got.waitForCount(2);
    expect(calls.map((d) => json(d.message.body)).sort()).toEqual([1, 2]);
    // The dead-letter queue was declared by provision too.
    const dead = createSpy<Delivery>();
    await worker.subscribe({ group, channels: [], prefetch: 10, deadLetters: true }, async (d) => {
      dead.fn(d);
      await d.ack();
    });
    expect(json((await dead.waitForCount(1))[0]!.message.body)).toBe(2);
    await expect(api.provision([])).resolves.toBeUndefined();
  });

  it('a wrong password fails fast with "authentication failed for user X", logs one warning, and shows the password nowhere', async () => {
    const logger = recordingLogger();
    const wrong = new URL(url());
    wrong.username = 'eventbus-test';
    wrong.password = 'not-the-s3cret';
    const transport = new RabbitMqTransport({ url: wrong.toString(), exchange: fixture.exchange, logger });
    const started = Date.now();
    const error = await transport.connect().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(Date.now() - started).toBeLessThan(3000); // connectTimeoutMs is 15 s: not retried until then
    expect(error?.message).toMatch(/^authentication failed for user "eventbus-test" at amqp:\/\/eventbus-test:\*\*\*@.*ACCESS_REFUSED/);
    // Every later call tries once more and fails as fast.
    await expect(transport.publish([cloudEventMessage('x', 1)])).rejects.toThrow(/authentication failed for user "eventbus-test"/);
    await expect(transport.subscribe({ group: 'never', channels: ['x'], prefetch: 1 }, () => {})).rejects.toThrow(/authentication failed/);
    expect(logger.lines.filter((l) => l.includes('"level":"warn"'))).toEqual([expect.stringMatching(/authentication failed for user/)]);
    const everything = [
      error?.message,
      error?.stack,
      inspect(error, { depth: 10 }),
      inspect(transport, { depth: 10 }),
      JSON.stringify(transport),
      ...logger.lines,
    ].join('\n');
    expect(everything).not.toContain('not-the-s3cret');
    expect(inspect(transport)).toMatch(/RabbitMqTransport \{\s+url: 'amqp:\/\/eventbus-test:\*\*\*@/);
    await transport.close();
  });

  it('an unreachable broker: the error says the configured timeout, the option and the real cause', async () => {
    const logger = recordingLogger();
    const transport = new RabbitMqTransport({ url: 'amqp://u:pw-secret@127.0.0.1:1', connectTimeoutMs: 400, publishTimeoutMs: 600, logger });
    await expect(transport.connect()).rejects.toThrow(
      /^could not connect to RabbitMQ at amqp:\/\/u:\*\*\*@127\.0\.0\.1:1\/?\?heartbeat=10 within 400 ms \(connectTimeoutMs\): connect ECONNREFUSED 127\.0\.0\.1:1$/,
    );
    await expect(transport.publish([cloudEventMessage('x', 1)])).rejects.toThrow(/within 600 ms \(publishTimeoutMs\): connect ECONNREFUSED/);
    // One warning for the outage, not one per attempt.
    expect(logger.lines.filter((l) => l.includes('"level":"warn"'))).toHaveLength(1);
    expect(logger.lines.join('\n')).not.toContain('pw-secret');
    await transport.close();
  });

  it('a subscription shows no secret either', async () => {
    const transport = fixture.transport();
    const subscription = await transport.subscribe({ group: fixture.group('inspect'), channels: ['i'], prefetch: 1 }, (d) => d.ack());
    const shown = `${inspect(subscription, { depth: 10 })} ${JSON.stringify(subscription)}`;
    expect(shown).toMatch(/RabbitMqSubscription \{\s+group: /);
    expect(shown).not.toContain(new URL(url()).password || 'guest:guest');
  });
});
