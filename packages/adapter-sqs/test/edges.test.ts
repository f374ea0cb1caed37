import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { CreateTopicCommand, SNSClient, SubscribeCommand, UnsubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { createEventBus, defineEvent, type Logger, UnroutableError } from '@org/eventbus';
import { createSpy } from '@org/eventbus/testing';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { SubscriberCheck } from '../src/subscriber-check.js';
import { deadLetterName } from '../src/topology.js';
import { breakDeadLetters } from './break-settle.js';
import { type RestartableEmulator, restartableEmulator } from './emulator.js';
import { sqsFixture } from './fixture.js';

const fixture = sqsFixture('e');
const { unique, transport, plainConfig } = fixture;
const body = (text: string) => new TextEncoder().encode(text);

/** A logger that records every line, as the caller's logger would receive it. */
function recordingLogger() {
  const lines = createSpy<{ level: string; line: string }>();
  const at =
    (level: string) =>
    (obj: object, msg?: string): void =>
      lines.fn({ level, line: `${msg ?? ''} ${inspect(obj, { depth: 5 })}` });
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  return { logger, lines };
}

describe('no group bound (unroutedPublish: rejected)', () => {
  it('rejects a publish to a channel no queue subscribes to, naming the channel', async () => {
    const t = transport();
    expect(t.capabilities.unroutedPublish).toBe('rejected');
    const channel = unique('nobody');
    const refused = await t.publish([{ channel, id: '1', headers: {}, body: body('lost?') }]).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(UnroutableError);
    expect((refused as UnroutableError).channel).toBe(channel);
    expect((refused as Error).message).toContain(`"${channel}"`);

    // Through the bus as well: the caller learns at publish time, nothing resolves silently.
    const event = defineEvent({ type: `sqs.edge.${unique('t')}`, description: 'an edge', schema: z.object({ n: z.number() }) });
    const bus = createEventBus({ transport: transport(), source: '/edges' });
    await expect(bus.publish(event, { n: 1 })).rejects.toBeInstanceOf(UnroutableError);
    await bus.stop();
  });

  it('provision() declares queue, dead-letter queue and subscription without consuming; what is published waits for the first worker', async () => {
    const channel = unique('c');
    const group = unique('g');
    const admin = transport();
    await admin.provision([{ group, channels: [channel] }]);
    await admin.provision([{ group, channels: [channel] }]);
    // A second process provisioning the same groups finds everything in place (idempotent on the broker too).
    await transport().provision([{ group, channels: [channel] }]);

    const names = admin.resourceNames({ group });
    const client = new SQSClient(plainConfig());
    const { QueueUrl } = await client.send(new GetQueueUrlCommand({ QueueName: names.queue! }));
    const { Attributes } = await client.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }));
    expect(JSON.parse(Attributes?.RedrivePolicy ?? '{}').deadLetterTargetArn).toMatch(new RegExp(`${names.queue}-dlq$`));
    expect(Number(Attributes?.ApproximateNumberOfMessages)).toBe(0);
    client.destroy();

    // A publisher that never subscribed anything asks SNS whether the topic has a subscriber.
    await transport().publish([1, 2, 3].map((n) => ({ channel, id: `m${n}`, headers: {}, body: body(`early ${n}`) })));
    const got = createSpy<string>();
    const sub = await transport().subscribe({ group, channels: [channel], prefetch: 10 }, async (d) => {
      got.fn(new TextDecoder().decode(d.message.body));
      await d.ack();
    });
    const calls = await got.waitForCount(3);
    // Provisioned three times, subscribed once more: still one subscription, so no copies.
    await got.expectNone(() => true, 1000);
    await sub.close();
    expect(calls.sort()).toEqual(['early 1', 'early 2', 'early 3']);
  });

  it('provision() with types gives a shared channel the type filter subscribe would', async () => {
    const channel = unique('shared');
    const group = unique('g');
    await transport().provision([{ group, channels: [channel], types: ['wanted.type'] }]);
    const event = (type: string, id: string) => ({
      channel,
      id,
      headers: { 'content-type': 'application/cloudevents+json' },
      body: body(JSON.stringify({ specversion: '1.0', id, source: '/t', type, data: {} })),
    });
    await transport().publish([event('other.type', 'o1'), event('wanted.type', 'w1')]);
    const got = createSpy<string>();
    const sub = await transport().subscribe({ group, channels: [channel], prefetch: 5, types: ['wanted.type'] }, async (d) => {
      got.fn(JSON.parse(new TextDecoder().decode(d.message.body)).type);
      await d.ack();
    });
    await got.waitForCount(1);
    await got.expectNone(() => true, 1000);
    await sub.close();
    expect(got.calls).toEqual(['wanted.type']);
  });

  it('trusts a topic seen subscribed for the TTL, and asks again after it', async () => {
    const sns = new SNSClient(plainConfig());
    const client = new SQSClient(plainConfig());
    try {
      const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: unique('ttl') }));
      const { QueueUrl } = await client.send(new CreateQueueCommand({ QueueName: unique('ttl-q') }));
      const { Attributes } = await client.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
      const check = new SubscriberCheck(sns, 300);
      expect(await check.has(TopicArn!)).toBe(false);
      const { SubscriptionArn } = await sns.send(
        new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: Attributes!.QueueArn!, ReturnSubscriptionArn: true }),
      );
      expect(await check.has(TopicArn!)).toBe(true);
      await sns.send(new UnsubscribeCommand({ SubscriptionArn }));
      expect(await check.has(TopicArn!)).toBe(true);
      await new Promise((r) => setTimeout(r, 350));
      expect(await check.has(TopicArn!)).toBe(false);
    } finally {
      sns.destroy();
      client.destroy();
    }
  });
});

