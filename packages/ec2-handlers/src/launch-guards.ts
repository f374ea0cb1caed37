import {
  concurrency,
  type IdempotencyStore,
  idempotency,
  type Middleware,
  type RateLimitStore,
  rateLimit,
  type SemaphoreStore,
} from '@org/eventbus';

export interface LaunchGuardOptions {
  /** RunInstances starts allowed per window, across every container sharing the stores. Default 2 per 1000 ms. */
  rateLimit?: { limit: number; per: number };
  /** Launches in flight at once across containers (each holds a permit until running). Default 20. */
  concurrency?: number;
  /** How long a completed launch is remembered, so a late duplicate is acked without work. Default 24 h. */
  idempotencyTtlMs?: number;
  /** How long a claim outlives a worker that died mid-launch. Default 30 s. */
  idempotencyLeaseMs?: number;
  /** Redis stores for many containers; memory stores (this process only) when omitted. */
  stores?: { rateLimit?: RateLimitStore; semaphore?: SemaphoreStore; idempotency?: IdempotencyStore };
}

/** The key every launch shares: one budget for the EC2 API, whichever container calls it. */
export const EC2_API_KEY = 'ec2:run-instances';

/**
 * The middleware the launch handler wears, outermost first: idempotency (a duplicate never takes a
 * permit or a rate slot), then the cross-container concurrency cap, then the 2/s rate limit right
 * before the RunInstances call. Retries and dead-lettering come from the bus around all three.
 */
export function launchGuards(options: LaunchGuardOptions = {}): Middleware[] {
  const stores = options.stores ?? {};
  const rate = options.rateLimit ?? { limit: 2, per: 1000 };
  return [
    idempotency({
      ttl: options.idempotencyTtlMs ?? 24 * 60 * 60_000,
      lease: options.idempotencyLeaseMs ?? 30_000,
      ...(stores.idempotency ? { store: stores.idempotency } : {}),
    }),
    concurrency({
      key: EC2_API_KEY,
      limit: options.concurrency ?? 20,
      ...(stores.semaphore ? { store: stores.semaphore } : {}),
    }),
    rateLimit({
      key: EC2_API_KEY,
      limit: rate.limit,
      per: rate.per,
      ...(stores.rateLimit ? { store: stores.rateLimit } : {}),
    }),
  ];
}
