import {
  type Backlog,
  checkSubscribeOptions,
  type DeadLetterVisitor,
  consoleLogger,
  type DeliveryHandler,
  errorMessage,
  type GroupTopology,
  hideSecrets,
  type Logger,
  MessageTooLargeError,
  type OutgoingMessage,
  type PublishOptions,
  redact,
  type SubscribeOptions,
  type Subscription,
  safeLogger,
  type Transport,
  type TransportCapabilities,
  TransportError,
} from '@org/eventbus';
import { Admin, Consumer, ProduceAcks, Producer } from '@platformatic/kafka';
import { clientClass, clientOptions, probe } from './connection.js';
import { BacklogReader } from './backlog.js';
import { scanDeadLetters } from './dead-letters.js';
import { connectFailure } from './errors.js';
import { type KafkaTransportOptions, type ResolvedKafkaOptions, resolveOptions } from './options.js';
import { Publisher } from './publisher.js';
import { KafkaSubscription } from './subscription.js';
import { channelTopic, groupTopics, TopicRegistry } from './topology.js';
import { type KafkaRecord, RecordWriter } from './wire.js';

/** The distinct topics of a publish: almost always one, so no Set for the common case. */
function topicsOf(records: readonly KafkaRecord[]): string[] {
  const first = records[0]!.topic;
  for (let i = 1; i < records.length; i++) if (records[i]!.topic !== first) return [...new Set(records.map((r) => r.topic))];
  return [first];
}

/**
 * Tries of one produce request (connection.ts `retryDelay`: 50 ms doubling to 0.5 s apart, ≈ 12 s in
 * all): long enough to ride out a partition leader's failover on a cluster (the controller fences a
 * dead broker after broker.session.timeout.ms, 9 s by default, then elects a new leader), where the
 * other clients' tries alone would reject publishes mid-failover. Idempotence makes the resend safe:
 * same producer id and sequence, stored once.
 */
const PRODUCE_RETRIES = 27;

/**
 * Transport over Apache Kafka with @platformatic/kafka: a topic per channel, a consumer group per
 * group, the event key as the record key (order per key), retries through `<group>.retry`, delayed
 * retries and deferrals through the group's delay topics (`<group>.retry.<n>s`, one hold length
 * each) and dead letters in `<group>.dlt`; every topic and group id behind `topicPrefix`.
 */
export class KafkaTransport implements Transport {
  readonly name = 'kafka';
  readonly capabilities: TransportCapabilities;
  private readonly options: ResolvedKafkaOptions;
  private readonly writer = new RecordWriter();
  private publisher: Publisher | undefined;
  private topics: TopicRegistry | undefined;
  private readonly subscriptions = new Set<KafkaSubscription>();
  private readonly pending = new Set<Promise<unknown>>();
  private closing: Promise<void> | undefined;
  private connecting: Promise<void> | undefined;
  private connected = false;
  private readonly logger: Logger;
  private backlogs: BacklogReader | undefined;

  constructor(options: KafkaTransportOptions) {
    this.options = resolveOptions(options);
    this.logger = safeLogger(options.logger ?? consoleLogger('warn'), { transport: 'kafka' });
    hideSecrets(this, () => ({
      brokers: this.options.brokers.join(','),
      ...(this.options.sasl ? { user: this.options.sasl.username, mechanism: this.options.sasl.mechanism } : {}),
      topicPrefix: this.options.topicPrefix,
    }));
    this.capabilities = {
      // Both modes name the binding's headers: a structured-mode bus still reads binary records (0008).
      encoding: { mode: this.options.wireMode, attributePrefix: 'ce_', contentTypeHeader: 'content-type' },
      orderingPerKey: true,
      nativeDelay: false,
      holdsScheduledPublish: false,
      maxDelayMs: this.options.maxDelayMs,
      nativeDeadLetter: true,
      unroutedPublish: 'kept',
      maxMessageBytes: this.options.maxMessageBytes,
    };
  }

