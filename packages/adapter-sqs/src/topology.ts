import { createHash } from 'node:crypto';
import {
  CreateTopicCommand,
  GetSubscriptionAttributesCommand,
  ListSubscriptionsByTopicCommand,
  ListTopicsCommand,
  SetSubscriptionAttributesCommand,
  type SNSClient,
  SubscribeCommand,
} from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  SetQueueAttributesCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { errorMessage, TransportError } from '@org/eventbus';
import { awsCode, awsError, isMissingQueue } from './errors.js';
import type { ResolvedOptions } from './options.js';

export interface QueueInfo {
  name: string;
  url: string;
  arn: string;
  visibilityTimeoutSeconds: number;
}

export interface GroupQueues {
  queue: QueueInfo;
  deadLetters: QueueInfo;
}

const FOURTEEN_DAYS = String(14 * 24 * 3600);

/** SQS queue names are at most 80 characters (".fifo" included); topics share the rule to stay readable. */
const MAX_NAME = 80;
const DLQ_SUFFIX = '-dlq';

/**
 * A valid SNS/SQS name for a channel or group: letters, digits, "-" and "_" are kept; anything
 * else (dots in "ec2.launch.requested") becomes "_", and then a short hash of the original is added
 * so two names that differ only there never share a resource.
 */
export function resourceName(prefix: string, name: string, fifo: boolean): string {
  const suffix = fifo ? '.fifo' : '';
  const room = MAX_NAME - suffix.length - DLQ_SUFFIX.length;
  const clean = `${prefix}${name}`.replace(/[^A-Za-z0-9_-]/g, '_');
  if (clean === `${prefix}${name}` && clean.length <= room) return clean + suffix;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
  return `${clean.slice(0, room - hash.length - 1)}-${hash}${suffix}`;
}

/** The dead-letter queue's name for a group queue's name. */
export function deadLetterName(queueName: string): string {
  return queueName.endsWith('.fifo') ? `${queueName.slice(0, -5)}${DLQ_SUFFIX}.fifo` : `${queueName}${DLQ_SUFFIX}`;
}

/** The last segment of an ARN (a queue's or topic's name). */
export function nameOfArn(arn: string): string {
  return arn.slice(arn.lastIndexOf(':') + 1);
}

/**
 * Finds or creates the SNS/SQS resources behind channels and groups: a topic per channel, a queue
 * per group subscribed to its channels with raw delivery, and a dead-letter queue per group behind
 * a redrive policy. Every call is idempotent and cached; a failure is not cached, so it is retried.
 */
export class Topology {
  private readonly topics = new Map<string, Promise<string>>();
  private readonly queues = new Map<string, Promise<QueueInfo>>();
  private readonly subscriptions = new Map<string, Promise<void>>();

  constructor(
    private readonly sqs: SQSClient,
    private readonly sns: SNSClient,
    private readonly options: ResolvedOptions,
    /** A queue was just subscribed to the topic: publishes to it are routed (the publisher's check). */
    private readonly onSubscribed: (topicArn: string) => void,
  ) {}

  topicName(channel: string): string {
    return resourceName(this.options.prefix, channel, this.options.fifo);
  }

  queueName(group: string): string {
    return resourceName(this.options.prefix, group, this.options.fifo);
  }

  topicArn(channel: string): Promise<string> {
    return this.cached(this.topics, channel, () => (this.options.manage ? this.createTopic(channel) : this.findTopic(channel)));
  }

  /**
   * The group's queue (subscribed to `channels`) and its dead-letter queue. With `types`, each
   * subscription gets a filter policy on the event type, so a group that handles some of a shared
   * channel's types is not sent the others.
   */
  async group(group: string, channels: readonly string[], types?: readonly string[]): Promise<GroupQueues> {
    const name = this.queueName(group);
    const deadLetters = await this.queue(deadLetterName(name), undefined);
    const queue = await this.queue(name, deadLetters.arn);
    if (this.options.manage && channels.length > 0) {
      await Promise.all(channels.map((channel) => this.subscribe(channel, queue, types)));
    }
    return { queue, deadLetters };
  }

