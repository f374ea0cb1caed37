// Coordination middleware (idempotency, lock, concurrency, rate limit) and their one-process stores.
// Redis stores for many processes live in `@org/eventbus/redis`.
export { type ConcurrencyOptions, concurrency } from '../middleware/concurrency.js';
export { type IdempotencyOptions, idempotency } from '../middleware/idempotency.js';
export { type LockOptions, lock } from '../middleware/lock.js';
export { RATE_LIMIT_STARTED_AT, type RateLimitOptions, rateLimit } from '../middleware/rate-limit.js';
export { type KeyOption, LeaseLostError } from './guard.js';
export { MemoryIdempotencyStore, MemoryLockStore, MemoryRateLimitStore, MemorySemaphoreStore } from './memory-stores.js';
export type {
  ClaimResult,
  IdempotencyStore,
  Lease,
  LockStore,
  RateLimitStore,
  RateClaim,
  RateWindow,
  ReleaseNotifier,
  Reservation,
  SemaphoreStore,
} from './stores.js';
