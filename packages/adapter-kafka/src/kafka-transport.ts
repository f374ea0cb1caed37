import {
  checkSubscribeOptions,
  consoleLogger,
  type DeliveryHandler,
  deadLetterHeaders,
  type GroupTopology,
  hideSecrets,
  type Logger,
  MessageTooLargeError,
  nextAttemptHeaders,
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
import { authenticationError, rootMessage } from './connect-errors.js';
import type { KafkaDelivery } from './dispatcher.js';
import { clientClass } from './endpoint.js';
import { type KafkaTransportOptions, type ResolvedKafkaOptions, resolveOptions } from './options.js';
import { Publisher } from './publisher.js';
import { KafkaSubscription } from './subscription.js';
import { TopicRegistry } from './topics.js';
import { errorMessage, type KafkaRecord, RETRY_CHANNEL_HEADER, RecordWriter, topicName } from './wire.js';

/** The distinct topics of a publish: almost always one, so no Set for the common case. */
function topicsOf(records: readonly KafkaRecord[]): string[] {
  const first = records[0]!.topic;
  for (let i = 1; i < records.length; i++) if (records[i]!.topic !== first) return [...new Set(records.map((r) => r.topic))];
  return [first];
}

/** Longest retry delay: the partition waits this long at most for one retry record. */
const MAX_DELAY_MS = 60 * 60_000;
/** connect() asks the broker this many times (half a second apart) before it calls it unreachable. */
const CONNECT_ATTEMPTS = 6;

/**
 * Transport over Apache Kafka with @platformatic/kafka: a topic per channel, a consumer group per
 * group, the event key as the record key (order per key), retries through `<group>.retry` with a
 * not-before header and dead letters in `<group>.dlt`; every topic and group id behind `topicPrefix`.
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

  constructor(options: KafkaTransportOptions) {
    this.options = resolveOptions(options);
    this.logger = safeLogger(options.logger ?? consoleLogger('warn'), { transport: 'kafka' });
    hideSecrets(this, () => ({
      brokers: this.options.brokers.join(','),
      ...(this.options.sasl ? { user: this.options.sasl.username, mechanism: this.options.sasl.mechanism } : {}),
      topicPrefix: this.options.topicPrefix,
    }));
    this.capabilities = {
      encoding: { mode: 'binary', attributePrefix: 'ce_', contentTypeHeader: 'content-type' },
      orderingPerKey: true,
      nativeDelay: false,
      maxDelayMs: MAX_DELAY_MS,
      nativeDeadLetter: true,
      unroutedPublish: 'kept',
      maxMessageBytes: this.options.maxMessageBytes,
    };
  }

  private base() {
    const { clientId, brokers, requestTimeoutMs, sasl, tls } = this.options;
    return {
      ...(sasl ? { sasl } : {}),
      ...(tls ? { tls: {} } : {}),
      clientId,
      bootstrapBrokers: [...brokers],
      timeout: requestTimeoutMs,
      connectTimeout: Math.min(requestTimeoutMs, 5000),
      retries: 5,
      retryDelay: 500,
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
    await this.probe();
    const admin = new (clientClass(Admin, this.options.endpoint))(this.base());
    const ProducerClass = clientClass(Producer<Buffer, Buffer, Buffer, Buffer>, this.options.endpoint);
    this.publisher = new Publisher(() => new ProducerClass({ ...this.base(), idempotent: true, acks: ProduceAcks.ALL }), this.options.producers);
    this.topics = new TopicRegistry(admin, this.options);
    try {
      await admin.metadata({ topics: [] });
      await this.publisher.warm();
    } catch (error) {
      const { publisher, topics } = this;
      this.publisher = undefined;
      this.topics = undefined;
      await Promise.allSettled([publisher?.close(), topics?.close()]);
      throw this.connectError(error);
    }
    this.connected = true;
  }

  /**
   * Ask the broker for its metadata, a few times while it does not answer — but not once more after
   * it refused our credentials: a wrong password fails connect() at once, saying so.
   */
  private async probe(): Promise<void> {
    const admin = new (clientClass(Admin, this.options.endpoint))({ ...this.base(), retries: 0 });
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          await admin.metadata({ topics: [] });
          return;
        } catch (error) {
          if (authenticationError(error) || attempt >= CONNECT_ATTEMPTS || this.closing) throw this.connectError(error, attempt);
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
      }
    } finally {
      await admin.close().catch(() => {});
    }
  }

  private connectError(error: unknown, attempts?: number): TransportError {
    const { brokers, sasl } = this.options;
    const auth = authenticationError(error);
    const text = auth
      ? `Kafka authentication failed for user "${sasl?.username ?? '(none)'}" at ${brokers.join(',')}` +
        `${sasl ? ` (SASL ${sasl.mechanism})` : ''}: ${rootMessage(auth)} — check the credentials and the mechanism (?mechanism=)`
      : `cannot reach Kafka at ${brokers.join(',')}${attempts ? ` after ${attempts} attempts` : ''}: ${rootMessage(error)}`;
    const failure = new TransportError(redact(text));
    this.logger.warn({ brokers: brokers.join(',') }, failure.message);
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
      records[i] = writer.record(this.topic(message.channel), message);
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
    const retryTopic = this.topic(group + this.options.retryTopicSuffix);
    const deadLetterTopic = this.topic(group + this.options.deadLetterTopicSuffix);
    const read = options.deadLetters ? [deadLetterTopic] : [...options.channels.map((c) => this.topic(c)), retryTopic];
    // The group id carries the prefix as well: deployments that share a group id would rebalance each
    // other, and Kafka ACLs usually grant topics and groups by one prefix.
    const groupId = options.deadLetters ? deadLetterTopic : this.options.topicPrefix + group;
    await topics.ensure([...new Set([...read, deadLetterTopic])]);
    const { options: resolved } = this;
    const ConsumerClass = clientClass(Consumer<Buffer, Buffer, Buffer, Buffer>, resolved.endpoint);
    const onError = (error: Error) => options.onError?.(error);
    const republish = (topic: string, delivery: KafkaDelivery, headers: Record<string, string>) => {
      const record = this.writer.record(topic, { ...delivery.message, headers });
      return this.track(this.send([record], this.writer.requestBytes));
    };
    const subscription: KafkaSubscription = new KafkaSubscription(
      {
        groupId,
        topics: read,
        prefetch: options.prefetch,
        logger: this.logger,
        createConsumer: (beforeJoin) =>
          new ConsumerClass({
            ...this.base(),
            groupId,
            sessionTimeout: resolved.sessionTimeoutMs,
            heartbeatInterval: resolved.heartbeatIntervalMs,
            rebalanceTimeout: resolved.rebalanceTimeoutMs,
            autocommit: false,
            protocolsMetadata: beforeJoin,
          }),
        nack: (delivery, delayMs) => {
          const notBefore = delayMs > 0 ? Date.now() + Math.min(delayMs, MAX_DELAY_MS) : undefined;
          const headers = nextAttemptHeaders(delivery, notBefore);
          // A dead letter nacked by its reader stays a dead letter; anything else goes round the retry topic.
          if (options.deadLetters) return republish(deadLetterTopic, delivery, headers);
          return republish(retryTopic, delivery, { ...headers, [RETRY_CHANNEL_HEADER]: delivery.message.channel });
        },
        deadLetter: (delivery, reason) => republish(deadLetterTopic, delivery, deadLetterHeaders(delivery, group, reason)),
        onError,
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
   * Create each group's topics as subscribe() does — its channels, `<group>.retry` and `<group>.dlt` —
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
      for (const channel of channels) names.add(this.topic(channel));
      names.add(this.topic(group + this.options.retryTopicSuffix));
      names.add(this.topic(group + this.options.deadLetterTopicSuffix));
    }
    await topics.ensure([...names]);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      // A connect still verifying the broker would otherwise hand out a producer closed under it.
      await this.connecting?.catch(() => {});
      await Promise.all([...this.subscriptions].map((s) => s.close()));
      await Promise.allSettled([...this.pending]);
      await this.publisher?.close().catch(() => {});
      await this.topics?.close();
    })();
    return this.closing;
  }

  /** The Kafka topic of a channel or per-group topic: prefixed, and cleaned of what Kafka refuses. */
  private topic(name: string): string {
    return topicName(this.options.topicPrefix + name);
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
