import { encodeEvent } from './codec.js';
import { type EventContract, parseData } from './contract.js';
import { type CloudEvent, createEnvelope, type EnvelopeOptions } from './envelope.js';
import { ConfigError, EventBusError, MessageTooLargeError, ValidationError } from './errors.js';
import type { EmitOptions, HandleOptions, HandlerRegistration } from './handler.js';
import { EventbusHeaders, fitsIn, messageSize } from './headers.js';
import { type BuiltEvent, holdEmits, openHoldOf } from './middleware/hold-emits.js';
import type { HeldEmit, MessageContext, Middleware } from './context.js';
import type { Instrumentation } from './tracing/hooks.js';
import { type ScheduleOptions, scheduledTime, withoutSchedule } from './schedule.js';
import type { OutgoingMessage, PublishOptions, Transport } from './transport.js';

export interface PublishEventOptions extends EnvelopeOptions, PublishOptions, ScheduleOptions {}

/** What one event is built from: its envelope options and, for a scheduled publish, when it may be handled. */
export type BuildOptions = EnvelopeOptions & ScheduleOptions;

/** When `ctx.emit` publishes: once the handler succeeded (default), or at the call. */
export type EmitTiming = NonNullable<HandleOptions['emit']>;

/** Publishes an event caused by the delivery in `ctx` (what `ctx.emit` calls). */
export type Emitter = (ctx: MessageContext, contract: EventContract, data: unknown, options?: EmitOptions) => Promise<CloudEvent>;

export interface PublisherOptions {
  transport: Transport;
  source: string;
  maxMessageBytes: number;
  instrumentation: Instrumentation | undefined;
  /** Makes the contract decodable by this bus (publishing a type registers it). */
  register(contract: EventContract): void;
  /** Throws when the bus may no longer publish. */
  assertCanPublish(): void;
}

const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;
const NO_BODY = new Uint8Array(0);

/**
 * A message for a transport that carries the event object itself: nothing encoded, nothing to size.
 * A scheduled one keeps its time in the one header the receive check reads.
 */
function carried(channel: string, event: CloudEvent, at: number | undefined): OutgoingMessage {
  const headers = at === undefined ? NO_HEADERS : { [EventbusHeaders.deliverAt]: String(at) };
  return { channel, id: event.id, headers, body: NO_BODY, event };
}

/**
 * The publish path of one bus: validate → envelope → encode (or carry) → size check → send, with an
 * instrumentation scope around each event; and `ctx.emit`, held until the handler succeeded or sent at once.
 */
export class Publisher {
  private readonly carriesEvents: boolean;

  constructor(private readonly options: PublisherOptions) {
    this.carriesEvents = options.transport.capabilities.carriesEvents === true;
  }

  /** Validate, envelope and encode as publishing would, without sending and without a send span. */
  encode(contract: EventContract, data: unknown, buildOptions: BuildOptions = {}): HeldEmit {
    const at = scheduledTime(buildOptions);
    const parsed = this.validated(contract, data);
    const event = createEnvelope(contract.type, contract.version, this.options.source, parsed, withoutSchedule(buildOptions));
    return { event, message: this.messageFor(contract, event, at) };
  }

  /**
   * Build one event for sending, scheduled for `at` (`scheduledTime` of its options, or a batch's
   * time); a send span is opened and, if building fails, ended with the reason.
   */
  build(contract: EventContract, data: unknown, buildOptions: BuildOptions, cause: MessageContext | undefined, at: number | undefined): BuiltEvent {
    const envelopeOptions = withoutSchedule(buildOptions);
    const parsed = this.validated(contract, data);
    const { transport, instrumentation, source } = this.options;
    const scope = instrumentation?.send?.({
      contract,
      channel: contract.channel,
      transport: transport.name,
      options: envelopeOptions,
      ...(cause ? { cause } : {}),
    });
    try {
      const event = createEnvelope(contract.type, contract.version, source, parsed, scope?.options ?? envelopeOptions);
      return { event, message: this.messageFor(contract, event, at), scope };
    } catch (error) {
      // A send span opened for an event that never left must still end, with the reason.
      scope?.end({ error });
      throw error;
    }
  }

  /** Publish built events in one transport call and tell each scope how it went. */
  readonly send = async (built: BuiltEvent[], publishOptions: PublishOptions = {}): Promise<void> => {
    const { transport, instrumentation } = this.options;
    const events = instrumentation?.publish ? built.map((b) => ({ event: b.event, channel: b.message.channel })) : [];
    const call = instrumentation?.publish?.({ transport: transport.name, events });
    try {
      await transport.publish(
        built.map((b) => b.message),
        publishOptions,
      );
    } catch (error) {
      call?.end({ error });
      for (const b of built) b.scope?.end({ event: b.event, error });
      throw error;
    }
    call?.end({});
    for (const b of built) b.scope?.end({ event: b.event });
  };

