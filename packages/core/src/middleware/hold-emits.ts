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

/** Where the open hold of an attempt waits in `ctx.state`; shared by every view of the context. */
const HOLD = Symbol('eventbus.heldEmits');

/** What one attempt emitted and has not published yet. */
export class EmitHold implements HeldEmits {
  private held: BuiltEvent[] = [];

  constructor(private readonly send: SendBuilt) {}

  get size(): number {
    return this.held.length;
  }

  add(built: BuiltEvent): void {
    this.held.push(built);
  }

  take(): HeldEmit[] {
    const taken = this.held;
    this.held = [];
    // Handed over (to an outbox): the send span ends here, as a publish would end it on confirm.
    for (const b of taken) b.scope?.end({ event: b.event });
    return taken.map(({ event, message }) => ({ event, message }));
  }

  async flush(): Promise<void> {
    if (this.held.length === 0) return;
    const sending = this.held;
    this.held = [];
    await this.send(sending);
  }

  /** The attempt failed: nothing it emitted leaves; each send span ends with the reason. */
  drop(reason: unknown): void {
    const dropped = this.held;
    this.held = [];
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
export function openHoldOf(state: ReadonlyMap<string | symbol, unknown> | undefined): EmitHold | undefined {
  const hold = state?.get(HOLD);
  return hold instanceof EmitHold ? hold : undefined;
}

/**
 * Emit after success: a fresh hold for each attempt, the rest of the chain, then one flush — before
 * the pipeline acks. A throw, a nack or a dead-letter drops the hold (the retry emits afresh); a failed flush throws to retry
 * like a failed handler. Placed right inside `retry` by the bus.
 */
export function holdEmits(send: SendBuilt): Middleware {
  return (next) => async (ctx: MessageContext) => {
    const hold = new EmitHold(send);
    ctx.state.set(HOLD, hold);
    const watch = watchHandBack(ctx);
    try {
      await next(watch.ctx);
    } catch (error) {
      hold.drop(error);
      throw error;
    } finally {
      // A late, unawaited emit finds no hold and rejects rather than leaving after the ack.
      ctx.state.delete(HOLD);
    }
    // A handler that nacked or dead-lettered its delivery did not succeed: what it emitted stays unsaid.
    if (watch.handedBack()) hold.drop(new Error('the handler handed its delivery back (nack or dead-letter)'));
    else await hold.flush();
  };
}
