import { afterEach, describe, expect, it, vi } from 'vitest';
import { SharedDeadlines } from './deadlines.js';

describe('SharedDeadlines', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('shares one signal per slice and aborts it no earlier than the timeout, at most one slice later', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    // 1 s timeout: 50 ms slices.
    const deadlines = new SharedDeadlines(1000, () => new Error('no confirmation within 1000 ms'));
    const first = deadlines.signal(); // a request at 0 ms
    vi.advanceTimersByTime(49);
    expect(deadlines.signal()).toBe(first); // a request at 49 ms shares it
    vi.advanceTimersByTime(1);
    const second = deadlines.signal(); // 50 ms: the next slice
    expect(second).not.toBe(first);

    vi.advanceTimersByTime(998); // 1048 ms: the 49 ms request has waited 999 ms
    expect(first.aborted).toBe(false);
    vi.advanceTimersByTime(2); // 1050 ms: 1001 ms for the latest request of the slice, 1050 for the first
    expect(first.aborted).toBe(true);
    expect((first.reason as Error).message).toBe('no confirmation within 1000 ms');
    expect(second.aborted).toBe(false);
    vi.advanceTimersByTime(50);
    expect(second.aborted).toBe(true);
  });

  it('keeps slices of at least 10 ms for short timeouts', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const deadlines = new SharedDeadlines(100, () => new Error('late'));
    const first = deadlines.signal();
    vi.advanceTimersByTime(9);
    expect(deadlines.signal()).toBe(first);
    vi.advanceTimersByTime(100); // 109 ms
    expect(first.aborted).toBe(false);
    vi.advanceTimersByTime(1); // 110 ms = one 10 ms slice + 100 ms
    expect(first.aborted).toBe(true);
  });
});
