/** How one message's wait for its confirm ended: undefined when confirmed. */
export interface Failure {
  error: unknown;
  /** Sending again cannot help (refused, deadline passed, aborted): the publish fails with `error`. */
  final: boolean;
}

/**
 * One message waiting for the broker's confirm, its deadline and its caller's abort signal. `settled`
 * never rejects: it says how the wait ended, so a batch needs no Promise.allSettled.
 */
export class ConfirmWait {
  done = false;
  readonly settled: Promise<Failure | undefined>;
  private resolve!: (outcome: Failure | undefined) => void;

  constructor(
    private readonly waits: ConfirmWaits,
    readonly deadline: number,
    readonly signal: AbortSignal | undefined,
  ) {
    this.settled = new Promise((resolve) => {
      this.resolve = resolve;
    });
  }

  finish(outcome?: Failure): void {
    if (this.done) return;
    this.done = true;
    this.waits.forget(this);
    this.resolve(outcome);
  }
}

/**
 * The deadlines and abort signals of every pending confirm, behind one timer and one listener per
 * signal. At 1,000 publishes/s a timer and an abort listener per publish (set, then cleared on the
 * confirm) were measurable; here a publish adds itself to a queue and, for a signal it shares with
 * other publishes (the API's per-slice deadline signal), to that signal's set.
 *
 * Every publish's deadline is "now + publishTimeoutMs", so waits arrive in deadline order and the
 * queue is a FIFO; a retried message keeps its first, earlier deadline and is inserted in its place.
 * Confirms arrive in order too, so settled waits leave from the head and the queue stays short.
 */
export class ConfirmWaits {
  private queue: ConfirmWait[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private readonly bySignal = new WeakMap<AbortSignal, Set<ConfirmWait>>();

  constructor(private readonly expired: () => unknown) {}

  /** A wait that fails (final) at `deadline` or when `signal` aborts, whichever comes first. */
  add(deadline: number, signal?: AbortSignal): ConfirmWait {
    const wait = new ConfirmWait(this, deadline, signal);
    if (signal) {
      if (signal.aborted) {
        wait.finish({ error: signal.reason, final: true });
        return wait;
      }
      let waiting = this.bySignal.get(signal);
      if (!waiting) {
        const set = new Set<ConfirmWait>();
        waiting = set;
        this.bySignal.set(signal, set);
        // Never removed: it lives as long as the signal, and finds the set empty when nothing waits.
        signal.addEventListener(
          'abort',
          () => {
            for (const w of [...set]) w.finish({ error: signal.reason, final: true });
          },
          { once: true },
        );
      }
      waiting.add(wait);
    }
    this.insert(wait);
    return wait;
  }

  /** Called by a wait when it finished. */
  forget(wait: ConfirmWait): void {
    if (wait.signal) this.bySignal.get(wait.signal)?.delete(wait);
    const q = this.queue;
    while (this.head < q.length && q[this.head]!.done) this.head++;
    if (this.head === q.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > q.length) {
      this.queue = q.slice(this.head);
      this.head = 0;
    }
  }

  /** Waits not finished yet (for tests). */
  get size(): number {
    let n = 0;
    for (let i = this.head; i < this.queue.length; i++) if (!this.queue[i]!.done) n++;
    return n;
  }

  private insert(wait: ConfirmWait): void {
    const q = this.queue;
    let i = q.length;
    // Usually no step back: only a retry's deadline is earlier than the newest one.
    while (i > this.head && q[i - 1]!.deadline > wait.deadline) i--;
    if (i === q.length) q.push(wait);
    else q.splice(i, 0, wait);
    this.arm();
  }

  /** Keep the timer at or before the head's deadline (an earlier wake-up just re-arms). */
  private arm(): void {
    const first = this.queue[this.head];
    if (!first || first.deadline >= this.timerAt) return;
    clearTimeout(this.timer);
    this.timerAt = first.deadline;
    // Unref'd: the open AMQP connection keeps the process alive while a confirm is outstanding.
    this.timer = setTimeout(() => this.expire(), Math.max(0, first.deadline - Date.now()));
    this.timer.unref();
  }

  private expire(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = Date.now();
    // finish() moves the head past finished waits; collect first so the loop does not race it.
    const due: ConfirmWait[] = [];
    for (let i = this.head; i < this.queue.length && this.queue[i]!.deadline <= now; i++) {
      if (!this.queue[i]!.done) due.push(this.queue[i]!);
    }
    for (const wait of due) wait.finish({ error: this.expired(), final: true });
    this.arm();
  }
}
