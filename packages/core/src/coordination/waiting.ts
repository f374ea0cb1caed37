import type { ReleaseNotifier } from './stores.js';

/** The pause between two tries of a busy resource: grows from 5 ms to 50 ms, with jitter so waiters spread. */
export function pollDelay(tries: number): number {
  const base = Math.min(50, 5 * 2 ** Math.min(tries, 4));
  return base / 2 + Math.random() * (base / 2);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Try `attempt` until it yields a value or `waitMs` has passed. Between tries it sleeps on the
 * store's release notifications (when it has them) bounded by a growing, jittered delay — it never
 * spins, and an abort stops it at once.
 */
export async function acquireWithin<T>(
  attempt: () => Promise<T | undefined>,
  options: { key: string; waitMs: number; signal?: AbortSignal; notifier?: Partial<ReleaseNotifier> },
): Promise<T | undefined> {
  const deadline = Date.now() + options.waitMs;
  for (let tries = 0; ; tries++) {
    const got = await attempt();
    if (got !== undefined) return got;
    const left = deadline - Date.now();
    if (left <= 0 || options.signal?.aborted) return undefined;
    const pause = Math.min(left, pollDelay(tries));
    if (options.notifier?.waitForRelease) await options.notifier.waitForRelease(options.key, pause, options.signal);
    else await sleep(pause, options.signal);
  }
}
