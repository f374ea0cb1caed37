import type { CloudEvent } from './envelope.js';

/**
 * The one interface between eventbus and a broker. An adapter moves bytes and settles deliveries;
 * decoding, validation, retry policy and routing all live in core.
 */

/** How a transport wants CloudEvents laid out on its wire (the binding for that protocol). */
export type WireEncoding =
  | {
      mode: 'binary';
      /** Prefix of attribute headers: `ce_` (Kafka), `ce-` (NATS), `cloudEvents_` (AMQP). */
      attributePrefix: string;
      /** Header that carries `datacontenttype`; omit to send it as a prefixed attribute. */
      contentTypeHeader?: string;
    }
  | {
      mode: 'structured';
      /**
       * The binding's attribute prefix, when the adapter has a binary binding: messages that carry
       * `<prefix>specversion` are then read as binary (plain clients and the SDK may send either).
       */
      attributePrefix?: string;
      /** The binding's `datacontenttype` header, for reading binary messages (see above). */
      contentTypeHeader?: string;
    };

export interface TransportCapabilities {
  encoding: WireEncoding;
  /** Events with one key are delivered in publish order within a group (until the first retry). */
  orderingPerKey: boolean;
  /** The broker itself holds a nacked message back for `delayMs` (no sleeping consumer). */
  nativeDelay: boolean;
  /** The longest nack delay (and `defer` hold) honoured in one step; core chains longer waits as hops. */
  maxDelayMs: number;
  /**
   * `publish` keeps a message whose `notBefore` is in the future from every group until then (up to
   * `maxDelayMs` ahead; core's receive check defers anything that still arrives early). False: the
   * message is delivered at once and each group's pipeline defers it on receipt (docs/delays.md).
   */
  holdsScheduledPublish: boolean;
  /** The broker keeps dead letters in a destination of its own. */
  nativeDeadLetter: boolean;
  /** Largest encoded message (headers + body) the transport accepts. */
  maxMessageBytes: number;
  /**
   * The transport lives in this process and carries the event object itself (`message.event`) in
   * place of encoded bytes, so core skips encoding, decoding and the size check. Only the memory
   * transport created with `serialize: false` does; a broker adapter never sets it.
   */
  carriesEvents?: boolean;
  /**
   * What a publish to a channel that no group has subscribed to or been provisioned for does
   * (docs/edges.md): `rejected` — the publish rejects with an `UnroutableError` naming the channel
   * (the broker or transport can tell at publish time); `kept` — the broker keeps the event and the
   * first group that subscribes receives it (NATS stream, Kafka topic). Never a silent loss.
   */
  unroutedPublish: 'rejected' | 'kept';
}

/** A message handed to `publish`: already encoded by core. */
export interface OutgoingMessage {
  channel: string;
  /** The event id, for brokers that deduplicate (NATS Msg-Id, SQS FIFO). */
  id: string;
  /** Ordering key (Kafka key, SQS FIFO message group). */
  key?: string;
  headers: Record<string, string>;
  body: Uint8Array;
  /** The event itself, with empty headers and body, when the transport `carriesEvents`. */
  event?: CloudEvent;
  /**
   * Scheduled publish: not to be handled before this time (ms since epoch). Core also writes it into
   * the `eventbus-deliver-at` header, so a transport that cannot hold it needs to do nothing.
   */
  notBefore?: number;
}

/** A message as it came off the broker. */
export interface ReceivedMessage {
  channel: string;
  key?: string;
  headers: Record<string, string>;
  body: Uint8Array;
  /** Set only by a transport that `carriesEvents`; never by a broker adapter. */
  event?: CloudEvent;
}

export interface NackOptions {
  /** Hold the message back at least this long before redelivering it. */
  delayMs?: number;
}

/** One delivery of one message to one group. Settle it exactly once. */
export interface Delivery {
  readonly message: ReceivedMessage;
  /** 1 on first delivery, rising with every redelivery (kept in headers or by the broker). */
  readonly attempt: number;
  ack(): Promise<void>;
  nack(options?: NackOptions): Promise<void>;
  /** Move the message, intact, to the group's dead-letter destination with this reason. */
  deadLetter(reason: string): Promise<void>;
  /**
   * Not now: put a copy carrying `headers` (core's `deferHeaders`: the same attempt, the hold time)
   * back for THIS group only, not handed out before `notBefore` (ms since epoch) — or earlier when
   * the wait is beyond the transport's `maxDelayMs`, and core defers it again on receipt — then
   * settle this one. Not a failed attempt: the next delivery carries the same `attempt`.
   */
  defer(notBefore: number, headers: Record<string, string>): Promise<void>;
}

