import { GetQueueUrlCommand, SetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { OutgoingMessage } from '@org/eventbus';
import { createSpy } from '@org/eventbus/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { PublishBatchError } from '../src/errors.js';
import { type CountingProxy, countingProxy } from './counting-proxy.js';
import { sqsFixture } from './fixture.js';

// Counting calls needs an emulator to put the proxy in front of (real AWS is HTTPS).
const onAws = process.env.EVENTBUS_SQS_ENDPOINT === 'aws';
const fixture = sqsFixture('co');
const { unique, transport } = fixture;

const proxies: CountingProxy[] = [];
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});

async function proxy(): Promise<CountingProxy> {
  const p = await countingProxy(fixture.endpoint ?? '');
  proxies.push(p);
  return p;
}

const message = (channel: string, id: string, bytes = 16): OutgoingMessage => ({
  channel,
  id,
  headers: { 'content-type': 'text/plain' },
  body: new Uint8Array(bytes).fill(97),
});

/** A consumer of `channel` for `group`, collecting message ids. */
async function consume(channel: string, group: string, options: { fifo?: boolean } = {}) {
  const got = createSpy<string>();
  const sub = await transport(options).subscribe({ group, channels: [channel], prefetch: 10 }, async (d) => {
    got.fn(d.message.headers['x-id'] ?? '');
    await d.ack();
  });
  return { got, sub };
}

describe.skipIf(onAws)('SQS single publishes: one call alone, coalesced while a call is in flight', () => {
  it('sends a lone publish with SNS Publish, not a batch of one', async () => {
    const channel = unique('c');
    const { got, sub } = await consume(channel, unique('g'));
    const p = await proxy();
    const t = transport({ endpoint: p.endpoint });
    await t.publish([{ ...message(channel, 'one'), headers: { 'x-id': 'one' } }]);
    await expect(got.waitForCount(1)).resolves.toEqual(['one']);
    expect(p.count('Publish')).toBe(1);
    expect(p.count('PublishBatch')).toBe(0);
    await sub.close();
  });

  it('coalesces 40 concurrent single publishes into fewer calls, and every one arrives once', async () => {
    const channel = unique('c');
    const { got, sub } = await consume(channel, unique('g'));
    const p = await proxy();
    const t = transport({ endpoint: p.endpoint });
    await t.publish([{ ...message(channel, 'warm'), headers: { 'x-id': 'warm' } }]);
    await got.waitForCount(1);
    const before = p.calls.length;
    const ids = Array.from({ length: 40 }, (_, n) => `m${n}`);
    await Promise.all(ids.map((id) => t.publish([{ ...message(channel, id), headers: { 'x-id': id } }])));
    const calls = p.calls.slice(before);
    // The first goes alone (nothing was in flight); the rest wait for it and leave in batches of ≤ 10.
    expect(calls[0]).toBe('SNS.Publish');
    expect(calls.length).toBeLessThanOrEqual(1 + Math.ceil(39 / 10) + 1);
    expect(calls.filter((c) => c === 'SNS.PublishBatch').length).toBeGreaterThanOrEqual(4);
    const received = await got.waitForCount(41, { timeoutMs: 15_000 });
    expect(new Set(received).size).toBe(41);
    expect([...received].sort()).toEqual(['warm', ...ids].sort());
    await sub.close();
  });

  it('a refused entry in a coalesced batch rejects only its own caller', async () => {
    const channel = unique('c');
    const group = unique('g');
    const { got, sub } = await consume(channel, group);
    // The group's queue takes at most 1,024 bytes a message: SQS refuses a larger entry on its own.
    const plain = new SQSClient(fixture.plainConfig());
    const { QueueUrl } = await plain.send(new GetQueueUrlCommand({ QueueName: transport().resourceNames({ group }).queue }));
    await plain.send(new SetQueueAttributesCommand({ QueueUrl, Attributes: { MaximumMessageSize: '1024' } }));
    plain.destroy();
    const p = await proxy();
    const t = transport({ endpoint: p.endpoint, publishTo: 'queue', directGroups: { [channel]: [group] } });
    const send = (id: string, bytes?: number) => t.publish([{ ...message(channel, id, bytes), headers: { 'x-id': id } }]);
    // The first leaves alone at once; the next three wait for it and leave as one SendMessageBatch.
    const results = await Promise.allSettled([send('first'), send('small-1'), send('big', 2048), send('small-2')]);
    expect(p.calls.filter((c) => c.startsWith('SQS.Send'))).toEqual(['SQS.SendMessage', 'SQS.SendMessageBatch']);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    const refused = results[2]!.status === 'rejected' ? results[2]!.reason : undefined;
    expect(refused).toBeInstanceOf(PublishBatchError);
    expect(refused).toMatchObject({ total: 1, failures: [{ id: 'big', senderFault: true }] });
    const received = await got.waitForCount(3);
    expect([...received].sort()).toEqual(['first', 'small-1', 'small-2']);
    await sub.close();
  });

  it('a lone refused publish is rejected at once, without retries', async () => {
    const channel = unique('c');
    const group = unique('g');
    const { sub } = await consume(channel, group);
    const plain = new SQSClient(fixture.plainConfig());
    const { QueueUrl } = await plain.send(new GetQueueUrlCommand({ QueueName: transport().resourceNames({ group }).queue }));
    await plain.send(new SetQueueAttributesCommand({ QueueUrl, Attributes: { MaximumMessageSize: '1024' } }));
    plain.destroy();
    const p = await proxy();
    const t = transport({ endpoint: p.endpoint, publishTo: 'queue', directGroups: { [channel]: [group] } });
    await expect(t.publish([message(channel, 'big', 2048)])).rejects.toMatchObject({ failures: [{ id: 'big', senderFault: true }] });
    expect(p.count('SendMessage')).toBe(1);
    await sub.close();
  });

  it('keeps each key in publish order on FIFO while single publishes coalesce', async () => {
    const channel = unique('c');
    const { got, sub } = await consume(channel, unique('g'), { fifo: true });
    const p = await proxy();
    const t = transport({ endpoint: p.endpoint, fifo: true });
    const ids = Array.from({ length: 30 }, (_, n) => `k${n % 3}-${String(n).padStart(2, '0')}`);
    // Issued in order without waiting: the order of arrival is the order per key.
    await Promise.all(ids.map((id) => t.publish([{ ...message(channel, id), key: id.slice(0, 2), headers: { 'x-id': id } }])));
    expect(p.count('PublishBatch')).toBeGreaterThan(0);
    const received = await got.waitForCount(30, { timeoutMs: 15_000 });
    for (const key of ['k0', 'k1', 'k2']) {
      const ofKey = received.filter((id) => id.startsWith(key));
      expect(ofKey).toEqual(ids.filter((id) => id.startsWith(key)));
    }
    await sub.close();
  });
});
