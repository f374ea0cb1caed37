import http from 'node:http';
import https from 'node:https';
import { SNSClient } from '@aws-sdk/client-sns';
import { ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  type Backlog,
  checkSubscribeOptions,
  type DeadLetterVisitor,
  type DeliveryHandler,
  type GroupTopology,
  hideSecrets,
  type OutgoingMessage,
  PendingWork,
  type PublishOptions,
  type SubscribeOptions,
  type Subscription,
  type Transport,
  type TransportCapabilities,
  TransportError,
} from '@org/eventbus';
import { SQS_MAX_MESSAGE_BYTES } from './attributes.js';
import { awsError, explainAuthFailures, isAccessDenied } from './errors.js';
import { type ResolvedOptions, resolveOptions, type SqsTransportOptions } from './options.js';
import { Publisher } from './publisher.js';
import { SubscriberCheck } from './subscriber-check.js';
import { groupBacklog } from './backlog.js';
import { scanDeadLetters } from './dead-letters.js';
import { type RedriveOptions, redriveDeadLetters } from './redrive.js';
import { SqsSubscription } from './subscription.js';
import { Topology } from './topology.js';

/**
 * Core's subscribe options. `types`, which the bus fills with the group's handled types, becomes an
 * SNS filter policy on the CloudEvents `type`, so a shared channel sends the group only its types.
 */
export type SqsSubscribeOptions = SubscribeOptions;

/** Room kept under SQS's 256 KiB for the adapter's own attributes (channel, key, attribute type names). */
const ATTRIBUTE_RESERVE = 1024;

/**
 * The SDK clients' logger. It has no `info`: the SDK's logger middleware calls `logger.info?.(…)`
 * after every call with a sanitised deep copy of the request and the response, which a no-op
 * logger then drops — that copy is built only when `info` exists. Everything the SDK reports as
 * an error reaches the caller as the call's rejection, so nothing is lost by not logging it here.
 */
class SdkLogger {
  declare readonly info: (...content: unknown[]) => void;
  debug(): void {}
  warn(): void {}
  error(): void {}
}

/**
 * Transport over Amazon SNS and SQS: a topic per channel, a queue per group subscribed to its
 * channels with raw delivery, a dead-letter queue per group, structured-mode CloudEvents bodies.
 */
