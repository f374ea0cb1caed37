import { flag, positiveNumber, wholeNumber } from '../option-checks.js';

/** setTimeout's own limit: the longest one memory hold can be. */
export const MEMORY_MAX_DELAY_MS = 2_147_483_647;

export interface MemoryTransportOptions {
  /** Transports created with one broker name share channels and groups (one process only). */
  broker?: string;
  /** A publish waits while any group it feeds holds this many unsettled messages. */
  maxBacklog?: number;
  maxMessageBytes?: number;
  /** How long a closing subscription waits for in-flight deliveries to settle. */
  drainTimeoutMs?: number;
  /**
   * Encode events to bytes as a broker would (default `true`), so tests see exactly what JSON keeps
   * and what it loses. `false` hands the event object across instead: several times the throughput
   * for one-process apps, with validation still on at both ends (each group gets its own parsed copy),
   * but no wire-size limit and no check that the data survives JSON.
   */
  serialize?: boolean;
  /**
   * Longest hold in one step (delayed nack, deferral, scheduled publish), a whole number of ms ≥ 1000;
   * default setTimeout's limit (~24.8 days). Longer waits go in hops (docs/delays.md): scale it down
   * to test that path in seconds.
   */
  maxDelayMs?: number;
}

/** The options with their defaults, each checked (a ConfigError names the one that is wrong). */
export function resolveOptions(options: MemoryTransportOptions) {
  return {
    broker: options.broker ?? 'default',
    // Small enough that a backlog stays in the young generation: at 10,000 × 1 KB, GC cost a fifth of throughput.
    maxBacklog: positiveNumber('maxBacklog', options.maxBacklog, 1_000),
    maxMessageBytes: positiveNumber('maxMessageBytes', options.maxMessageBytes, 1024 * 1024),
    drainTimeoutMs: positiveNumber('drainTimeoutMs', options.drainTimeoutMs, 30_000),
    serialize: flag('serialize', options.serialize, true),
    maxDelayMs: wholeNumber('maxDelayMs', options.maxDelayMs, MEMORY_MAX_DELAY_MS, { min: 1000, max: MEMORY_MAX_DELAY_MS }),
  };
}
