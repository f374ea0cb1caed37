import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfirmWaits } from './confirm-waits.js';

const expired = () => new Error('not confirmed in time');

describe('ConfirmWaits', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('fails each wait at its own deadline, never earlier, and not one that was confirmed', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const waits = new ConfirmWaits(expired);
    const a = waits.add(Date.now() + 100);
    vi.advanceTimersByTime(10);
    const b = waits.add(Date.now() + 100); // due at 110
    const c = waits.add(Date.now() + 100);
    c.finish(); // confirmed
    vi.advanceTimersByTime(89); // 99 ms
    expect([a.done, b.done]).toEqual([false, false]);
    vi.advanceTimersByTime(1); // 100 ms
    expect(await a.settled).toEqual({ error: expired(), final: true });
    expect(b.done).toBe(false);
    vi.advanceTimersByTime(9); // 109 ms
    expect(b.done).toBe(false);
    vi.advanceTimersByTime(1); // 110 ms
    expect((await b.settled)?.final).toBe(true);
    expect(await c.settled).toBeUndefined();
    expect(waits.size).toBe(0);
  });

  it('puts an earlier deadline (a retried message) before later ones and wakes up for it', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const waits = new ConfirmWaits(expired);
    const late = waits.add(Date.now() + 1000);
    const retried = waits.add(Date.now() + 50);
    vi.advanceTimersByTime(50);
    expect((await retried.settled)?.final).toBe(true);
    expect(late.done).toBe(false);
    vi.advanceTimersByTime(950);
    expect(late.done).toBe(true);
  });

  it('fails every wait of an aborted signal with its reason, and only those', async () => {
    const waits = new ConfirmWaits(expired);
    const controller = new AbortController();
    const deadline = Date.now() + 60_000;
    const shared = [waits.add(deadline, controller.signal), waits.add(deadline, controller.signal)];
    const other = waits.add(deadline, new AbortController().signal);
    shared[0]!.finish(); // confirmed before the abort
    controller.abort(new Error('gave up'));
    expect(await shared[0]!.settled).toBeUndefined();
    expect(await shared[1]!.settled).toEqual({ error: new Error('gave up'), final: true });
    expect(other.done).toBe(false);
    // A wait on a signal that is already aborted ends at once.
    expect(await waits.add(deadline, controller.signal).settled).toEqual({ error: new Error('gave up'), final: true });
    other.finish();
    expect(waits.size).toBe(0);
  });

  it('keeps the queue short when confirms arrive in order', () => {
    const waits = new ConfirmWaits(expired);
    const deadline = Date.now() + 60_000;
    for (let i = 0; i < 5000; i++) waits.add(deadline).finish();
    const held = waits.add(deadline);
    for (let i = 0; i < 3000; i++) waits.add(deadline).finish(); // behind an unconfirmed one
    expect(waits.size).toBe(1);
    held.finish();
    expect(waits.size).toBe(0);
    expect((waits as unknown as { queue: unknown[] }).queue.length).toBe(0);
  });
});