  /** A group's queue alone (direct publishing, redrive). */
  async groupQueue(group: string): Promise<GroupQueues> {
    return this.group(group, []);
  }

  private cached<T>(cache: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
    let promise = cache.get(key);
    if (!promise) {
      promise = make();
      cache.set(key, promise);
      promise.catch(() => cache.delete(key));
    }
    return promise;
  }

  private async createTopic(channel: string): Promise<string> {
    const Name = this.topicName(channel);
    try {
      const out = await this.sns.send(
        new CreateTopicCommand({ Name, ...(this.options.fifo ? { Attributes: { FifoTopic: 'true' } } : {}) }),
      );
      if (!out.TopicArn) throw new Error('no TopicArn in the response');
      return out.TopicArn;
    } catch (error) {
      throw awsError(`creating SNS topic "${Name}" for channel "${channel}"`, error);
    }
  }

  private async findTopic(channel: string): Promise<string> {
    const name = this.topicName(channel);
    let NextToken: string | undefined;
    try {
      do {
        const page = await this.sns.send(new ListTopicsCommand(NextToken ? { NextToken } : {}));
        const found = page.Topics?.find((t) => t.TopicArn !== undefined && nameOfArn(t.TopicArn) === name);
        if (found?.TopicArn) return found.TopicArn;
        NextToken = page.NextToken;
      } while (NextToken);
    } catch (error) {
      throw awsError(`looking up SNS topic "${name}"`, error);
    }
    throw new TransportError(`SNS topic "${name}" for channel "${channel}" does not exist (manage: false uses existing resources only)`);
  }

  private queue(name: string, deadLetterArn: string | undefined): Promise<QueueInfo> {
    return this.cached(this.queues, name, async () => {
      const url = this.options.manage ? await this.createQueue(name, deadLetterArn) : await this.findQueue(name);
      try {
        const out = await this.sqs.send(
          new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn', 'VisibilityTimeout'] }),
        );
        const arn = out.Attributes?.QueueArn;
        if (!arn) throw new Error('no QueueArn in the response');
        return { name, url, arn, visibilityTimeoutSeconds: Number(out.Attributes?.VisibilityTimeout ?? 30) };
      } catch (error) {
        throw awsError(`reading attributes of SQS queue "${name}"`, error);
      }
    });
  }

