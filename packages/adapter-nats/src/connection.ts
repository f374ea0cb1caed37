/**
 * Whether the client is connected right now. The @nats-io 3.x client discards whatever is
 * published while it is reconnecting, so publishes and settles wait here instead of vanishing.
 */
export class LinkState {
  private up = true;
  private waiters: (() => void)[] = [];

  get connected(): boolean {
    return this.up;
  }

  disconnected(): void {
    this.up = false;
  }

  reconnected(): void {
    this.up = true;
    for (const resolve of this.waiters.splice(0)) resolve();
  }

  /** Resolves true once connected, false if `timeoutMs` or the signal ran out first. */
  waitUntilConnected(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.up) return Promise.resolve(true);
    return new Promise((resolve) => {
      const finish = (ok: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.waiters = this.waiters.filter((w) => w !== onUp);
        resolve(ok);
      };
      const onUp = () => finish(true);
      const onAbort = () => finish(false);
      const timer = setTimeout(() => finish(false), Math.max(0, timeoutMs));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(onUp);
    });
  }
}
