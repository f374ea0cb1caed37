import { GetQueueUrlCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { createTransport, defineEvent, EventbusHeaders, MessageTooLargeError, type ReceivedMessage } from '@org/eventbus';
import { createSpy } from '@org/eventbus/testing';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { redriveCommand, SqsTransport } from '../src/index.js';
import { sqsFixture } from './fixture.js';

const fixture = sqsFixture('t');
const { unique, transport, bus } = fixture;

function contract(label: string) {
  return defineEvent({ type: `sqs.test.${unique(label)}`, description: 'a test event', schema: z.object({ n: z.number() }) });
}

describe('SqsTransport on an SQS/SNS endpoint', () => {
  it('fans out through SNS: two groups each get every event, intact', async () => {
    const event = contract('fanout');
    const a = createSpy<number>();
    const b = createSpy<number>();
    const consumer = bus();
    consumer.handle(event, { group: unique('a') }, (e) => a.fn(e.data.n));
    consumer.handle(event, { group: unique('b') }, (e) => b.fn(e.data.n));
    await consumer.start();
    const publisher = bus();
    await publisher.publishBatch(Array.from({ length: 25 }, (_, n) => ({ contract: event, data: { n } })));
    await a.waitForCount(25);
    await b.waitForCount(25);
    expect([...a.calls].sort((x, y) => x - y)).toEqual(Array.from({ length: 25 }, (_, n) => n));
    expect(new Set(b.calls).size).toBe(25);
  });
});

/** A plain AWS SDK client on the same endpoint, as another team's service would use. */
function plainClient(): SQSClient {
  return new SQSClient(fixture.plainConfig());
}

describe('SqsTransport settling', () => {
  it('dead-letters with the reason, reads the DLQ with deadLetters: true, and redrives it back', async () => {
    const event = contract('dlq');
    const group = unique('g');
    const attempts = createSpy<number>();
    let fail = true;
    const consumer = bus();
    consumer.handle(event, { group, maxAttempts: 2 }, (_e, ctx) => {
      attempts.fn(ctx.attempt);
      if (fail) throw new Error('downstream said no');
    });
    await consumer.start();
    const publisher = bus();
    const sent = await publisher.publish(event, { n: 5 }, { key: 'k-1' });
    await attempts.waitForCount(2);
    expect(attempts.calls).toEqual([1, 2]);

    const reader = transport();
    const letters = createSpy<ReceivedMessage>();
    const sub = await reader.subscribe({ group, channels: [event.channel], prefetch: 5, deadLetters: true }, async (d) => {
      letters.fn(d.message);
      await d.nack();
    });
    const [letter] = await letters.waitForCount(1);
    await sub.close();
    expect(letter!.headers[EventbusHeaders.deadLetterReason]).toMatch(/failed after 2 attempt\(s\): downstream said no/);
    expect(letter!.headers[EventbusHeaders.deadLetterAttempts]).toBe('2');
    expect(letter!.headers[EventbusHeaders.deadLetterChannel]).toBe(event.channel);
    expect(letter!.key).toBe('k-1');
    expect(JSON.parse(new TextDecoder().decode(letter!.body))).toMatchObject({ id: sent.id, data: { n: 5 } });

    fail = false;
    expect(await reader.redrive(group)).toBe(1);
    await attempts.waitForCount(3, { timeoutMs: 15_000 });
    expect(attempts.calls[2]).toBe(1);
    expect(await reader.redrive(group)).toBe(0);
  });

  it('redrives from the command line (eventbus sqs redrive --group …)', async () => {
    const t = transport();
    const channel = unique('c');
    const group = unique('g');
    const seen = createSpy<number>();
    const sub = await t.subscribe({ group, channels: [channel], prefetch: 1 }, async (d) => {
      seen.fn(d.attempt);
      if (seen.count === 1) await d.deadLetter('not now');
      else await d.ack();
    });
    await t.publish([{ channel, id: '1', headers: {}, body: new TextEncoder().encode('again') }]);
    await seen.waitForCount(1);
    const lines: string[] = [];
    const io = { env: {}, out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) };
    const url = fixture.url();
    expect(await redriveCommand.run(['--url', url], io)).toBe(2);
    // The CLI's transport has the default visibility timeout: the queue exists with 3 s and is used as it is.
    expect(await redriveCommand.run(['--group', group, '--url', url], io)).toBe(0);
    expect(lines.at(-1)).toBe(`moved 1 dead letter(s) of group "${group}" back to its queue`);
    await seen.waitForCount(2);
    await sub.close();
    expect(seen.calls).toEqual([1, 1]);
  });

  it('dead-letters poison sent by a plain AWS SDK client and keeps consuming', async () => {
    const event = contract('poison');
    const group = unique('g');
    const handled = createSpy<number>();
    const consumer = bus();
    consumer.handle(event, { group }, (e) => handled.fn(e.data.n));
    await consumer.start();
    const client = plainClient();
    const name = (consumer.transport as SqsTransport).resourceNames({ group }).queue!;
    const { QueueUrl } = await client.send(new GetQueueUrlCommand({ QueueName: name }));
    await client.send(new SendMessageCommand({ QueueUrl, MessageBody: 'not json at all' }));
    await client.send(
      new SendMessageCommand({
        QueueUrl,
        MessageBody: JSON.stringify({ specversion: '1.0', id: 'x1', source: '/plain', type: event.type, data: { n: 'nope' } }),
        MessageAttributes: { 'content-type': { DataType: 'String', StringValue: 'application/cloudevents+json' } },
      }),
    );
    client.destroy();
    await bus().publish(event, { n: 9 });
    await handled.waitFor((c) => c.includes(9));

    const letters = createSpy<string>();
    const sub = await transport().subscribe({ group, channels: [event.channel], prefetch: 5, deadLetters: true }, async (d) => {
      letters.fn(d.message.headers[EventbusHeaders.deadLetterReason] ?? '');
      await d.ack();
    });
    const reasons = await letters.waitForCount(2);
    await sub.close();
    expect(reasons.some((r) => r.startsWith('malformed'))).toBe(true);
    expect(reasons.some((r) => r.startsWith('schema-mismatch'))).toBe(true);
    expect(handled.calls).toEqual([9]);
  });

  it('holds a nacked message back for its delay and counts attempts from ApproximateReceiveCount', async () => {
    const t = transport();
    const channel = unique('c');
    const seen = createSpy<{ attempt: number; at: number }>();
    const sub = await t.subscribe({ group: unique('g'), channels: [channel], prefetch: 1 }, async (d) => {
      seen.fn({ attempt: d.attempt, at: Date.now() });
      if (d.attempt === 1) await d.nack({ delayMs: 1200 });
      else await d.ack();
    });
    await t.publish([{ channel, id: 'm1', headers: { 'content-type': 'application/cloudevents+json' }, body: new TextEncoder().encode('{}') }]);
    const [first, second] = await seen.waitForCount(2);
    await sub.close();
    expect(second!.attempt).toBe(2);
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(1200);
  });

  it('chains a delay longer than one visibility change through a re-sent copy', async () => {
    const t = transport({ maxVisibilityDelaySeconds: 1 });
    const channel = unique('c');
    const seen = createSpy<{ attempt: number; at: number; headers: Record<string, string> }>();
    const sub = await t.subscribe({ group: unique('g'), channels: [channel], prefetch: 1 }, async (d) => {
      seen.fn({ attempt: d.attempt, at: Date.now(), headers: d.message.headers });
      if (d.attempt === 1) await d.nack({ delayMs: 2500 });
      else await d.ack();
    });
    await t.publish([{ channel, id: 'm1', headers: { 'content-type': 'application/cloudevents+json' }, body: new TextEncoder().encode('{}') }]);
    const [first, second] = await seen.waitForCount(2);
    await sub.close();
    expect(second!.attempt).toBe(2);
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(2500);
    expect(second!.headers[EventbusHeaders.attempt]).toBe('2');
    expect(Number(second!.headers[EventbusHeaders.notBefore])).toBeGreaterThan(first!.at);
  });

  it('keeps extending visibility while a long handler runs (no second delivery)', async () => {
    const t = transport({ visibilityTimeoutSeconds: 1 });
    const channel = unique('c');
    const seen = createSpy<number>();
    const done = createSpy<void>();
    const sub = await t.subscribe({ group: unique('g'), channels: [channel], prefetch: 2 }, async (d) => {
      seen.fn(d.attempt);
      await new Promise((r) => setTimeout(r, 3500));
      await d.ack();
      done.fn();
    });
    await t.publish([{ channel, id: 'slow', headers: {}, body: new TextEncoder().encode('slow') }]);
    await done.waitForCount(1);
    await seen.expectNone(() => true, 1500);
    await sub.close();
    expect(seen.calls).toEqual([1]);
  });

  it('ends its long polls at once on close', async () => {
    const t = transport({ waitTimeSeconds: 20 });
    const sub = await t.subscribe({ group: unique('g'), channels: [unique('c')], prefetch: 10 }, (d) => d.ack());
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    await sub.close();
    await t.close();
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

describe('SqsTransport limits and options', () => {
  it('is what createTransport builds for an sqs:// URL', async () => {
    const url = fixture.url('&waitTime=2');
    const t = await createTransport(url);
    expect(t).toBeInstanceOf(SqsTransport);
    fixture.track(t);
    const channel = unique('c');
    const got = createSpy<string>();
    await t.subscribe({ group: unique('g'), channels: [channel], prefetch: 1 }, async (d) => {
      got.fn(new TextDecoder().decode(d.message.body));
      await d.ack();
    });
    await t.publish([{ channel, id: '1', headers: {}, body: new TextEncoder().encode('via url') }]);
    await expect(got.waitForCount(1)).resolves.toEqual(['via url']);
  });

  it('round-trips odd headers and a binary body', async () => {
    const t = transport();
    const channel = unique('c');
    const got = createSpy<ReceivedMessage>();
    const sub = await t.subscribe({ group: unique('g'), channels: [channel], prefetch: 5 }, async (d) => {
      got.fn(d.message);
      await d.ack();
    });
    const many = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`h-${i}`, `v${i}`]));
    const odd = { 'ünï-cödé ✓': '🚀 value', empty: '', 'AWS.reserved': 'x', ...many };
    const binary = new Uint8Array([0, 255, 1, 254, 0xc3]);
    await t.publish([
      { channel, id: 'a', headers: odd, body: new TextEncoder().encode('text body') },
      { channel, id: 'b', key: 'key-1', headers: { simple: 'yes' }, body: binary },
    ]);
    const messages = await got.waitForCount(2);
    await sub.close();
    const a = messages.find((m) => m.headers['ünï-cödé ✓'] !== undefined)!;
    expect(a.headers).toEqual(odd);
    expect(a.channel).toBe(channel);
    const b = messages.find((m) => m.headers.simple === 'yes')!;
    expect([...b.body]).toEqual([...binary]);
    expect(b.key).toBe('key-1');
  });

  it('refuses a message beyond 256 KiB with MessageTooLargeError and carries one at the limit', async () => {
    const t = transport();
    const channel = unique('c');
    const got = createSpy<number>();
    const sub = await t.subscribe({ group: unique('g'), channels: [channel], prefetch: 1 }, async (d) => {
      got.fn(d.message.body.byteLength);
      await d.ack();
    });
    const limit = t.capabilities.maxMessageBytes;
    const headers = { 'content-type': 'application/cloudevents+json' };
    const fits = limit - 'content-type'.length - headers['content-type'].length;
    await t.publish([{ channel, id: 'max', headers, body: new Uint8Array(fits).fill(120) }]);
    await expect(t.publish([{ channel, id: 'over', headers, body: new Uint8Array(fits + 1).fill(120) }])).rejects.toBeInstanceOf(
      MessageTooLargeError,
    );
    await expect(got.waitForCount(1)).resolves.toEqual([fits]);
    await sub.close();
  });

  it('with manage: false, names the missing queue or topic in a clear error', async () => {
    const t = transport({ manage: false });
    await expect(t.subscribe({ group: unique('missing'), channels: ['x'], prefetch: 1 }, (d) => d.ack())).rejects.toThrow(
      /SQS queue "eventbus-test-t-.*-missing-\d+-dlq" does not exist \(manage: false/,
    );
    await expect(t.provision([{ group: unique('missing'), channels: ['x'] }])).rejects.toThrow(/SQS queue ".*-missing-\d+-dlq" does not exist/);
    await expect(t.publish([{ channel: unique('nope'), id: '1', headers: {}, body: new Uint8Array([1]) }])).rejects.toThrow(
      /SNS topic "eventbus-test-t-.*-nope-\d+" for channel .* does not exist/,
    );
  });

  it('filters a shared channel by event type when the subscription names its types', async () => {
    const channel = unique('shared');
    const t = transport();
    const got = createSpy<string>();
    const sub = await t.subscribe({ group: unique('g'), channels: [channel], prefetch: 5, types: ['wanted.type'] }, async (d) => {
      got.fn(JSON.parse(new TextDecoder().decode(d.message.body)).type);
      await d.ack();
    });
    const event = (type: string, id: string) => ({
      channel,
      id,
      headers: { 'content-type': 'application/cloudevents+json' },
      body: new TextEncoder().encode(JSON.stringify({ specversion: '1.0', id, source: '/t', type, data: {} })),
    });
    await t.publish([event('other.type', 'o1'), event('wanted.type', 'w1'), event('other.type', 'o2')]);
    await got.waitForCount(1);
    await got.expectNone(() => true, 1000);
    await sub.close();
    expect(got.calls).toEqual(['wanted.type']);
  });

  it('publishes straight to group queues with publishTo: "queue"', async () => {
    const channel = unique('c');
    const group = unique('g');
    const consumer = transport();
    const got = createSpy<string>();
    const sub = await consumer.subscribe({ group, channels: [], prefetch: 5 }, async (d) => {
      got.fn(d.message.channel);
      await d.ack();
    });
    const direct = transport({ publishTo: 'queue', directGroups: { [channel]: [group] } });
    await direct.publish([{ channel, id: '1', headers: {}, body: new TextEncoder().encode('direct') }]);
    await expect(got.waitForCount(1)).resolves.toEqual([channel]);
    await sub.close();
  });

  it('keeps order per key on FIFO topics and queues', async () => {
    const event = contract('fifo');
    const order = createSpy<string>();
    const consumer = bus({ fifo: true });
    consumer.handle(event, { group: unique('g'), concurrency: 10 }, async (e) => {
      await new Promise((r) => setTimeout(r, 5));
      order.fn(`${e.partitionkey}:${e.data.n}`);
    });
    await consumer.start();
    const publisher = bus({ fifo: true });
    await publisher.publishBatch(
      Array.from({ length: 30 }, (_, n) => ({ contract: event, data: { n }, options: { key: `k${n % 3}` } })),
    );
    const calls = await order.waitForCount(30, { timeoutMs: 20_000 });
    for (const key of ['k0', 'k1', 'k2']) {
      const ns = calls.filter((c) => c.startsWith(`${key}:`)).map((c) => Number(c.split(':')[1]));
      expect(ns).toEqual([...ns].sort((x, y) => x - y));
      expect(ns).toHaveLength(10);
    }
  });
});
