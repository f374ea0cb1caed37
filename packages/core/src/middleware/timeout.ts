import { ConfigError, HandlerTimeoutError } from '../errors.js';
import type { Middleware } from '../context.js';

/**
 * Fail the attempt when the handler runs past `ms`: its AbortSignal fires (so cooperative work
 * stops) and a HandlerTimeoutError goes to retry like any failure.
 */
export function timeout(ms: number): Middleware {
  if (!(Number.isFinite(ms) && ms > 0)) throw new ConfigError('timeout', `must be a positive number of ms (got ${String(ms)})`);
  return (next) => (ctx) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const error = new HandlerTimeoutError(ms);
        ctx.abort(error);
        reject(error);
      }, ms);
      next(ctx).then(
        () => {
          clearTimeout(timer);
          resolve();
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
}
