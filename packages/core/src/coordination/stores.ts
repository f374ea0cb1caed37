/**
 * What the coordination middleware needs from a store. Each has a memory implementation (one
 * process) and a Redis one (`@org/eventbus/redis`, many processes and containers). A store that
 * cannot reach its backend throws CoordinationUnavailableError; the middleware then nacks with a
 * delay, so nothing runs unguarded and nothing is lost.
 */

/** A hold on a lock, a semaphore permit or an idempotency claim, kept alive while the handler runs. */
export interface Lease {
  /** Keep the hold for `ttlMs` more from now; false when it was already lost (expired or taken). */
  extend(ttlMs: number): Promise<boolean>;
  release(): Promise<void>;
}

/** Something a waiter can sleep on instead of polling at full speed. */
export interface ReleaseNotifier {
  /** Resolves when `key` was released by this process or after `maxMs`, whichever comes first. */
  waitForRelease(key: string, maxMs: number, signal?: AbortSignal): Promise<void>;
}

/** Mutual exclusion per key. */
export interface LockStore extends Partial<ReleaseNotifier> {
  /** One attempt: a lease when the key was free, undefined when another holder has it. */
  tryAcquire(key: string, ttlMs: number): Promise<Lease | undefined>;
}

/** A counting semaphore per key: at most `limit` holders at once. */
export interface SemaphoreStore extends Partial<ReleaseNotifier> {
  tryAcquire(key: string, limit: number, ttlMs: number): Promise<Lease | undefined>;
}

export interface RateWindow {
  /** Starts allowed in any window of `perMs`. */
  limit: number;
  perMs: number;
}

/** `startedAt`: the store's clock (epoch ms) when the start was recorded — Redis server time. */
export type RateClaim = { readonly startedAt: number; readonly waitMs?: undefined } | { readonly startedAt?: undefined; readonly waitMs: number };

export type Reservation =
  | {
      readonly reserved: true;
      readonly token: string;
      /** ms from now until the slot. */
      readonly waitMs: number;
      /** The slot was free now and the start is already recorded (at this store time, epoch ms): no claim needed. */
      readonly startedAt?: number;
    }
  | { readonly reserved: false; /** ms from now until a slot within the allowed wait might open. */ readonly retryAfterMs: number };

/**
 * A strict sliding-window limit: never more than `limit` starts in any window of `perMs`. Callers
 * reserve a slot (first come, first served), sleep until it, then claim it; the claim checks the
 * log of actual starts, so a caller that woke late never lets a window overfill.
 */
export interface RateLimitStore {
  /**
   * Reserve the next free slot, unless it is more than `maxWaitMs` away (then nothing is reserved).
   * Slots are spaced `marginMs` wider than the window, to absorb the delay between a claim and the
   * handler's first call.
   */
  reserve(key: string, window: RateWindow & { marginMs: number; maxWaitMs: number }): Promise<Reservation>;
  // A slot that is free right now is also claimed by `reserve` (one round trip when under the limit).
  /** Start now if the window allows, else say how many ms to wait before claiming again. */
  claim(key: string, token: string, window: RateWindow): Promise<RateClaim>;
  /** Give a reserved slot back (the caller gave up before starting). */
  cancel(key: string, token: string): Promise<void>;
}

export type ClaimResult = 'claimed' | 'done' | 'busy';

/** Records which keys (event ids per group) completed, and which are running right now. */
export interface IdempotencyStore extends Partial<ReleaseNotifier> {
  /** 'claimed': run it (the claim lasts `leaseMs`); 'done': it already completed; 'busy': another runs it. */
  claim(key: string, owner: string, leaseMs: number): Promise<ClaimResult>;
  /** Keep a running claim alive; false when it was lost. */
  extend(key: string, owner: string, leaseMs: number): Promise<boolean>;
  /** Mark the key done for `ttlMs` (duplicates arriving within it are acked without running). */
  complete(key: string, owner: string, ttlMs: number): Promise<void>;
  /** Drop a running claim (the handler failed) so a retry can run. */
  release(key: string, owner: string): Promise<void>;
}
