/**
 * Items released at their due time (ms since epoch), in (due time, insertion) order, on one timer.
 * One setTimeout per item would not do: Node times each from its own loop clock, so two items due
 * 1 ms apart can fire out of order — and a delayed key must keep its publish order.
 */
export class TimedQueue<T> {
  private readonly heap: { due: number; seq: number; item: T }[] = [];
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerDue = Number.POSITIVE_INFINITY;

  constructor(private readonly release: (item: T) => void) {}

  get size(): number {
    return this.heap.length;
  }

  add(due: number, item: T): void {
    this.heap.push({ due, seq: this.seq++, item });
    this.up(this.heap.length - 1);
    this.arm();
  }

  /** Cancel the timer (broker shutdown); what is held is dropped with it. */
  dispose(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.heap.length = 0;
  }

  private arm(): void {
    const head = this.heap[0];
    if (!head) return;
    if (this.timer !== undefined && this.timerDue <= head.due) return;
    clearTimeout(this.timer);
    this.timerDue = head.due;
    // setTimeout's limit is ~24.8 days; a later head re-arms when this fires.
    this.timer = setTimeout(() => this.fire(), Math.min(2_147_483_647, Math.max(0, head.due - Date.now())));
    this.timer.unref?.();
  }

  private fire(): void {
    this.timer = undefined;
    this.timerDue = Number.POSITIVE_INFINITY;
    const now = Date.now();
    while (this.heap.length > 0 && this.heap[0]!.due <= now) this.release(this.pop().item);
    this.arm();
  }

  private pop(): { due: number; seq: number; item: T } {
    const top = this.heap[0]!;
    const last = this.heap.pop()!;
    if (this.heap.length > 0) {
      this.heap[0] = last;
      this.down(0);
    }
    return top;
  }

  private before(a: number, b: number): boolean {
    const x = this.heap[a]!;
    const y = this.heap[b]!;
    return x.due < y.due || (x.due === y.due && x.seq < y.seq);
  }

  private up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(i: number): void {
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let first = i;
      if (left < this.heap.length && this.before(left, first)) first = left;
      if (right < this.heap.length && this.before(right, first)) first = right;
      if (first === i) return;
      this.swap(i, first);
      i = first;
    }
  }

  private swap(a: number, b: number): void {
    const t = this.heap[a]!;
    this.heap[a] = this.heap[b]!;
    this.heap[b] = t;
  }
}
