import { errorMessage } from '../errors.js';
import type { DeliveryOutcome, Instrumentation, ReceiveInfo, ReceiveScope } from '../tracing/hooks.js';
import type { Delivery, NackOptions } from '../transport.js';

/**
 * Sits between the pipeline and one delivery and tells the instrumentation's `receive` scope how the
 * delivery was actually settled — whoever settled it: the pipeline's ack of a success, the retry
 * middleware's nack, the dead-letter middleware, a handler's own `ctx.nack`/`ctx.deadLetter`, a defer,
 * a poison dead-letter. Watching the Delivery itself (not the middleware chain) is what makes every
 * path count exactly once.
 */
export class SettleTap {
  readonly delivery: Delivery;
  private scope: ReceiveScope | undefined;
  private settling = false;
  private ended = false;
  private brokenReason: string | undefined;
  private startOnSettle: ReceiveInfo | undefined;

  constructor(
    private readonly instrumentation: Instrumentation,
    inner: Delivery,
  ) {
    const settle = <A extends unknown[]>(outcome: DeliveryOutcome, action: (...args: A) => Promise<void>, detail: (...args: A) => Detail) =>
      (...args: A) => this.settle(outcome, () => action(...args), detail(...args));
    // A view of the delivery (as watchHandBack makes of a context): whatever else a Delivery carries
    // reads through to the original; only the settles are watched, and each calls the original.
    const view = Object.create(inner) as Delivery;
    this.delivery = Object.assign(view, {
      ack: settle('ack', () => inner.ack(), () => ({})),
      nack: settle('nack', (options?: NackOptions) => inner.nack(options), (options?: NackOptions) =>
        options?.delayMs === undefined ? {} : { delayMs: options.delayMs },
      ),
      deadLetter: settle('dead-letter', (reason: string) => inner.deadLetter(reason), (reason: string) => ({ reason })),
      defer: settle('defer', (notBefore: number, headers: Record<string, string>) => inner.defer(notBefore, headers), (notBefore: number) => ({
        delayMs: Math.max(0, notBefore - Date.now()),
      })),
    });
  }

  /** The delivery starts being handled now (in flight from here until its settle completes). */
  start(info: ReceiveInfo): void {
    this.scope = this.instrumentation.receive?.(info);
  }

  /**
   * Observe the delivery only if it is settled through this tap (the receive check, which settles
   * early or cancelled scheduled events and passes every other on): started at that settle.
   */
  startWhenSettled(info: ReceiveInfo): void {
    this.startOnSettle = info;
  }

  /** The chain broke (a middleware threw past dead-letter): whatever settle follows is reported as `error`. */
  broke(error: unknown): void {
    this.brokenReason = errorMessage(error);
  }

  /** The pipeline is done with the delivery: one that was never settled through the tap is an `error`. */
  finish(): void {
    if (!this.settling) this.end({ outcome: 'error', reason: this.brokenReason ?? 'the delivery was not settled by the pipeline' });
  }

  private async settle(outcome: DeliveryOutcome, action: () => Promise<void>, detail: Detail): Promise<void> {
    // The Delivery itself makes later settles no-ops; only the first one is the outcome.
    const first = !this.settling;
    this.settling = true;
    if (first && this.startOnSettle) this.start(this.startOnSettle);
    try {
      await action();
    } catch (error) {
      if (first) this.end({ outcome: 'error', reason: errorMessage(error) });
      throw error;
    }
    if (!first) return;
    if (this.brokenReason !== undefined) this.end({ outcome: 'error', reason: this.brokenReason });
    else this.end({ outcome, ...detail });
  }

  private end(outcome: Parameters<ReceiveScope['end']>[0]): void {
    if (this.ended) return;
    this.ended = true;
    this.scope?.end(outcome);
  }
}

type Detail = { reason?: string; delayMs?: number };

/** A tap for a delivery when the instrumentation watches deliveries, otherwise none (no cost). */
export function tapSettles(instrumentation: Instrumentation | undefined, delivery: Delivery): SettleTap | undefined {
  return instrumentation?.receive ? new SettleTap(instrumentation, delivery) : undefined;
}
