import {
  checkSubscribeOptions,
  type DeliveryHandler,
  deadLetterHeaders,
  MessageTooLargeError,
  nextAttemptHeaders,
  type OutgoingMessage,
  type PublishOptions,
  redact,
  type SubscribeOptions,
  type Subscription,
  type Transport,
  type TransportCapabilities,
  TransportError,
} from '@org/eventbus';
import { Admin, Consumer, ProduceAcks, Producer } from '@platformatic/kafka';
import { clientClass } from './endpoint.js';
import { type KafkaTransportOptions, type ResolvedKafkaOptions, resolveOptions } from './options.js';
import type { Entry } from './partition-state.js';
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

  constructor(options: KafkaTransportOptions) {
    this.options = resolveOptions(options);
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
      throw new TransportError(redact(`cannot reach Kafka at ${this.options.brokers.join(',')}: ${errorMessage(error)}`));
    }
    this.connected = true;
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
    const republish = (topic: string, entry: Entry, headers: Record<string, string>) => {
      const record = this.writer.record(topic, { ...entry.message, headers });
      return this.track(this.send([record], this.writer.requestBytes));
    };
    const subscription: KafkaSubscription = new KafkaSubscription(
      {
        groupId,
        topics: read,
        prefetch: options.prefetch,
        createConsumer: () =>
          new ConsumerClass({
            ...this.base(),
            groupId,
            sessionTimeout: resolved.sessionTimeoutMs,
            heartbeatInterval: resolved.heartbeatIntervalMs,
            rebalanceTimeout: resolved.rebalanceTimeoutMs,
            autocommit: false,
          }),
        nack: (entry, delayMs) => {
          const delivery = { message: entry.message, attempt: entry.attempt };
          const notBefore = delayMs && delayMs > 0 ? Date.now() + Math.min(delayMs, MAX_DELAY_MS) : undefined;
          const headers = nextAttemptHeaders(delivery as Parameters<typeof nextAttemptHeaders>[0], notBefore);
          // A dead letter nacked by its reader stays a dead letter; anything else goes round the retry topic.
          if (options.deadLetters) return republish(deadLetterTopic, entry, headers);
          return republish(retryTopic, entry, { ...headers, [RETRY_CHANNEL_HEADER]: entry.message.channel });
        },
        deadLetter: (entry, reason) => {
          const delivery = { message: entry.message, attempt: entry.attempt };
          return republish(deadLetterTopic, entry, deadLetterHeaders(delivery as Parameters<typeof deadLetterHeaders>[0], group, reason));
        },
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
