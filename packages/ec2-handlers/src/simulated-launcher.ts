import { ConfigError } from '@org/eventbus';
import { type LaunchResult, LaunchRejectedError, type Launcher, type LaunchSpec, LaunchThrottledError, sleep } from './launcher.js';

export interface SimulatedLauncherOptions {
  /** How long a machine takes to reach "running", in ms (default 3000). */
  bootMs?: number;
  /** Share of launches EC2 "refuses" (0..1, default 0). */
  failureRate?: number;
  /** Share of launch calls answered "throttled, retry after `throttleRetryAfterMs`" (0..1, default 0). */
  throttleRate?: number;
  /** The wait a throttled answer asks for, in ms (default 2000). */
  throttleRetryAfterMs?: number;
  /** Source of randomness, for tests. */
  random?: () => number;
}

/**
 * An EC2 stand-in for demos and tests: boots in `bootMs`, refuses `failureRate` of launches, answers
 * "throttled, retry after N s" to `throttleRate` of calls, and honours ClientToken the way EC2 does (a repeated token gets the first call's instances).
 */
export class SimulatedLauncher implements Launcher {
  readonly name = 'simulated';
  readonly bootMs: number;
  readonly failureRate: number;
  readonly throttleRate: number;
  readonly throttleRetryAfterMs: number;
  private readonly random: () => number;
  private readonly byToken = new Map<string, Promise<LaunchResult>>();
  private counter = 0;

  constructor(options: SimulatedLauncherOptions = {}) {
    this.bootMs = options.bootMs ?? 3000;
    this.failureRate = options.failureRate ?? 0;
    this.throttleRate = options.throttleRate ?? 0;
    this.throttleRetryAfterMs = options.throttleRetryAfterMs ?? 2000;
    this.random = options.random ?? Math.random;
    if (!(this.throttleRate >= 0 && this.throttleRate <= 1)) {
      throw new ConfigError('throttleRate', `must be between 0 and 1 (got ${this.throttleRate})`);
    }
    if (!(Number.isFinite(this.throttleRetryAfterMs) && this.throttleRetryAfterMs >= 0)) {
      throw new ConfigError('throttleRetryAfterMs', `must be ≥ 0 ms (got ${this.throttleRetryAfterMs})`);
    }
    if (!(Number.isFinite(this.bootMs) && this.bootMs >= 0)) throw new ConfigError('bootMs', `must be ≥ 0 ms (got ${this.bootMs})`);
    if (!(this.failureRate >= 0 && this.failureRate <= 1)) {
      throw new ConfigError('failureRate', `must be between 0 and 1 (got ${this.failureRate})`);
    }
  }

  /** How many distinct launches (ClientTokens) this launcher has seen. */
  get launches(): number {
    return this.byToken.size;
  }

  launch(spec: LaunchSpec, signal?: AbortSignal): Promise<LaunchResult> {
    let pending = this.byToken.get(spec.clientToken);
    // A throttled call starts nothing (as EC2's RequestLimitExceeded): the same token may launch next time.
    if (!pending && this.throttleRate > 0 && this.random() < this.throttleRate) {
      const seconds = Math.round(this.throttleRetryAfterMs / 100) / 10;
      return Promise.reject(new LaunchThrottledError(`simulated: throttled, retry after ${seconds} s`, this.throttleRetryAfterMs));
    }
    if (!pending) {
      const refused = this.random() < this.failureRate;
      const id = `i-sim${(++this.counter).toString(16).padStart(13, '0')}`;
      pending = refused
        ? Promise.reject(new LaunchRejectedError('simulated: insufficient capacity for this instance type', 'InsufficientInstanceCapacity'))
        : sleep(this.bootMs).then(() => ({ instanceIds: [id] }));
      pending.catch(() => {});
      this.byToken.set(spec.clientToken, pending);
    }
    return signal ? untilAborted(pending, signal) : pending;
  }
}

/** The launch keeps going (as EC2 would), but the caller stops waiting when its signal fires. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
