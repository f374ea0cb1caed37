import {
  type Backlog,
  checkSubscribeOptions,
  ConfigError,
  consoleLogger,
  type DeadLetterVisitor,
  type DeliveryHandler,
  errorMessage,
  type GroupTopology,
  hideSecrets,
  type Logger,
  type OutgoingMessage,
  PendingWork,
  type PublishOptions,
  redact,
  safeLogger,
  type SubscribeOptions,
  type Subscription,
  type Transport,
  type TransportCapabilities,
  TransportError,
} from '@org/eventbus';
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { groupBacklog } from './backlog.js';
import { connectNats, followLink, LinkState } from './connection.js';
import { deferredPrefixFor, type NatsTransportOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { scanDeadLetters } from './dead-letters.js';
import { Publisher } from './publisher.js';
import { NatsSubscription, type PullTarget } from './subscription.js';
import {
  DEFERRED_CONSUMER,
  deadLetterStream,
  deferredStream,
  ensureConsumer,
  ensureStreams,
  type Replicas,
  replicasFor,
  reportedClusterSize,
} from './topology.js';
import {
  channelSubject,
  deadLetterChannel,
  deadLetterDurable,
  deadLetterSubject,
  deferredDurable,
  deferredSubject,
  deferredToken,
  groupDurable,
  KEY_HEADER,
  type RawMessage,
} from './wire.js';

interface Connected {
  nc: NatsConnection;
  link: LinkState;
  jsm: JetStreamManager;
  publisher: Publisher;
  /** Sized at connect from the cluster the server reported. */
  replicas: Replicas;
}

/**
 * Transport over NATS JetStream: one stream per subject prefix, a durable pull consumer per group
 * and channel, dead letters in a stream of their own. Moves bytes and settles deliveries; retry
 * policy, decoding and routing stay in core.
 */
export class NatsTransport implements Transport {
  readonly name = 'nats';
  readonly capabilities: TransportCapabilities;
  private readonly options: ResolvedOptions;
  private readonly logger: Logger;
  private connecting: Promise<Connected> | undefined;
  private readonly subscriptions = new Set<NatsSubscription>();
  private readonly publishes = new PendingWork();
  private closing: Promise<void> | undefined;

  constructor(options: NatsTransportOptions) {
    this.options = resolveOptions(options);
    this.logger = safeLogger(options.logger ?? consoleLogger('warn'), { transport: 'nats' });
    const { servers, user, prefix, stream } = this.options;
    hideSecrets(this, () => ({ servers: servers.join(','), ...(user === undefined ? {} : { user }), prefix, stream }));
    this.capabilities = {
      // Both modes name the binding's prefix: a structured-mode bus still reads binary messages (0008).
      encoding: { mode: this.options.wireMode, attributePrefix: 'ce-' },
      // Competing pull consumers with prefetch > 1 (and redelivery) interleave one key's events.
      orderingPerKey: false,
      nativeDelay: true,
      holdsScheduledPublish: false,
      // NATS 2.9 cannot hold a message at publish for every group (no message schedules; a group
      // holds it on receipt instead, one hop: decision 0009).
      maxDelayMs: this.options.maxDelayMs,
      nativeDeadLetter: true,
      unroutedPublish: 'kept',
      maxMessageBytes: this.options.maxMessageBytes,
    };
  }

  connect(): Promise<void> {
    return this.connection().then(() => undefined);
  }

  async publish(messages: readonly OutgoingMessage[], options: PublishOptions = {}): Promise<void> {
    this.assertOpen();
    if (messages.length === 0) return;
    const raw = messages.map((m): RawMessage => {
      const headers = { ...m.headers };
      if (m.key !== undefined && headers['ce-partitionkey'] !== m.key) headers[KEY_HEADER] = m.key;
      return { subject: channelSubject(this.options.prefix, m.channel), id: m.id, headers, body: m.body };
    });
    const { publisher } = await this.connection();
    await this.publishes.track(publisher.publishAll(raw, options.signal));
  }

  async subscribe(options: SubscribeOptions, onDelivery: DeliveryHandler): Promise<Subscription> {
    this.assertOpen();
    checkSubscribeOptions(options);
    const connected = await this.connection();
    const { nc, link } = connected;
    const { group } = options;
    const opts = this.options;
    let targets: PullTarget[];
    try {
      targets = await this.declare(connected, options);
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      throw new TransportError(redact(`cannot set up the consumers of group "${group}": ${errorMessage(error)}`), { cause: error });
    }
    const onError = (error: Error) => options.onError?.(error);
    const subscription = new NatsSubscription(
      {
        nc,
        link,
        group,
        prefetch: options.prefetch,
        deadLetters: options.deadLetters === true,
        ackWaitMs: Math.min(opts.ackWaitMs, ...opts.backoffMs),
        maxDelayMs: opts.maxDelayMs,
        maxDeliver: opts.maxDeliver,
        drainTimeoutMs: opts.drainTimeoutMs,
        pullExpiresMs: opts.pullExpiresMs,
        onError,
        publishDeadLetter: async (headers, body, id) => {
          const { publisher } = await this.connection();
          await publisher.publishDeadLetter({ subject: deadLetterSubject(opts.deadLetterPrefix, group), id, headers, body });
        },
        publishDeferred: async (channel, headers, body, id) => {
          const { publisher } = await this.connection();
          const subject = deferredSubject(deferredPrefixFor(opts.prefix), deferredToken(group, options.deadLetters === true), channel);
          // Like a dead letter, the copy carries what the server already accepted: max_payload bounds it.
          await publisher.publishAll([{ subject, id, headers, body }], undefined, false);
        },
        onClosed: () => this.subscriptions.delete(subscription),
      },
      targets,
      onDelivery,
    );
    this.subscriptions.add(subscription);
    return subscription;
  }

  /** The group's dead letters, one by one (dead-letters.ts); a redrive reaches this group alone. */
  async scanDeadLetters(group: string, visit: DeadLetterVisitor): Promise<void> {
    this.assertOpen();
    const { nc, jsm, publisher } = await this.connection();
    const opts = this.options;
    try {
      await scanDeadLetters(
        {
          nc,
          jsm,
          stream: deadLetterStream(opts),
          subject: deadLetterSubject(opts.deadLetterPrefix, group),
          redrive: (channel, copy) =>
            publisher.publishAll([{ ...copy, subject: deferredSubject(deferredPrefixFor(opts.prefix), deferredToken(group, false), channel) }], undefined, false),
        },
        group,
        visit,
      );
    } catch (error) {
      throw new TransportError(redact(`cannot scan the dead letters of group "${group}": ${errorMessage(error)}`), { cause: error });
    }
  }

  /**
   * Create each group's durable consumers (and the streams) as `subscribe` does, without pulling:
   * from then on the streams keep every event for the group, even with `deliverPolicy: 'new'`.
   */
  async provision(groups: readonly GroupTopology[]): Promise<void> {
    this.assertOpen();
    const connected = await this.connection();
    for (const { group, channels } of groups) {
      try {
        await this.declare(connected, { group, channels, prefetch: 1 });
      } catch (error) {
        if (error instanceof ConfigError) throw error;
        throw new TransportError(redact(`cannot provision the consumers of group "${group}": ${errorMessage(error)}`), { cause: error });
      }
    }
  }

  /**
   * The durable consumers a subscription reads: one per channel, or the group's dead letters; and
   * the reader's deferred copies (one consumer for all its channels: the subject names the channel).
   */
  private async declare(connected: Connected, options: SubscribeOptions): Promise<PullTarget[]> {
    const targets = await this.declareOwn(connected, options);
    const { jsm, replicas } = connected;
    const opts = this.options;
    const stream = deferredStream(opts);
    const prefix = `${deferredPrefixFor(opts.prefix)}.${deferredToken(options.group, options.deadLetters === true)}.`;
    const durable = deferredDurable(deferredToken(options.group, options.deadLetters === true));
    const ensure = () => ensureConsumer(jsm, stream, durable, `${prefix}>`, opts, replicas, DEFERRED_CONSUMER);
    await ensure();
    targets.push({
      stream,
      durable,
      deferred: true,
      channelOf: (subject) => subject.slice(prefix.length),
      ensure: () => ensureStreams(jsm, opts, replicas).then(ensure),
    });
    return targets;
  }

  private async declareOwn({ jsm, replicas }: Connected, options: SubscribeOptions): Promise<PullTarget[]> {
    const opts = this.options;
    const { group } = options;
    if (options.deadLetters) {
      const stream = deadLetterStream(opts);
      const durable = deadLetterDurable(group);
      const ensure = () => ensureConsumer(jsm, stream, durable, deadLetterSubject(opts.deadLetterPrefix, group), opts, replicas);
      await ensure();
      return [{ stream, durable, channelOf: deadLetterChannel, ensure: () => ensureStreams(jsm, opts, replicas).then(ensure) }];
    }
    const targets: PullTarget[] = [];
    for (const channel of new Set(options.channels)) {
      const durable = groupDurable(group, channel);
      const ensure = () => ensureConsumer(jsm, opts.stream, durable, channelSubject(opts.prefix, channel), opts, replicas);
      await ensure();
      // Recreating after a loss also brings back the streams, in case they went too.
      targets.push({ stream: opts.stream, durable, channelOf: () => channel, ensure: () => ensureStreams(jsm, opts, replicas).then(ensure) });
    }
    return targets;
  }

  /** The group's consumers' pending + unacked counts (backlog.ts). */
  async backlog(group: string): Promise<Backlog> {
    const { jsm } = await this.connection();
    return groupBacklog(jsm, this.options, group);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all([...this.subscriptions].map((s) => s.close()));
      await this.publishes.settled();
      const connected = await this.connecting?.catch(() => undefined);
      if (!connected) return;
      connected.publisher.close();
      if (connected.nc.isClosed()) return;
      try {
        await connected.nc.drain();
      } catch {
        await connected.nc.close();
      }
    })();
    return this.closing;
  }

  private connection(): Promise<Connected> {
    this.assertOpen();
    this.connecting ??= this.open();
    // A failed first connect may be retried by the next call.
    this.connecting.catch(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async open(): Promise<Connected> {
    const opts = this.options;
    const nc = await connectNats(opts);
    try {
      const jsm = await jetstreamManager(nc);
      const replicas = replicasFor(opts, reportedClusterSize(nc.info));
      await ensureStreams(jsm, opts, replicas);
      const link = new LinkState();
      const publisher = new Publisher(nc, link, {
        timeoutMs: opts.publishTimeoutMs,
        concurrency: opts.publishConcurrency,
        maxMessageBytes: opts.maxMessageBytes,
      });
      void followLink(nc, link, this.logger, {
        disconnected: () => publisher.disconnected(),
        reconnected: () => {
          for (const s of this.subscriptions) s.reconnected();
        },
      });
      return { nc, link, jsm, publisher, replicas };
    } catch (error) {
      await nc.close().catch(() => undefined);
      if (error instanceof ConfigError) throw error;
      throw new TransportError(redact(`cannot set up JetStream streams: ${errorMessage(error)}`), { cause: error });
    }
  }

  private assertOpen(): void {
    if (this.closing) throw new TransportError('nats transport is closed');
  }
}
