import { ConfigError } from './errors.js';

export interface BackoffOptions {
  /** Delay before the second attempt. */
  initialMs: number;
  /** No delay is longer than this. */
  maxMs: number;
  multiplier: number;
  /** Randomise half of each delay so a burst of failures does not come back as a burst. */
  jitter: boolean;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 200, maxMs: 30_000, multiplier: 2, jitter: true };

export function resolveBackoff(partial: Partial<BackoffOptions> | undefined, option = 'backoff'): BackoffOptions {
  const b = { ...DEFAULT_BACKOFF, ...partial };
  if (!(b.initialMs >= 0)) throw new ConfigError(`${option}.initialMs`, `must be ≥ 0 (got ${b.initialMs})`);
  if (!(b.maxMs >= b.initialMs)) throw new ConfigError(`${option}.maxMs`, `must be ≥ initialMs (got ${b.maxMs})`);
  if (!(b.multiplier >= 1)) throw new ConfigError(`${option}.multiplier`, `must be ≥ 1 (got ${b.multiplier})`);
  return b;
}

/** Capped exponential delay before attempt `attempt + 1`, with "equal jitter" (half fixed, half random). */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const exponential = Math.min(options.maxMs, options.initialMs * options.multiplier ** Math.max(0, attempt - 1));
  if (!options.jitter) return Math.round(exponential);
  const half = exponential / 2;
  return Math.round(half + random() * half);
}
