/**
 * Where `bus.cancelScheduled(id)` records that a scheduled event must not run. The receive check
 * asks it only for an event that carries a scheduled time (`eventbus-deliver-at`) once that time
 * has come, never for every event. Several processes need one shared store (`RedisScheduleCancellations`).
 */
export interface ScheduleCancellations {
  /** Record the cancellation of event `id`; keep it until `keepUntil` (ms since epoch). */
  cancel(id: string, keepUntil: number): Promise<void>;
  /** True when event `id` was cancelled (and the record has not expired). */
  isCancelled(id: string): Promise<boolean>;
}

/** How long past the event's time a cancellation is kept: the event may arrive late (a hop, a slow consumer). */
export const CANCELLATION_MARGIN_MS = 60 * 60 * 1000;

/** Kept this long when `cancelScheduled` is not told the event's time. */
export const DEFAULT_CANCELLATION_KEEP_MS = 7 * 24 * 60 * 60 * 1000;

/** Cancellations in this process's memory: for tests and one-process apps (every bus given the same instance). */
export class MemoryScheduleCancellations implements ScheduleCancellations {
  private readonly cancelled = new Map<string, number>();
  /** Prune when the map doubles since the last prune: amortized O(1) per cancel. */
  private pruneAt = 1_024;

  async cancel(id: string, keepUntil: number): Promise<void> {
    this.cancelled.set(id, keepUntil);
    if (this.cancelled.size >= this.pruneAt) {
      this.prune();
      this.pruneAt = Math.max(1_024, this.cancelled.size * 2);
    }
  }

  async isCancelled(id: string): Promise<boolean> {
    const until = this.cancelled.get(id);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.cancelled.delete(id);
    return false;
  }

  /** Forget expired records, so a long-lived process does not grow without bound. */
  private prune(): void {
    const now = Date.now();
    for (const [id, until] of this.cancelled) if (until <= now) this.cancelled.delete(id);
  }
}
