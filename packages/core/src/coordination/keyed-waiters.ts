/**
 * Process-local wake-ups per key: a release in this process wakes this process's waiters at once,
 * so a handoff between two local handlers costs no polling delay.
 */
export class KeyedWaiters {
  private readonly waiters = new Map<string, Set<() => void>>();

  wait(key: string, maxMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      let set = this.waiters.get(key);
      if (!set) {
        set = new Set();
        this.waiters.set(key, set);
      }
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        const current = this.waiters.get(key);
        current?.delete(done);
        if (current?.size === 0) this.waiters.delete(key);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, maxMs));
      signal?.addEventListener('abort', done, { once: true });
      set.add(done);
    });
  }

  /** Wake one waiter (a lock freed one place) or all (`all`: state changed for every waiter). */
  notify(key: string, all = false): void {
    const set = this.waiters.get(key);
    if (!set) return;
    for (const wake of [...set]) {
      wake();
      if (!all) return;
    }
  }
}