export type DeliveryHandler = (delivery: Delivery) => void | Promise<void>;

export interface SubscribeOptions {
  /** Consumer group: members compete, every group gets every event. */
  group: string;
  channels: readonly string[];
  /**
   * Event types the group handles, given when its channels also carry types it does not handle. A
   * transport may filter on them at the broker (an SNS filter policy); core still dispatches by type,
   * so ignoring it is correct.
   */
  types?: readonly string[];
  /** Most deliveries outstanding (unsettled) at once for this subscription. */
  prefetch: number;
  /** Read the group's dead letters instead of its live channels. */
  deadLetters?: boolean;
  /** Errors of the subscription itself (lost connection, failed settle). */
  onError?: (error: Error) => void;
}

export interface Subscription {
  /**
   * Stop taking deliveries at once; resolve when every delivery already handed out has been settled
   * (or the transport's drain timeout passed) and broker resources are released. Idempotent.
   */
  close(): Promise<void>;
}

/** One group's topology, as `provision` declares it: what `subscribe` would create, without consuming. */
export interface GroupTopology {
  group: string;
  channels: readonly string[];
  /** As `SubscribeOptions.types`: given when the group's channels also carry types it does not handle. */
  types?: readonly string[];
}

export interface PublishOptions {
  signal?: AbortSignal;
}

/** What a broker can tell of one group's backlog (`Transport.backlog`). */
export interface Backlog {
  /** Events kept for the group and not yet settled: waiting, held for a retry, and in flight (Kafka's lag). */
  messages: number;
  /** Age of the oldest of them, where the broker knows it. */
  oldestAgeMs?: number;
  /** Of `messages`, those handed to a consumer and not yet settled, where the broker tells it. */
  inFlight?: number;
}

/**
 * What a dead-letter scan does with one dead letter (docs/operations.md): leave it where it is,
 * remove it, or put a copy carrying `headers` back on the group's live queue (that group only, the
 * body unchanged) and then remove it.
 */
export type DeadLetterAction = { action: 'keep' } | { action: 'purge' } | { action: 'redrive'; headers: Record<string, string> };

export type DeadLetterVisitor = (message: ReceivedMessage) => DeadLetterAction | Promise<DeadLetterAction>;

export interface Transport {
  /** Short name for logs and spans: "memory", "rabbitmq", "kafka", "nats", "sqs". */
  readonly name: string;
  readonly capabilities: TransportCapabilities;
  /**
   * Open the connection and check the broker answers. Idempotent, and optional: `publish` and
   * `subscribe` connect on first use, since a publish-only bus never calls `start()`.
   */
  connect(): Promise<void>;
  /** Resolves only when the broker has confirmed every message; rejects if any was refused. */
  publish(messages: readonly OutgoingMessage[], options?: PublishOptions): Promise<void>;
  subscribe(options: SubscribeOptions, onDelivery: DeliveryHandler): Promise<Subscription>;
  /**
   * Declare these groups' topology (queues, bindings, durable consumers, subscriptions) without
   * consuming, so events published before the first worker starts are kept for each group. What
   * `subscribe` would declare, idempotent; `bus.provision()` and `eventbus provision` call it.
   */
  provision(groups: readonly GroupTopology[]): Promise<void>;
  /**
   * Visit each dead letter of `group` that is there when the scan starts, oldest first, once, and
   * carry out what `visit` answers before visiting the next (a redrive's copy is confirmed before
   * the dead letter is removed). Dead letters added during the scan wait for the next one. Optional:
   * core's `deadLetters()` says clearly when a transport has none.
   */
  scanDeadLetters?(group: string, visit: DeadLetterVisitor): Promise<void>;
  /** Close every subscription (draining), flush publishes, release the connection. Idempotent. */
  close(): Promise<void>;
  /**
   * Optional: the group's backlog as the broker tells it (metrics' `eventbus.backlog` gauge). A
   * transport that cannot tell leaves it out; one that can, answers cheaply (it is polled).
   */
  backlog?(group: string): Promise<Backlog>;
}
