/** What the launch handler needs from EC2, small enough to fake, simulate or back with the SDK. */
export interface LaunchSpec {
  /**
   * Idempotency token for RunInstances: the event id. EC2 returns the instances of the first call
   * for a repeated token, so a redelivered event never launches a second machine.
   */
  clientToken: string;
  imageId: string;
  instanceType: string;
  tags: Record<string, string>;
}

export interface LaunchResult {
  instanceIds: string[];
}

export interface Launcher {
  /** "simulated" or "aws", for logs and the launched event. */
  readonly name: string;
  /** Start the instance and resolve once it is running. Rejects with LaunchRejectedError when retrying cannot help. */
  launch(spec: LaunchSpec, signal?: AbortSignal): Promise<LaunchResult>;
}

/** EC2 refused the launch for good (bad AMI, no capacity for this request): notify, do not retry. */
export class LaunchRejectedError extends Error {
  override readonly name = 'LaunchRejectedError';
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/**
 * EC2 said "throttled, try again in N s" (RequestLimitExceeded with a hint, or the simulator's
 * throttle rate): not a failure — the handler defers the event until then with `ctx.retryAfter`.
 */
export class LaunchThrottledError extends Error {
  override readonly name = 'LaunchThrottledError';
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message);
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