  private async createQueue(name: string, deadLetterArn: string | undefined): Promise<string> {
    const Attributes: Record<string, string> = deadLetterArn
      ? {
          VisibilityTimeout: String(this.options.visibilityTimeoutSeconds),
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: deadLetterArn, maxReceiveCount: this.options.maxReceiveCount }),
        }
      : { MessageRetentionPeriod: FOURTEEN_DAYS };
    if (this.options.fifo) Attributes.FifoQueue = 'true';
    try {
      const out = await this.sqs.send(new CreateQueueCommand({ QueueName: name, Attributes }));
      if (!out.QueueUrl) throw new Error('no QueueUrl in the response');
      return out.QueueUrl;
    } catch (error) {
      const code = awsCode(error);
      // It exists with other settings (made by an operator or an older version): use it as it is.
      if (code !== undefined && /(QueueNameExists|QueueAlreadyExists)$/.test(code)) return this.findQueue(name);
      throw awsError(`creating SQS queue "${name}"`, error);
    }
  }

  private async findQueue(name: string): Promise<string> {
    try {
      const out = await this.sqs.send(new GetQueueUrlCommand({ QueueName: name }));
      if (!out.QueueUrl) throw new Error('no QueueUrl in the response');
      return out.QueueUrl;
    } catch (error) {
      if (isMissingQueue(error)) {
        throw new TransportError(
          `SQS queue "${name}" does not exist${this.options.manage ? '' : ' (manage: false uses existing resources only)'}`,
        );
      }
      throw awsError(`looking up SQS queue "${name}"`, error);
    }
  }

  private subscribe(channel: string, queue: QueueInfo, types: readonly string[] | undefined): Promise<void> {
    return this.cached(this.subscriptions, `${channel}\n${queue.arn}\n${types?.join(',') ?? ''}`, async () => {
      const topicArn = await this.topicArn(channel);
      try {
        await this.sqs.send(
          new SetQueueAttributesCommand({ QueueUrl: queue.url, Attributes: { Policy: this.snsPolicy(queue.arn, topicArn) } }),
        );
        const subscriptionArn = await this.subscription(topicArn, queue.arn);
        if (types && types.length > 0 && subscriptionArn) await this.filterByType(subscriptionArn, types);
        this.onSubscribed(topicArn);
      } catch (error) {
        throw awsError(`subscribing SQS queue "${queue.name}" to SNS topic "${nameOfArn(topicArn)}"`, error);
      }
    });
  }

  /**
   * Subscribe the queue with raw delivery. SNS answers Subscribe idempotently only while the
   * attributes match, so once a type filter is on the subscription (another instance of the group
   * set it) the existing one is looked up instead.
   */
  private async subscription(topicArn: string, queueArn: string): Promise<string | undefined> {
    try {
      const out = await this.sns.send(
        new SubscribeCommand({
          TopicArn: topicArn,
          Protocol: 'sqs',
          Endpoint: queueArn,
          Attributes: { RawMessageDelivery: 'true' },
          ReturnSubscriptionArn: true,
        }),
      );
      return out.SubscriptionArn;
    } catch (error) {
      if (awsCode(error) !== 'InvalidParameter' || !/already exists with different attributes/i.test(errorMessage(error))) throw error;
    }
    let NextToken: string | undefined;
    do {
      const page = await this.sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn, ...(NextToken ? { NextToken } : {}) }));
      const found = page.Subscriptions?.find((s) => s.Protocol === 'sqs' && s.Endpoint === queueArn);
      if (found?.SubscriptionArn) return found.SubscriptionArn;
      NextToken = page.NextToken;
    } while (NextToken);
    return undefined;
  }

  /**
   * Let only these event types through (a filter on the CloudEvents `type` in the body). The list
   * only grows: during a rolling deploy an older instance must not drop a type a newer one handles.
   */
  private async filterByType(subscriptionArn: string, types: readonly string[]): Promise<void> {
    const current = await this.sns.send(new GetSubscriptionAttributesCommand({ SubscriptionArn: subscriptionArn }));
    const attributes = current.Attributes ?? {};
    let existing: string[] = [];
    if (attributes.FilterPolicy && attributes.FilterPolicyScope === 'MessageBody') {
      const policy = JSON.parse(attributes.FilterPolicy) as { type?: unknown };
      if (Array.isArray(policy.type)) existing = policy.type.filter((t): t is string => typeof t === 'string');
    }
    const wanted = [...new Set([...existing, ...types])].sort();
    if (attributes.FilterPolicy && wanted.length === existing.length) return;
    const set = (AttributeName: string, AttributeValue: string) =>
      this.sns.send(new SetSubscriptionAttributesCommand({ SubscriptionArn: subscriptionArn, AttributeName, AttributeValue }));
    await set('FilterPolicyScope', 'MessageBody');
    await set('FilterPolicy', JSON.stringify({ type: wanted }));
  }

  /** Lets SNS topics of this prefix (in the queue's account) send to the queue: stable, so re-applying it is a no-op. */
  private snsPolicy(queueArn: string, topicArn: string): string {
    const [, partition, , region, account] = topicArn.split(':');
    return JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'eventbus-sns-fan-out',
          Effect: 'Allow',
          Principal: { Service: 'sns.amazonaws.com' },
          Action: 'sqs:SendMessage',
          Resource: queueArn,
          Condition: { ArnLike: { 'aws:SourceArn': `arn:${partition}:sns:${region}:${account}:${this.options.prefix}*` } },
        },
      ],
    });
  }
}