  /**
   * Idempotent, and optional: publish and subscribe connect on first use, as the other adapters do,
   * so a publish-only bus that never calls start() works on Kafka too.
   */
  connect(): Promise<void> {
    this.assertOpen();
    this.connecting ??= this.open().catch((error: unknown) => {
      this.connecting = undefined;
      throw error;
    });
    return this.connecting;
  }

  private async open(): Promise<void> {
    const { options } = this;
    try {
      await probe(options, () => this.closing !== undefined);
    } catch (error) {
      throw this.connectFailed(error);
    }
    const admin = new (clientClass(Admin, options.endpoint))(clientOptions(options));
    const ProducerClass = clientClass(Producer<Buffer, Buffer, Buffer, Buffer>, options.endpoint);
    this.publisher = new Publisher(
      () => new ProducerClass({ ...clientOptions(options), idempotent: true, acks: ProduceAcks.ALL, retries: PRODUCE_RETRIES, compression: options.compression }),
      options.producers,
    );
    this.topics = new TopicRegistry(admin, options);
    try {
      await admin.metadata({ topics: [] });
      await this.publisher.warm();
    } catch (error) {
      const { publisher, topics } = this;
      this.publisher = undefined;
      this.topics = undefined;
      await Promise.allSettled([publisher?.close(), topics?.close()]);
      throw this.connectFailed(error);
    }
    this.connected = true;
  }

  /** One warning line per failed connect, saying why (the probe's failure, already in core's terms, as it is). */
  private connectFailed(error: unknown): TransportError {
    const failure = error instanceof TransportError ? error : connectFailure(error, this.options);
    this.logger.warn({ brokers: this.options.brokers.join(',') }, failure.message);
    return failure;
  }

  async publish(messages: readonly OutgoingMessage[], options: PublishOptions = {}): Promise<void> {
    this.assertOpen();
    options.signal?.throwIfAborted();
    if (messages.length === 0) return;
    const { writer } = this;
    const max = this.options.maxMessageBytes;
    const records: KafkaRecord[] = new Array(messages.length);
    let bytes = 0;
    for (let i = 0; i < messages.length; i++) {
      const message = messages[i]!;
      records[i] = writer.record(channelTopic(this.options, message.channel), message);
      if (writer.size > max) throw new MessageTooLargeError(writer.size, max);
      bytes += writer.requestBytes;
    }
    await this.track(this.send(records, bytes, options.signal));
  }

  private async send(records: KafkaRecord[], bytes: number, signal?: AbortSignal): Promise<void> {
    const { publisher, topics } = await this.ready();
    await topics.ensure(topicsOf(records));
    signal?.throwIfAborted();
    await publisher.send(records, bytes);
  }