  async publishOne(contract: EventContract, data: unknown, publishOptions: PublishEventOptions, cause?: MessageContext): Promise<CloudEvent> {
    this.options.assertCanPublish();
    const { signal, ...envelopeOptions } = publishOptions;
    const built = this.build(contract, data, envelopeOptions, cause, scheduledTime(envelopeOptions));
    await this.send([built], signal ? { signal } : {});
    return built.event;
  }

  /** The call's `delay` / `deliverAt` apply to every entry (one time for all, so their order holds); an entry's own win. */
  async publishBatch(
    entries: readonly { contract: EventContract; data: unknown; options?: BuildOptions }[],
    publishOptions: PublishOptions & ScheduleOptions,
  ): Promise<CloudEvent[]> {
    this.options.assertCanPublish();
    const { signal } = publishOptions;
    const callAt = scheduledTime(publishOptions);
    const built: BuiltEvent[] = [];
    try {
      for (const e of entries) {
        const own = e.options?.delay !== undefined || e.options?.deliverAt !== undefined;
        built.push(this.build(e.contract, e.data, e.options ?? {}, undefined, own ? scheduledTime(e.options) : callAt));
      }
    } catch (error) {
      // One bad entry publishes nothing: close the spans already opened for the others.
      for (const b of built) b.scope?.end({ event: b.event, error });
      throw error;
    }
    if (built.length > 0) await this.send(built, signal ? { signal } : {});
    return built.map((b) => b.event);
  }

  /** The middleware that holds `ctx.emit` until the attempt succeeded (placed right inside retry). */
  holdEmits(): Middleware {
    return holdEmits(this.send);
  }

  /** What `ctx.emit` does for one registration; the declared set is computed once, not per delivery. */
  emitterFor(registration: HandlerRegistration, timing: EmitTiming): Emitter {
    const declared = new Set(registration.emits.map((e) => e.type));
    return (ctx, contract, data, emitOptions = {}) => {
      if (!declared.has(contract.type)) {
        return Promise.reject(
          new ConfigError('emits', `handler "${registration.name}" emitted "${contract.type}" but declares only [${[...declared].join(', ')}]`),
        );
      }
      const incoming = ctx.event;
      const chainOptions: PublishEventOptions = {
        ...emitOptions,
        causationId: incoming.id,
        correlationId: incoming.correlationid ?? incoming.id,
      };
      if (incoming.traceparent !== undefined) chainOptions.traceparent = incoming.traceparent;
      if (incoming.tracestate !== undefined) chainOptions.tracestate = incoming.tracestate;
      if (timing === 'immediate') return this.publishOne(contract, data, chainOptions, ctx);
      return this.hold(ctx, contract, data, chainOptions);
    };
  }

  /** Build now (so a bad emit rejects at the call), publish when the attempt succeeded. */
  private hold(ctx: MessageContext, contract: EventContract, data: unknown, options: BuildOptions): Promise<CloudEvent> {
    try {
      this.options.assertCanPublish();
      const hold = openHoldOf(ctx);
      if (!hold) {
        throw new EventBusError(
          `"${contract.type}" emitted after the handler's attempt ended; await ctx.emit inside the handler (or use emit: 'immediate')`,
        );
      }
      const built = this.build(contract, data, options, ctx, scheduledTime(options));
      hold.add(built);
      return Promise.resolve(built.event);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private validated(contract: EventContract, data: unknown): unknown {
    const parsed = parseData(contract, data);
    if (!parsed.ok) throw new ValidationError(contract.type, parsed.issues);
    this.options.register(contract);
    return parsed.data;
  }

  /**
   * A scheduled event (`at`) carries its time twice: `notBefore` for a transport that holds it at
   * publish, and the `eventbus-deliver-at` header, which every copy keeps, for core's receive check.
   */
  private messageFor(contract: EventContract, event: CloudEvent, at: number | undefined): OutgoingMessage {
    const message = this.carriesEvents ? carried(contract.channel, event, at) : this.encoded(contract, event, at);
    if (event.partitionkey !== undefined) message.key = event.partitionkey;
    if (at !== undefined) message.notBefore = at;
    return message;
  }

  private encoded(contract: EventContract, event: CloudEvent, at: number | undefined): OutgoingMessage {
    const { transport, maxMessageBytes } = this.options;
    const { headers, body } = encodeEvent(event, transport.capabilities.encoding);
    if (at !== undefined) headers[EventbusHeaders.deliverAt] = String(at);
    const message: OutgoingMessage = { channel: contract.channel, id: event.id, headers, body };
    if (!fitsIn(message, maxMessageBytes)) {
      throw new MessageTooLargeError(messageSize(message), maxMessageBytes, `event "${contract.type}"`);
    }
    return message;
  }
}
