import { ConfigError, createTransport, type Delivery, EventbusHeaders, MessageTooLargeError, TransportError } from '@org/eventbus';
import { createSpy, describeBroker, startTcpProxy } from '@org/eventbus/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { adapter, fromUrl, NatsTransport, schemes } from '../src/index.js';
import { optionsFromUrl, streamNameFor } from '../src/options.js';
import { groupDurable } from '../src/wire.js';
import { cloudEventMessage, Fixture, json, URL_VARIABLE } from './helpers.js';

describe('NatsTransport options', () => {
  it('rejects bad options at construction, naming the option', () => {
    expect(() => new NatsTransport({ servers: [] })).toThrow(/`servers`/);
    expect(() => new NatsTransport({ servers: 'nats://x', prefix: 'a.*' })).toThrow(/`prefix`/);
    expect(() => new NatsTransport({ servers: 'nats://x', ackWaitMs: 10 })).toThrow(/`ackWaitMs`/);
    expect(() => new NatsTransport({ servers: 'nats://x', maxDeliver: 3, backoffMs: [1000, 2000, 3000] })).toThrow(/`backoffMs`/);
    expect(() => new NatsTransport({ servers: 'nats://x', prefix: 'p', deadLetterPrefix: 'p.dl' })).toThrow(/`deadLetterPrefix`/);
    expect(() => fromUrl('http://localhost')).toThrow(ConfigError);
  });

  it('is found as the adapter its package.json names: nats, for nats:// and tls:// URLs', async () => {
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { eventbus?: unknown };
    expect(manifest.eventbus).toEqual({ name: adapter.name, schemes: [...schemes] });
    expect(adapter).toMatchObject({ name: 'nats', schemes: ['nats', 'tls'], fromUrl });
    const transport = adapter.fromUrl('tls://127.0.0.1:4222?prefix=orders');
    expect(transport).toBeInstanceOf(NatsTransport);
    await transport.close();
  });

  it('reads eventbus options from the URL query, which wins over options given in code', async () => {
    const transport = fromUrl('nats://user:pw@127.0.0.1:4222,127.0.0.2:4222?prefix=orders&ackWaitMs=3000', { prefix: 'code' });
    expect(transport).toBeInstanceOf(NatsTransport);
    const options = optionsFromUrl('nats://127.0.0.1:4222,127.0.0.2:4222?prefix=orders&ackWaitMs=3000', { prefix: 'code', maxDeliver: 4 });
    expect(options).toMatchObject({ servers: ['nats://127.0.0.1:4222', 'nats://127.0.0.2:4222'], prefix: 'orders', ackWaitMs: 3000, maxDeliver: 4 });
    expect(() => optionsFromUrl('nats://127.0.0.1:4222?prefx=orders')).toThrow(/unknown parameter\(s\) "prefx"/);
    expect(() => optionsFromUrl('nats://127.0.0.1:4222?ackWaitMs=soon')).toThrow(/`ackWaitMs`/);
    await transport.close();
  });

  it('never shows the password of the URL in an error', async () => {
    const transport = fromUrl('nats://user:s3cret-pw@127.0.0.1:1');
    const error = await transport.connect().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(TransportError);
    expect(`${error?.message} ${error?.stack}`).not.toContain('s3cret-pw');
    await transport.close();
  });

  it('declares the CloudEvents NATS binding (structured by default, ce- headers read) and is picked by scheme', async () => {
    const transport = await createTransport('nats://127.0.0.1:4222');
    expect(transport).toBeInstanceOf(NatsTransport);
    expect(transport.capabilities.encoding).toEqual({ mode: 'structured', attributePrefix: 'ce-' });
    expect(transport.capabilities.orderingPerKey).toBe(false);
    await transport.close();
  });
});