describe('a settle the broker refuses', () => {
  it('a dead-letter refused (its queue deleted) is reported and redelivered, and reaches the queue once it is back', async () => {
    const t = transport();
    const channel = unique('c');
    const group = unique('g');
    const errors = createSpy<Error>();
    const attempts = createSpy<number>();
    const sub = await t.subscribe({ group, channels: [channel], prefetch: 1, onError: errors.fn }, async (d) => {
      attempts.fn(d.attempt);
      await d.deadLetter('cannot handle this');
    });
    const repair = await breakDeadLetters(new SQSClient(plainConfig()), deadLetterName(t.resourceNames({ group }).queue!));
    await t.publish([{ channel, id: 'x', headers: {}, body: body('to the dead letters') }]);
    const [failure] = await errors.waitForCount(1);
    expect(failure!.message).toMatch(/could not dead-letter a delivery of ".*" \(attempt 1\): sending a message to SQS queue ".*-dlq" failed \(AWS.SimpleQueueService.NonExistentQueue\).*; redelivering it/);
    // Handed back at once (visibility 0), not held for the visibility timeout, and not lost.
    await attempts.waitForCount(2, { timeoutMs: 5000 });
    await repair();
    const letters = createSpy<string>();
    const reader = await transport().subscribe({ group, channels: [channel], prefetch: 5, deadLetters: true }, async (d) => {
      letters.fn(new TextDecoder().decode(d.message.body));
      await d.ack();
    });
    await expect(letters.waitForCount(1, { timeoutMs: 15_000 })).resolves.toEqual(['to the dead letters']);
    await sub.close();
    await reader.close();
    // Settled exactly once per delivery: one failure report per refused dead-letter, no more.
    expect(errors.count).toBe(attempts.count - 1);
  });
});

