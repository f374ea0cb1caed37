import type { CloudEvent } from '../envelope.js';
import type { SendScope } from '../tracing/hooks.js';
import type { OutgoingMessage } from '../transport.js';
import { type HeldEmit, type HeldEmits, type MessageContext, type Middleware, watchHandBack } from '../context.js';

/** An event built for sending: its envelope, its transport message and the send span opened for it. */
export interface BuiltEvent {
  readonly event: CloudEvent;
  readonly message: OutgoingMessage;
  readonly scope: SendScope | undefined;
}

/** Publishes built events in one transport call and ends their scopes (what `publishBatch` does after building). */
export type SendBuilt = (built: BuiltEvent[]) => Promise<void>;

/** Where the open hold of an attempt waits in `ctx.state` of a context of another making (a test's). */
const HOLD = Symbol('eventbus.heldEmits');

/**
 * Where the pipeline's own context keeps the open hold: a slot of its own, read and written through
 * any view (`Object.create(ctx)`), so holding costs no `ctx.state` map per delivery.
 */
export const HOLD_SLOT: unique symbol = Symbol('eventbus.openHold');

/** A context with the hold slot (the pipeline's). */
export interface HoldSlot {
  [HOLD_SLOT]: EmitHold | undefined;
}

/** What one attempt emitted and has not published yet. */
export class EmitHold implements HeldEmits {
  /** Made at the first emit: most attempts emit nothing. */
  private held: BuiltEvent[] | undefined;

  constructor(private readonly send: SendBuilt) {}

  get size(): number {
    return this.held?.length ?? 0;
  }

  add(built: BuiltEvent): void {
    if (this.held === undefined) this.held = [built];
    else this.held.push(built);
  }

  take(): HeldEmit[] {
    const taken = this.held ?? [];
    this.held = undefined;
    // Handed over (to an outbox): the send span ends here, as a publish would end it on confirm.
    for (const b of taken) b.scope?.end({ event: b.event });
    return taken.map(({ event, message }) => ({ event, message }));
  }

  async flush(): Promise<void> {
    const sending = this.held;
    if (sending === undefined || sending.length === 0) return;
    this.held = undefined;
    await this.send(sending);
  }

  /** The attempt failed: nothing it emitted leaves; each send span ends with the reason. */
  drop(reason: unknown): void {
    const dropped = this.held;
    if (dropped === undefined || dropped.length === 0) return;
    this.held = undefined;
    const error = new Error(`emit dropped: the handler failed (${reason instanceof Error ? reason.message : String(reason)})`);
    for (const b of dropped) b.scope?.end({ event: b.event, error });
  }
}

/** Nothing held and nothing to hold: `ctx.emits` outside a hold (`emit: 'immediate'`). */
export const NO_HELD_EMITS: HeldEmits = Object.freeze({
  take: () => [],
  flush: () => Promise.resolve(),
  size: 0,
});

/** The hold open for this attempt, if any. */
export function openHoldOf(ctx: MessageContext): EmitHold | undefined {
  if (HOLD_SLOT in ctx) return (ctx as MessageContext & HoldSlot)[HOLD_SLOT];
  const hold = ctx.state.get(HOLD);
  return hold instanceof EmitHold ? hold : undefined;
}

function setOpenHold(ctx: MessageContext, hold: EmitHold | undefined): void {
  if (HOLD_SLOT in ctx) (ctx as MessageContext & HoldSlot)[HOLD_SLOT] = hold;
  else if (hold) ctx.state.set(HOLD, hold);
  else ctx.state.delete(HOLD);
}

const HANDED_BACK = 'the handler handed its delivery back (nack or dead-letter)';

/**
 * Emit after success: a fresh hold for each attempt, the rest of the chain, then one flush — before
 * the pipeline acks. A throw, a nack or a dead-letter drops the hold (the retry emits afresh); a failed flush throws to retry
 * like a failed handler. Placed right inside `retry` by the bus.
 */
export function holdEmits(send: SendBuilt): Middleware {
  return (next) => async (ctx: MessageContext) => {
    const hold = new EmitHold(send);
    setOpenHold(ctx, hold);
    const watch = watchHandBack(ctx);
    try {
      await next(watch.ctx);
    } catch (error) {
      hold.drop(error);
      throw error;
    } finally {
      // A late, unawaited emit finds no hold and rejects rather than leaving after the ack.
      setOpenHold(ctx, undefined);
    }
    // Nothing emitted (most handlers): nothing to flush or drop, and no promise to wait for.
    if (hold.size === 0) return;
    // A handler that nacked or dead-lettered its delivery did not succeed: what it emitted stays unsaid.
    if (watch.handedBack()) hold.drop(new Error(HANDED_BACK));
    else await hold.flush();
  };
}
