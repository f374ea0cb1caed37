/**
 * A transport with no broker behind it, for measuring what the bus itself costs per event: `publish`
 * hands each encoded message to the subscriber through core's DeliveryTracker (as every adapter
 * does), in a later macrotask as a socket read would, and an ack costs nothing. What is left of a
 * run's CPU is core's publish path (validate, envelope, encode) and receive path (decode, validate,
 * pipeline, settle), plus the tracker every adapter shares.
 */
import {
  DeliveryTracker,
  type DeliveryHandler,
  type OutgoingMessage,
  type Subscription,
  type Transport,
  type TransportCapabilities,
  type WireEncoding,
} from '@org/eventbus';

export type NullWire = 'structured' | 'binary';

/** RabbitMQ's encodings (its `wireMode`), so the codec does what it does there. */
const ENCODINGS: Record<NullWire, WireEncoding> = {
  structured: { mode: 'structured', attributePrefix: 'cloudEvents_', contentTypeHeader: 'content-type' },
  binary: { mode: 'binary', attributePrefix: 'cloudEvents_', contentTypeHeader: 'content-type' },
};

export class NullTransport implements Transport {
  readonly name = 'null';
  readonly capabilities: TransportCapabilities;
  private readonly trackers: DeliveryTracker<undefined>[] = [];

  constructor(wire: NullWire = 'structured') {
    this.capabilities = {
      encoding: ENCODINGS[wire],
      orderingPerKey: false,
      nativeDelay: false,
      maxDelayMs: 60_000,
      holdsScheduledPublish: false,
      nativeDeadLetter: false,
      maxMessageBytes: 1024 * 1024,
      unroutedPublish: 'kept',
    };
  }

  async connect(): Promise<void> {}
  async provision(): Promise<void> {}
  async close(): Promise<void> {}

  /** Shared by the publisher's and the consumer's transport, like a broker: see `connectTo`. */
  publish(messages: readonly OutgoingMessage[]): Promise<void> {
    const targets = this.peers.flatMap((peer) => peer.trackers);
    setImmediate(() => {
      for (const { channel, headers, body } of messages) {
        for (const tracker of targets) tracker.dispatch(undefined, { channel, headers, body }, 1);
      }
    });
    return Promise.resolve();
  }

  private peers: NullTransport[] = [this];
  /** Publishes of this transport reach the subscriptions of `consumer` (one "broker" for the two). */
  connectTo(consumer: NullTransport): this {
    this.peers = [consumer];
    return this;
  }

  async subscribe(_options: unknown, handler: DeliveryHandler): Promise<Subscription> {
    const noop = () => {};
    const tracker = new DeliveryTracker<undefined>({
      actions: { ack: noop, nack: noop, deadLetter: noop, defer: noop, redeliver: noop },
      handler,
      onError: (error) => console.error(error),
      drainTimeoutMs: 1000,
    });
    this.trackers.push(tracker);
    return { close: async () => void (await tracker.drain()) };
  }
}
