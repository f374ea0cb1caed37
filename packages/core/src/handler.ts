import type { BackoffOptions } from './backoff.js';
import type { EventContract, EventData, EventInput } from './contract.js';
import type { CloudEvent, EnvelopeOptions } from './envelope.js';
import type { MessageContext, Middleware } from './context.js';
import type { ScheduleOptions } from './schedule.js';

/** A delivered event: the CloudEvents envelope with data typed by its contract. */
export type Event<C extends EventContract> = CloudEvent<EventData<C>>;

/** `delay` / `deliverAt` schedule the emitted event (counted from the `emit` call; a held emit keeps them). */
export type EmitOptions = Pick<EnvelopeOptions, 'id' | 'subject' | 'key'> & ScheduleOptions;

/** The handler's context: the message context plus `emit`, typed to the events the handler declared. */
export interface HandlerContext<TEmits extends EventContract = never> extends MessageContext {
  emit<C extends TEmits>(contract: C, data: EventInput<C>, options?: EmitOptions): Promise<CloudEvent<EventData<C>>>;
}

export type Handler<C extends EventContract, TEmits extends EventContract = never> = (
  event: Event<C>,
  ctx: HandlerContext<TEmits>,
) => Promise<void> | void;

export interface HandleOptions<TEmits extends readonly EventContract[] = readonly EventContract[]> {
  /** Consumer group; defaults to the bus's `group` (or its `source`). */
  group?: string;
  /** Events this handler may publish through `ctx.emit`: the edges of the event graph. */
  emits?: TEmits;
  /**
   * When `ctx.emit` publishes. `'after-success'` (default): built and checked at the call, held, and
   * published once the handler and the middleware inside the hold resolved, before the ack — a
   * failed attempt emits nothing. `'immediate'`: published at the call, before the handler ends.
   */
  emit?: 'after-success' | 'immediate';
  /** Attempts before dead-lettering (≥ 1). */
  maxAttempts?: number;
  backoff?: Partial<BackoffOptions>;
  /** Per-attempt time limit in ms. */
  timeout?: number;
  /** Handlers of this registration running at once in this process. */
  concurrency?: number;
  /** Middleware for this handler only, inside the bus's own. */
  middleware?: readonly Middleware[];
  /** A name for logs and the event graph; defaults to `<group>:<type>`. */
  name?: string;
}

/** One `bus.handle(...)` call, as the router and the event graph see it. */
export interface HandlerRegistration {
  readonly name: string;
  readonly contract: EventContract;
  readonly group: string;
  readonly emits: readonly EventContract[];
  readonly maxAttempts: number;
  readonly concurrency: number;
}
