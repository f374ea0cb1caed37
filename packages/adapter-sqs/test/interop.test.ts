import { CreateTopicCommand, PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { DeleteMessageCommand, GetQueueUrlCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { defineEvent } from '@org/eventbus';
import { createSpy } from '@org/eventbus/testing';
import { CloudEvent } from 'cloudevents';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { SqsTransport } from '../src/index.js';
import { sqsFixture } from './fixture.js';

/*
 * Interop with plain AWS SDK clients and the CloudEvents SDK. SQS/SNS have no CloudEvents binding of
 * their own, so both sides use the structured JSON event format (the SDK's `JSON.stringify(event)` and
 * `new CloudEvent(json)`, whose constructor validates every attribute) with the `content-type`
 * message attribute `application/cloudevents+json`, or no attribute at all: a plain client often sends
 * the body alone, and a message without a content-type is read as structured.
 */
const fixture = sqsFixture('i');
const { unique, bus } = fixture;
const STRUCTURED = 'application/cloudevents+json';
const contentType = { 'content-type': { DataType: 'String', StringValue: STRUCTURED } };

function contract(label: string) {
  return defineEvent({ type: `sqs.interop.${unique(label)}`, description: 'an interop event', schema: z.object({ orderId: z.string() }) });
}

describe('sqs interop with plain AWS SDK clients and the CloudEvents SDK', () => {
  it('a plain SQS consumer reads what the bus publishes into the SDK’s CloudEvent', async () => {
    const event = contract('out');
    const group = unique('plain');
    const publisher = bus();
    await publisher.transport.provision([{ group, channels: [event.channel] }]);
    const sent = await publisher.publish(event, { orderId: 'o-1' }, { subject: 'orders/o-1', correlationId: 'corr-1' });
    const sqs = new SQSClient(fixture.plainConfig());
    try {
      const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: (publisher.transport as SqsTransport).resourceNames({ group }).queue! }));
      const { Messages } = await sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 5, MessageAttributeNames: ['All'] }));
      expect(Messages).toHaveLength(1);
      const [message] = Messages!;
      await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: message!.ReceiptHandle }));
      expect(message!.MessageAttributes?.['content-type']?.StringValue).toBe(STRUCTURED);
      const received = new CloudEvent<{ orderId: string }>(JSON.parse(message!.Body!));
      expect({ id: received.id, type: received.type, source: received.source, subject: received.subject, specversion: received.specversion }).toEqual({
        id: sent.id,
        type: event.type,
        source: '/test',
        subject: 'orders/o-1',
        specversion: '1.0',
      });
      expect(received.correlationid).toBe('corr-1');
      expect(received.data).toEqual({ orderId: 'o-1' });
    } finally {
      sqs.destroy();
    }
  });

  it('the bus handles SDK events a plain client published to the channel’s SNS topic and sent straight to the group’s queue', async () => {
    const event = contract('in');
    const group = unique('g');
    const handled = createSpy<{ id: string; orderId: string }>();
    const consumer = bus();
    consumer.handle(event, { group }, (e) => handled.fn({ id: e.id, orderId: e.data.orderId }));
    await consumer.start();
    const sdkEvent = (id: string) => new CloudEvent({ id, source: '/plain/sdk', type: event.type, datacontenttype: 'application/json', data: { orderId: id } });
    const names = (consumer.transport as SqsTransport).resourceNames({ channel: event.channel, group });
    const sns = new SNSClient(fixture.plainConfig());
    const sqs = new SQSClient(fixture.plainConfig());
    try {
      // CreateTopic is idempotent: it answers the ARN of the topic the bus made.
      const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: names.topic! }));
      await sns.send(new PublishCommand({ TopicArn, Message: JSON.stringify(sdkEvent('via-sns')), MessageAttributes: contentType }));
      const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: names.queue! }));
      await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: JSON.stringify(sdkEvent('via-sqs')), MessageAttributes: contentType }));
      // The body alone, as a plain script would send it: no content-type, still read as structured.
      await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: JSON.stringify(sdkEvent('body-only')) }));
    } finally {
      sns.destroy();
      sqs.destroy();
    }
    const calls = await handled.waitForCount(3);
    expect(calls.map((call) => call.id).sort()).toEqual(['body-only', 'via-sns', 'via-sqs']);
    expect(calls.every((call) => call.orderId === call.id)).toBe(true);
  });
});