  async subscribe(options: SubscribeOptions, onDelivery: DeliveryHandler): Promise<Subscription> {
    this.assertOpen();
    checkSubscribeOptions(options);
    const { topics } = await this.ready();
    const group = options.group;
    const { retryTopic, deadLetterTopic, delayTiers } = groupTopics(this.options, group);
    const held = [retryTopic, ...delayTiers.map((t) => t.topic)];
    const read = options.deadLetters ? [deadLetterTopic] : [...options.channels.map((c) => channelTopic(this.options, c)), ...held];
    // The group id carries the prefix as well: deployments that share a group id would rebalance each
    // other, and Kafka ACLs usually grant topics and groups by one prefix.
    const groupId = options.deadLetters ? deadLetterTopic : this.options.topicPrefix + group;
    await topics.ensure([...new Set([...read, deadLetterTopic])]);
    const { options: resolved } = this;
    const ConsumerClass = clientClass(Consumer<Buffer, Buffer, Buffer, Buffer>, resolved.endpoint);
    const subscription: KafkaSubscription = new KafkaSubscription(
      {
        groupId,
        topics: read,
        prefetch: options.prefetch,
        logger: this.logger,
        createConsumer: (beforeJoin) =>
          new ConsumerClass({
            ...clientOptions(resolved),
            groupId,
            sessionTimeout: resolved.sessionTimeoutMs,
            heartbeatInterval: resolved.heartbeatIntervalMs,
            rebalanceTimeout: resolved.rebalanceTimeoutMs,
            autocommit: false,
            protocolsMetadata: beforeJoin,
          }),
        settle: {
          group,
          retryTopic,
          deadLetterTopic,
          delayTiers,
          deadLetters: options.deadLetters === true,
          maxDelayMs: resolved.maxDelayMs,
          republish: (topic, message, headers) => {
            const record = this.writer.record(topic, { ...message, headers });
            return this.track(this.send([record], this.writer.requestBytes));
          },
        },
        onError: (error) => options.onError?.(error),
      },
      resolved,
      onDelivery,
    );
    try {
      await subscription.start();
    } catch (error) {
      throw new TransportError(redact(`could not join consumer group "${groupId}": ${errorMessage(error)}`));
    }
    this.subscriptions.add(subscription);
    const close = subscription.close.bind(subscription);
    subscription.close = () => close().finally(() => this.subscriptions.delete(subscription));
    return subscription;
  }

  /**
   * Create each group's topics as subscribe() does — its channels, `<group>.retry`, its delay topics
   * `<group>.retry.<n>s` and `<group>.dlt` —
   * without joining the group. Kafka keeps what is published to a topic whatever reads it, and a
   * group with no committed offset starts from the earliest record (`startFrom`), so the first
   * worker of a provisioned group reads every event published since.
   */
  async provision(groups: readonly GroupTopology[]): Promise<void> {
    this.assertOpen();
    if (groups.length === 0) return;
    const { topics } = await this.ready();
    const names = new Set<string>();
    for (const { group, channels } of groups) {
      for (const channel of channels) names.add(channelTopic(this.options, channel));
      const { retryTopic, deadLetterTopic, delayTiers } = groupTopics(this.options, group);
      names.add(retryTopic);
      names.add(deadLetterTopic);
      for (const tier of delayTiers) names.add(tier.topic);
    }
    await topics.ensure([...names]);
  }

  /** Kafka cannot delete one record: a reader group of the scan's own marks what is gone (dead-letters.ts). */
  async scanDeadLetters(group: string, visit: DeadLetterVisitor): Promise<void> {
    this.assertOpen();
    const { topics } = await this.ready();
    const deps = { options: this.options, ensure: (t: readonly string[]) => topics.ensure(t), send: (r: KafkaRecord[], b: number) => this.track(this.send(r, b)) };
    await this.track(scanDeadLetters(deps, group, visit));
  }

  /** The group's lag over the topics it committed on (backlog.ts). */
  async backlog(group: string): Promise<Backlog> {
    this.assertOpen();
    await this.ready();
    this.backlogs ??= new BacklogReader(this.options);
    return this.backlogs.backlog(group);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      // A connect still verifying the broker would otherwise hand out a producer closed under it.
      await this.connecting?.catch(() => {});
      await Promise.all([...this.subscriptions].map((s) => s.close()));
      await Promise.allSettled([...this.pending]);
      await this.publisher?.close().catch(() => {});
      await this.topics?.close();
      await this.backlogs?.close();
    })();
    return this.closing;
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.pending.add(promise);
    void promise.finally(() => this.pending.delete(promise)).catch(() => {});
    return promise;
  }

  private async ready(): Promise<{ publisher: Publisher; topics: TopicRegistry }> {
    if (!this.connected) await this.connect();
    if (!this.publisher || !this.topics) throw new TransportError('Kafka transport is closed');
    return { publisher: this.publisher, topics: this.topics };
  }

  private assertOpen(): void {
    if (this.closing) throw new TransportError('Kafka transport is closed');
  }
}
