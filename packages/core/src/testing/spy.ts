export interface WaitOptions {
  timeoutMs?: number;
  /** Shown in the timeout error, so a failing test says what it waited for. */
  description?: string;
}

/**
 * Records calls and lets a test wait for a condition on them — with a timeout, never a fixed sleep.
 * `spy.fn` is the function to hand to code under test.
 */
export class Spy<T> {
  readonly calls: T[] = [];
  private waiters: { check: () => boolean; resolve: () => void }[] = [];

  readonly fn = (value: T): void => {
    this.calls.push(value);
    this.waiters = this.waiters.filter((w) => {
      if (!w.check()) return true;
      w.resolve();
      return false;
    });
  };

  get count(): number {
    return this.calls.length;
  }

  /** Resolves with the calls once `predicate(calls)` holds; rejects after `timeoutMs` (default 10 s). */
  waitFor(predicate: (calls: readonly T[]) => boolean, options: WaitOptions = {}): Promise<T[]> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    const check = () => predicate(this.calls);
    if (check()) return Promise.resolve([...this.calls]);
    return new Promise<T[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(
          new Error(
            `Timed out after ${timeoutMs} ms waiting for ${options.description ?? 'a condition'} (${this.calls.length} call(s) seen)`,
          ),
        );
      }, timeoutMs);
      const waiter = {
        check,
        resolve: () => {
          clearTimeout(timer);
          resolve([...this.calls]);
        },
      };
      this.waiters.push(waiter);
    });
  }

  /** Resolves once at least `n` calls were seen. */
  waitForCount(n: number, options: WaitOptions = {}): Promise<T[]> {
    return this.waitFor((calls) => calls.length >= n, { description: `${n} call(s)`, ...options });
  }

  /** Fails if any call matching `predicate` arrives within `withinMs` (for "nothing more happens" checks). */
  async expectNone(predicate: (value: T) => boolean = () => true, withinMs = 500): Promise<void> {
    const before = this.calls.filter(predicate).length;
    const seen = await this.waitFor((calls) => calls.filter(predicate).length > before, {
      timeoutMs: withinMs,
    }).then(
      () => true,
      () => false,
    );
    if (seen) throw new Error(`Expected no matching call within ${withinMs} ms, got ${this.calls.filter(predicate).length - before}`);
  }

  clear(): void {
    this.calls.length = 0;
  }
}

export function createSpy<T>(): Spy<T> {
  return new Spy<T>();
}

/** Poll an async condition until it holds (for state that nothing pushes, such as a queue depth). */
export async function eventually<T>(
  probe: () => Promise<T> | T,
  accept: (value: T) => boolean,
  options: WaitOptions & { intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  let last: T | undefined;
  for (;;) {
    last = await probe();
    if (accept(last)) return last;
    if (Date.now() > deadline) {
      throw new Error(`Timed out waiting for ${options.description ?? 'a condition'} (last value: ${JSON.stringify(last)})`);
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 50));
  }
}