export class SqsTransport implements Transport {
  readonly name = 'sqs';
  readonly capabilities: TransportCapabilities;
  readonly options: ResolvedOptions;
  private readonly sqs: SQSClient;
  private readonly sns: SNSClient;
  private readonly topology: Topology;
  private readonly publisher: Publisher;
  private readonly subscriptions = new Set<SqsSubscription>();
  private readonly publishing = new PendingWork();
  private connecting: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: SqsTransportOptions = {}) {
    this.options = resolveOptions(options);
    const { region, endpoint, credentials } = this.options;
    const agent = { keepAlive: true, maxSockets: 256 };
    const config = {
      region,
      ...(endpoint === undefined ? {} : { endpoint }),
      ...(credentials === undefined ? {} : { credentials }),
      maxAttempts: 5,
      // Resolve each command's middleware stack once, not on every call (calls without per-call options).
      cacheMiddleware: true,
      logger: new SdkLogger(),
      requestHandler: { httpAgent: new http.Agent(agent), httpsAgent: new https.Agent(agent), connectionTimeout: 5000 },
    };
    this.sqs = new SQSClient(config);
    this.sns = new SNSClient(config);
    const accessKey = async () => (credentials ?? (await this.sqs.config.credentials())).accessKeyId;
    explainAuthFailures(this.sqs, accessKey);
    explainAuthFailures(this.sns, accessKey);
    const subscribers = new SubscriberCheck(this.sns);
    this.topology = new Topology(this.sqs, this.sns, this.options, (topicArn) => subscribers.subscribed(topicArn));
    this.capabilities = {
      encoding: { mode: 'structured' },
      orderingPerKey: this.options.fifo,
      nativeDelay: true,
      // SQS SendMessage holds a message per message, SNS Publish does not: only straight-to-queue
      // publishing onto standard queues (FIFO queues take no per-message delay) holds at publish.
      holdsScheduledPublish: this.options.publishTo === 'queue' && !this.options.fifo,
      // Each step (a visibility change of up to 12 h, a delayed copy of up to 900 s) is capped by the
      // option; the adapter chains what is longer, so by default one step is as long as setTimeout's.
      maxDelayMs: this.options.maxDelayMs,
      nativeDeadLetter: true,
      unroutedPublish: 'rejected',
      maxMessageBytes: SQS_MAX_MESSAGE_BYTES - ATTRIBUTE_RESERVE,
    };
    this.publisher = new Publisher(this.sqs, this.sns, this.topology, subscribers, this.options, this.capabilities.maxMessageBytes);
    hideSecrets(this, () => ({ region, endpoint, prefix: this.options.prefix, fifo: this.options.fifo }));
  }

  /**
   * Check that SQS answers and accepts the credentials: one ListQueues (an AccessDenied answer still
   * proves the credentials, so no extra permission is needed). Optional, as on every transport.
   */
  connect(): Promise<void> {
    this.assertOpen();
    this.connecting ??= this.probe().catch((error: unknown) => {
      this.connecting = undefined;
      throw error;
    });
    return this.connecting;
  }

  private async probe(): Promise<void> {
    const { prefix, endpoint, region } = this.options;
    try {
      await this.sqs.send(new ListQueuesCommand({ ...(prefix ? { QueueNamePrefix: prefix } : {}), MaxResults: 1 }));
    } catch (error) {
      if (isAccessDenied(error)) return;
      throw awsError(`reaching SQS ${endpoint === undefined ? `in ${region}` : `at ${endpoint}`}`, error);
    }
  }

  async publish(messages: readonly OutgoingMessage[], options: PublishOptions = {}): Promise<void> {
    this.assertOpen();
    if (messages.length === 0) return;
    await this.publishing.track(this.publisher.publish(messages, options.signal));
  }

  async subscribe(options: SqsSubscribeOptions, onDelivery: DeliveryHandler): Promise<Subscription> {
    this.assertOpen();
    checkSubscribeOptions(options, { needsChannels: false });
    const { types } = options;
    const queues = await this.topology.group(options.group, options.deadLetters ? [] : options.channels, types);
    this.assertOpen();
    const subscription: SqsSubscription = new SqsSubscription({
      sqs: this.sqs,
      queue: options.deadLetters ? queues.deadLetters : queues.queue,
      deadLetters: queues.deadLetters,
      group: options.group,
      channels: options.channels,
      prefetch: options.prefetch,
      waitTimeSeconds: this.options.waitTimeSeconds,
      pollers: this.options.pollers ?? Math.min(4, Math.ceil(options.prefetch / 10)),
      drainTimeoutMs: this.options.drainTimeoutMs,
      maxVisibilityDelayMs: Math.min(this.options.maxVisibilityDelaySeconds * 1000, this.options.maxDelayMs),
      maxDelayMs: this.options.maxDelayMs,
      fifo: this.options.fifo,
      onDelivery,
      onError: options.onError,
      logger: this.options.logger,
      onClosed: () => this.subscriptions.delete(subscription),
    });
    this.subscriptions.add(subscription);
    subscription.start();
    return subscription;
  }

  /**
   * Create each group's queue, its dead-letter queue and its topic subscriptions (with the type
   * filter for shared channels), as `subscribe` does, without consuming: what is published from now
   * on waits in the queue for the group's first worker. Idempotent. With `manage: false` it checks
   * that the queues exist.
   */
  async provision(groups: readonly GroupTopology[]): Promise<void> {
    this.assertOpen();
    await Promise.all(groups.map((g) => this.topology.group(g.group, g.channels, g.types)));
  }

  /** The group's dead-letter queue, message by message (dead-letters.ts); nothing is created. */
  async scanDeadLetters(group: string, visit: DeadLetterVisitor): Promise<void> {
    this.assertOpen();
    await scanDeadLetters(this.sqs, await this.topology.groupQueue(group), this.options.fifo, visit);
  }

  /** The group queue's approximate counts (backlog.ts). */
  async backlog(group: string): Promise<Backlog> {
    this.assertOpen();
    return groupBacklog(this.sqs, await this.topology.groupQueue(group));
  }

  /** Move a group's dead letters back to its queue; resolves with how many moved. */
  async redrive(group: string, options: RedriveOptions = {}): Promise<number> {
    this.assertOpen();
    return redriveDeadLetters(this.sqs, await this.topology.groupQueue(group), this.options.fifo, options);
  }

  /** The names this transport gives a channel's topic and a group's queues (for IAM policies and operators). */
  resourceNames(names: { channel?: string; group?: string }): { topic?: string; queue?: string } {
    return {
      ...(names.channel === undefined ? {} : { topic: this.topology.topicName(names.channel) }),
      ...(names.group === undefined ? {} : { queue: this.topology.queueName(names.group) }),
    };
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all([...this.subscriptions].map((s) => s.close()));
      await this.publishing.settled();
      this.sqs.destroy();
      this.sns.destroy();
    })();
    return this.closing;
  }

  private assertOpen(): void {
    if (this.closing) throw new TransportError('sqs transport is closed');
  }
}

/** Create an SQS/SNS transport (same as `new SqsTransport(options)`). */
export function createSqsTransport(options: SqsTransportOptions = {}): SqsTransport {
  return new SqsTransport(options);
}