describeBroker('NatsTransport', { variable: URL_VARIABLE }, (url) => {
  const fixture = new Fixture(url);
  afterAll(() => fixture.cleanup());

  it('delivers to every group with headers, key and delivery-count attempts intact', async () => {
    const transport = fixture.transport();
    const [a, b] = [fixture.name('a'), fixture.name('b')];
    const spyA = createSpy<Delivery>();
    const spyB = createSpy<Delivery>();
    await transport.subscribe({ group: a, channels: ['orders.created'], prefetch: 5 }, async (d) => {
      spyA.fn(d);
      if (d.attempt === 1 && d.message.headers['ce-id'] === messages[0]!.id) await d.nack();
      else await d.ack();
    });
    await transport.subscribe({ group: b, channels: ['orders.created'], prefetch: 5 }, async (d) => {
      spyB.fn(d);
      await d.ack();
    });
    const messages = Array.from({ length: 10 }, (_, i) => ({ ...cloudEventMessage('orders.created', { i }), key: `k${i % 3}` }));
    messages[0]!.headers['x-unicode'] = 'välue ✓ 日本';
    messages[0]!.headers['x-empty'] = '';
    await transport.publish(messages);
    await spyA.waitForCount(11);
    await spyB.waitForCount(10);
    const first = spyB.calls.find((d) => d.message.headers['ce-id'] === messages[0]!.id)!;
    expect(first.message).toMatchObject({ channel: 'orders.created', key: 'k0' });
    expect(first.message.headers).toMatchObject({ 'x-unicode': 'välue ✓ 日本', 'x-empty': '', 'ce-datacontenttype': 'application/json' });
    expect(Object.keys(first.message.headers).some((k) => k.toLowerCase().startsWith('nats-'))).toBe(false);
    expect(json(first.message.body)).toEqual({ i: 0 });
    const retried = spyA.calls.filter((d) => d.message.headers['ce-id'] === messages[0]!.id).map((d) => d.attempt);
    expect(retried).toEqual([1, 2]);
  });

  it('sends progress while a handler runs past ack_wait, so it is not redelivered mid-flight', async () => {
    const transport = fixture.transport({ ackWaitMs: 1000, backoffMs: [] });
    const started = createSpy<number>();
    const finished = createSpy<number>();
    await transport.subscribe({ group: fixture.name('slow'), channels: ['slow'], prefetch: 1 }, async (d) => {
      started.fn(d.attempt);
      // Simulated long work (three ack_waits), not a test wait.
      await new Promise((r) => setTimeout(r, 3000));
      await d.ack();
      finished.fn(d.attempt);
    });
    await transport.publish([cloudEventMessage('slow', 'launch')]);
    await finished.waitForCount(1, { timeoutMs: 10_000 });
    await started.expectNone(() => true, 2000);
    expect(started.calls).toEqual([1]);
  });

  it('dead-letters with reason headers, readable by the group, and nacks past max_deliver dead-letter too', async () => {
    const transport = fixture.transport({ maxDeliver: 2, backoffMs: [] });
    const group = fixture.name('dl');
    await transport.subscribe({ group, channels: ['dl'], prefetch: 2 }, async (d) => {
      if (json(d.message.body) === 'now') await d.deadLetter('bad input');
      else await d.nack({ delayMs: 10 });
    });
    const dead = createSpy<Delivery>();
    await transport.subscribe({ group, channels: [], prefetch: 5, deadLetters: true }, async (d) => {
      dead.fn(d);
      await d.ack();
    });
    const now = cloudEventMessage('dl', 'now');
    const exhausted = cloudEventMessage('dl', 'later');
    await transport.publish([now, exhausted]);
    const calls = await dead.waitForCount(2);
    const byId = new Map(calls.map((d) => [d.message.headers['ce-id'], d]));
    expect(byId.get(now.id)!.message.headers).toMatchObject({
      [EventbusHeaders.deadLetterReason]: 'bad input',
      [EventbusHeaders.deadLetterGroup]: group,
      [EventbusHeaders.deadLetterChannel]: 'dl',
      [EventbusHeaders.deadLetterAttempts]: '1',
      'ce-type': 'test.event',
    });
    expect(byId.get(now.id)!.message.channel).toBe('dl');
    expect(json(byId.get(now.id)!.message.body)).toBe('now');
    expect(byId.get(exhausted.id)!.message.headers[EventbusHeaders.deadLetterReason]).toMatch(/maxDeliver/);
  });

  it('refuses an oversized message and a header NATS cannot carry, sending nothing', async () => {
    const transport = fixture.transport({ maxMessageBytes: 1000 });
    const big = cloudEventMessage('big', 'x'.repeat(2000));
    await expect(transport.publish([cloudEventMessage('big', 1), big])).rejects.toBeInstanceOf(MessageTooLargeError);
    const broken = cloudEventMessage('big', 1);
    broken.headers['x bad'] = 'a header name with a space';
    await expect(transport.publish([broken])).rejects.toThrow(/x bad/);
    await expect(transport.publish([cloudEventMessage('no good', 1)])).rejects.toThrow(/`channel`/);
  });

  it('a publish during an outage waits for the connection, and rejects once its bound has passed', async () => {
    const target = new URL(url());
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 4222) });
    try {
      const transport = fixture.transport({ servers: `nats://${proxy.host}:${proxy.port}`, publishTimeoutMs: 1500 });
      await transport.connect();
      const received = createSpy<string>();
      await transport.subscribe({ group: fixture.name('outage'), channels: ['outage'], prefetch: 5 }, async (d) => {
        received.fn(d.message.headers['ce-id']!);
        await d.ack();
      });
      proxy.refuse(true);
      proxy.cut();
      const started = Date.now();
      await expect(transport.publish([cloudEventMessage('outage', 'lost')])).rejects.toBeInstanceOf(TransportError);
      expect(Date.now() - started).toBeLessThan(5000);
      const during = cloudEventMessage('outage', 'kept');
      const pending = transport.publish([during]);
      setTimeout(() => proxy.refuse(false), 300);
      await pending;
      await received.waitFor((ids) => ids.includes(during.id), { timeoutMs: 10_000, description: 'the event published during the outage' });
    } finally {
      await proxy.close();
    }
  });

  it('close() stops pulling at once and waits for deliveries in flight to be settled', async () => {
    const transport = fixture.transport();
    const group = fixture.name('close');
    const taken = createSpy<Delivery>();
    const subscription = await transport.subscribe({ group, channels: ['close'], prefetch: 2 }, (d) => taken.fn(d));
    await transport.publish(Array.from({ length: 5 }, (_, i) => cloudEventMessage('close', i)));
    await taken.waitForCount(2);
    let closed = false;
    const closing = subscription.close().then(() => {
      closed = true;
    });
    await taken.expectNone(() => true, 300);
    expect(closed).toBe(false);
    await Promise.all(taken.calls.map((d) => d.ack()));
    await closing;
    // The other three are still there for the next member of the group.
    const rest = createSpy<Delivery>();
    await fixture.transport().subscribe({ group, channels: ['close'], prefetch: 5 }, async (d) => {
      rest.fn(d);
      await d.ack();
    });
    await rest.waitForCount(3);
  });

  it('one subscription over several channels shares its prefetch across them', async () => {
    const transport = fixture.transport();
    const group = fixture.name('multi');
    let inFlight = 0;
    let most = 0;
    const seen = createSpy<string>();
    await transport.subscribe({ group, channels: ['multi.a', 'multi.b', 'multi.c'], prefetch: 4 }, async (d) => {
      most = Math.max(most, ++inFlight);
      // Keep a few deliveries overlapping, so an unbounded pull would show.
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
      seen.fn(d.message.channel);
      await d.ack();
    });
    await transport.publish(['multi.a', 'multi.b', 'multi.c'].flatMap((c) => Array.from({ length: 20 }, (_, i) => cloudEventMessage(c, i))));
    const channels = await seen.waitForCount(60);
    expect(new Set(channels)).toEqual(new Set(['multi.a', 'multi.b', 'multi.c']));
    expect(most).toBeLessThanOrEqual(4);
    expect(most).toBeGreaterThan(1);
  });

  it('recreates a group consumer that was deleted under it, and keeps consuming', async () => {
    const transport = fixture.transport();
    const group = fixture.name('gone');
    const seen = createSpy<string>();
    const errors = createSpy<Error>();
    await transport.subscribe({ group, channels: ['gone'], prefetch: 5, onError: errors.fn }, async (d) => {
      seen.fn(d.message.headers['ce-id']!);
      await d.ack();
    });
    const nc = await connect({ servers: url().replace(/^nats:\/\//, '') });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.consumers.delete(streamNameFor(fixture.prefix), groupDurable(group, 'gone'));
      await errors.waitForCount(1, { description: 'the pull to fail on the deleted consumer' });
      const after = cloudEventMessage('gone', 'after');
      await transport.publish([after]);
      await seen.waitFor((ids) => ids.includes(after.id), { timeoutMs: 15_000, description: 'the event after the deletion' });
      expect((await jsm.consumers.info(streamNameFor(fixture.prefix), groupDurable(group, 'gone'))).config.durable_name).toBe(
        groupDurable(group, 'gone'),
      );
    } finally {
      await nc.close();
    }
  });

  it('converges on the stream settings when many processes connect at once', async () => {
    const transports = [fixture.transport(), fixture.transport(), fixture.transport({ duplicateWindowMs: 60_000 })];
    await Promise.all(transports.map((t) => t.connect()));
    await Promise.all(transports.map((t) => t.close()));
    await transports[0]!.close();
  });
});