describe('secrets, warnings and authentication', () => {
  const SECRET = 'wJalrXUtnFEMI-K7MDENG-bPxRfiCYzEXAMPLEKEY';
  const KEY_ID = 'AKIAIOSFODNN7EXAMPLE';

  it('shows no secret key in inspect or JSON of the transport, its options or a subscription', async () => {
    const t = transport({ credentials: { accessKeyId: KEY_ID, secretAccessKey: SECRET, sessionToken: `${SECRET}-token` } });
    await t.connect();
    const sub = await t.subscribe({ group: unique('g'), channels: [unique('c')], prefetch: 1 }, (d) => d.ack());
    const outputs = [inspect(t, { depth: 10 }), JSON.stringify(t), inspect(t.options, { depth: 10 }), JSON.stringify(t.options), inspect(sub, { depth: 10 })];
    for (const output of outputs) expect(output).not.toContain(SECRET);
    expect(inspect(t)).toContain('eventbus-test-');
    await sub.close();
  });

  it('warns once when receiving fails, says when it works again, and loses nothing', async () => {
    const emulator: RestartableEmulator = await restartableEmulator();
    try {
      const { logger, lines } = recordingLogger();
      const t = transport({ endpoint: emulator.endpoint, logger, credentials: { accessKeyId: KEY_ID, secretAccessKey: SECRET } });
      const channel = unique('c');
      const got = createSpy<string>();
      const sub = await t.subscribe({ group: unique('g'), channels: [channel], prefetch: 5 }, async (d) => {
        got.fn(new TextDecoder().decode(d.message.body));
        await d.ack();
      });
      await emulator.pause();
      const [warning] = await lines.waitFor((l) => l.some((x) => x.level === 'warn'), { timeoutMs: 20_000 });
      expect(warning!.line).toMatch(/receiving from SQS queue "eventbus-test-e-.*" failed .*retrying until it answers/);
      // Pollers keep retrying (with backoff): still one warning for the outage.
      await lines.expectNone((l) => l.level === 'warn', 1500);
      await emulator.start();
      await lines.waitFor((l) => l.some((x) => x.level === 'info' && /works again/.test(x.line)), { timeoutMs: 20_000 });
      await t.publish([{ channel, id: 'after', headers: {}, body: body('after the outage') }]);
      await expect(got.waitForCount(1)).resolves.toEqual(['after the outage']);
      await sub.close();
      for (const { line } of lines.calls) expect(line).not.toContain(SECRET);
    } finally {
      await emulator.stop();
    }
  });

  it('warns when close gives up waiting for a handler (drainTimeoutMs), and the message comes back', async () => {
    const { logger, lines } = recordingLogger();
    const t = transport({ logger, drainTimeoutMs: 200 });
    const channel = unique('c');
    const group = unique('g');
    const started = createSpy<number>();
    let release!: () => void;
    const stuck = new Promise<void>((resolve) => (release = resolve));
    const sub = await t.subscribe({ group, channels: [channel], prefetch: 1 }, async (d) => {
      started.fn(d.attempt);
      await stuck;
    });
    await t.publish([{ channel, id: 'slow', headers: {}, body: body('slow') }]);
    await started.waitForCount(1);
    const closing = Date.now();
    await sub.close();
    expect(Date.now() - closing).toBeLessThan(2000);
    expect(lines.calls.filter((l) => l.level === 'warn').map((l) => l.line)).toEqual([
      expect.stringMatching(/1 deliveries still in flight after drainTimeoutMs \(200 ms\)/),
    ]);
    const again = createSpy<number>();
    const next = await transport().subscribe({ group, channels: [channel], prefetch: 1 }, async (d) => {
      again.fn(d.attempt);
      await d.ack();
    });
    await expect(again.waitForCount(1, { timeoutMs: 10_000 })).resolves.toEqual([2]);
    release();
    await next.close();
  });

  it('says "authentication failed" naming the access key (masked) when AWS refuses the credentials, at once', async () => {
    // The emulator accepts any credentials, so this stands in for AWS's answer to a wrong secret key:
    // every request gets the 403 SQS gives (JSON protocol, query-compatible error code).
    const refusals = createSpy<string>();
    const server = http.createServer((req, res) => {
      refusals.fn(req.headers['x-amz-target']?.toString() ?? '');
      res.writeHead(403, {
        'content-type': 'application/x-amz-json-1.0',
        'x-amzn-query-error': 'InvalidClientTokenId;Sender',
        'x-amzn-requestid': 'stand-in',
      });
      res.end(JSON.stringify({ __type: 'com.amazon.coral.service#InvalidClientTokenId', message: 'The security token included in the request is invalid.' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const { logger, lines } = recordingLogger();
      const t = transport({ endpoint: `http://127.0.0.1:${port}`, logger, credentials: { accessKeyId: KEY_ID, secretAccessKey: SECRET } });
      const started = Date.now();
      const refused = await t.subscribe({ group: unique('g'), channels: [unique('c')], prefetch: 1 }, (d) => d.ack()).catch((e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(2000);
      expect(refused).toBeInstanceOf(Error);
      const message = (refused as Error).message;
      expect(message).toMatch(/creating SQS queue ".*" failed \(InvalidClientTokenId\): authentication failed for access key id AKIAIOSFODNN7EXAMPLE: /);
      // Refused credentials are not retried: one request.
      expect(refusals.count).toBe(1);
      // The cause keeps the AWS code, not the SDK's raw HTTP exchange (the signed request).
      expect(inspect(refused, { depth: 10 })).not.toContain('Signature=');
      for (const output of [message, inspect(refused, { depth: 10 }), ...lines.calls.map((l) => l.line)]) expect(output).not.toContain(SECRET);
      // connect() asks SQS once, so wrong credentials show before the first publish or subscribe.
      const connecting = Date.now();
      await expect(t.connect()).rejects.toThrow(/reaching SQS at http:\/\/127\.0\.0\.1:\d+ failed \(InvalidClientTokenId\): authentication failed for access key id AKIAIOSFODNN7EXAMPLE/);
      expect(Date.now() - connecting).toBeLessThan(2000);
      expect(refusals.count).toBe(2);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
