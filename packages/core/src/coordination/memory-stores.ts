import { randomUUID } from 'node:crypto';
import { KeyedWaiters } from './keyed-waiters.js';
import type {
  ClaimResult,
  IdempotencyStore,
  Lease,
  LockStore,
  RateClaim,
  RateLimitStore,
  RateWindow,
  Reservation,
  SemaphoreStore,
} from './stores.js';

/** Every store here answers for one process only: use the Redis stores to coordinate several. */

const now = () => performance.timeOrigin + performance.now();

/** Counting semaphore per key with expiring permits; a lock is a semaphore of one. */
export class MemorySemaphoreStore implements SemaphoreStore {
  private readonly holders = new Map<string, Map<string, number>>();
  private readonly waiters = new KeyedWaiters();

  async tryAcquire(key: string, limit: number, ttlMs: number): Promise<Lease | undefined> {
    const held = this.live(key);
    if (held.size >= limit) return undefined;
    const token = randomUUID();
    held.set(token, now() + ttlMs);
    this.holders.set(key, held);
    return {
      extend: async (ms) => {
        const current = this.live(key);
        if (!current.has(token)) return false;
        current.set(token, now() + ms);
        return true;
      },
      release: async () => {
        const current = this.holders.get(key);
        if (!current?.delete(token)) return;
        if (current.size === 0) this.holders.delete(key);
        this.waiters.notify(key);
      },
    };
  }

  waitForRelease(key: string, maxMs: number, signal?: AbortSignal): Promise<void> {
    return this.waiters.wait(key, maxMs, signal);
  }

  /** Holders of `key` whose TTL has not run out (an expired permit is as good as released). */
  private live(key: string): Map<string, number> {
    const held = this.holders.get(key) ?? new Map<string, number>();
    const t = now();
    for (const [token, expiresAt] of held) if (expiresAt <= t) held.delete(token);
    return held;
  }
}

export class MemoryLockStore implements LockStore {
  private readonly semaphores = new MemorySemaphoreStore();

  tryAcquire(key: string, ttlMs: number): Promise<Lease | undefined> {
    return this.semaphores.tryAcquire(key, 1, ttlMs);
  }

  waitForRelease(key: string, maxMs: number, signal?: AbortSignal): Promise<void> {
    return this.semaphores.waitForRelease(key, maxMs, signal);
  }
}

interface Slots {
  /** Reserved slot times, ascending (kept for one window after they pass: they space later slots). */
  reserved: { at: number; token: string }[];
  /** Actual start times, ascending. */
  started: number[];
}

/** The same reserve-then-claim sliding log as the Redis store, on this process's clock. */
export class MemoryRateLimitStore implements RateLimitStore {
  private readonly keys = new Map<string, Slots>();

  async reserve(key: string, window: RateWindow & { marginMs: number; maxWaitMs: number }): Promise<Reservation> {
    const { limit, perMs, marginMs, maxWaitMs } = window;
    const t = now();
    const slots = this.trim(key, t, perMs + marginMs, perMs + marginMs);
    const spacing = perMs + marginMs;
    let at = t;
    if (slots.reserved.length >= limit) at = Math.max(at, slots.reserved[slots.reserved.length - limit]!.at + spacing);
    if (at - t > maxWaitMs) return { reserved: false, retryAfterMs: Math.ceil(at - t - maxWaitMs) };
    const token = randomUUID();
    slots.reserved.push({ at, token });
    if (at <= t) {
      const claim = await this.claim(key, token, window);
      if (claim.startedAt !== undefined) return { reserved: true, token, waitMs: 0, startedAt: claim.startedAt };
    }
    return { reserved: true, token, waitMs: Math.ceil(at - t) };
  }

  async claim(key: string, _token: string, window: RateWindow): Promise<RateClaim> {
    const { limit, perMs } = window;
    const t = now();
    const slots = this.trim(key, t, Number.POSITIVE_INFINITY, perMs);
    if (slots.started.length < limit) {
      slots.started.push(t);
      return { startedAt: t };
    }
    return { waitMs: Math.max(1, Math.ceil(slots.started[slots.started.length - limit]! + perMs - t)) };
  }

  async cancel(key: string, token: string): Promise<void> {
    const slots = this.keys.get(key);
    if (slots) slots.reserved = slots.reserved.filter((r) => r.token !== token);
  }

  /** Forget reservations older than `keepReservedMs` and starts older than `keepStartedMs`. */
  private trim(key: string, t: number, keepReservedMs: number, keepStartedMs: number): Slots {
    let slots = this.keys.get(key);
    if (!slots) {
      slots = { reserved: [], started: [] };
      this.keys.set(key, slots);
    }
    while (slots.reserved.length > 0 && slots.reserved[0]!.at <= t - keepReservedMs) slots.reserved.shift();
    while (slots.started.length > 0 && slots.started[0]! <= t - keepStartedMs) slots.started.shift();
    return slots;
  }
}

type IdempotencyEntry = { state: 'running'; owner: string; expiresAt: number } | { state: 'done'; expiresAt: number };

export class MemoryIdempotencyStore implements IdempotencyStore {
  private readonly entries = new Map<string, IdempotencyEntry>();
  private readonly waiters = new KeyedWaiters();
  private writes = 0;

  async claim(key: string, owner: string, leaseMs: number): Promise<ClaimResult> {
    const entry = this.live(key);
    if (entry?.state === 'done') return 'done';
    if (entry?.state === 'running') return entry.owner === owner ? 'claimed' : 'busy';
    this.entries.set(key, { state: 'running', owner, expiresAt: now() + leaseMs });
    this.sweepSometimes();
    return 'claimed';
  }

  async extend(key: string, owner: string, leaseMs: number): Promise<boolean> {
    const entry = this.live(key);
    if (entry?.state !== 'running' || entry.owner !== owner) return false;
    entry.expiresAt = now() + leaseMs;
    return true;
  }

  async complete(key: string, owner: string, ttlMs: number): Promise<void> {
    const entry = this.live(key);
    // Someone else's live claim means our lease ran out and they run it too; theirs decides.
    if (entry?.state === 'running' && entry.owner !== owner) return;
    this.entries.set(key, { state: 'done', expiresAt: now() + ttlMs });
    this.waiters.notify(key, true);
  }

  async release(key: string, owner: string): Promise<void> {
    const entry = this.live(key);
    if (entry?.state === 'running' && entry.owner === owner) this.entries.delete(key);
    this.waiters.notify(key, true);
  }

  waitForRelease(key: string, maxMs: number, signal?: AbortSignal): Promise<void> {
    return this.waiters.wait(key, maxMs, signal);
  }

  private live(key: string): IdempotencyEntry | undefined {
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt <= now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  /** Drop expired records now and then, so memory stays bounded by what the TTL keeps. */
  private sweepSometimes(): void {
    if (++this.writes % 1000 !== 0) return;
    const t = now();
    for (const [key, entry] of this.entries) if (entry.expiresAt <= t) this.entries.delete(key);
  }
}
