import { describe, expect, it } from 'vitest';
import { type Entry, PartitionState } from '../src/partition-state.js';

const entry = (offset: number, key?: string, notBefore?: number): Entry => ({
  offset: BigInt(offset),
  message: { channel: 'c', headers: {}, body: new Uint8Array(), ...(key === undefined ? {} : { key }) },
  attempt: 1,
  notBefore,
  settled: false,
});

describe('kafka partition state', () => {
  it('hands records out in offset order and commits only up to the first unsettled one, across thousands', () => {
    const state = new PartitionState('t', 0);
    const all = Array.from({ length: 5000 }, (_, i) => entry(i));
    for (const e of all) expect(state.receive(e)).toBe(true);
    const taken: Entry[] = [];
    for (let e = state.take(0); e; e = state.take(0)) taken.push(e);
    expect(taken.map((e) => Number(e.offset))).toEqual(all.map((_, i) => i));
    expect(state.queued).toBe(0);
    // Settle everything except offset 1234: the commit point stops there, however many settle after it.
    for (const e of taken) if (e.offset !== 1234n) state.settle(e);
    expect(state.commitPoint()).toBe(1234n);
    state.settle(taken[1234]!);
    expect(state.commitPoint()).toBe(5000n);
    expect(state.receive(entry(10))).toBe(false);
  });

  it('never runs two records of one key at once, and keeps their order', () => {
    const state = new PartitionState('t', 0);
    const entries = ['a', 'a', 'b', undefined, 'a'].map((key, i) => entry(i, key));
    for (const e of entries) state.receive(e);
    const first = [state.take(0), state.take(0), state.take(0)].map((e) => e?.offset);
    expect(first).toEqual([0n, 2n, 3n]);
    expect(state.take(0)).toBeUndefined();
    state.settle(entries[0]!);
    expect(state.take(0)?.offset).toBe(1n);
    expect(state.take(0)).toBeUndefined();
    expect(state.queued).toBe(1);
  });

  it('passes over a held record that is not due (its key too), wakes for it, and runs a record put back first', () => {
    const state = new PartitionState('t', 0);
    state.receive(entry(0, 'k', 500));
    state.receive(entry(1));
    // Held for less behind it, same key: scheduled earlier, so it goes first.
    state.receive(entry(2, 'k', 200));
    expect(state.take(100)?.offset).toBe(1n);
    expect(state.take(100)).toBeUndefined();
    expect(state.wakeAt).toBe(200);
    const second = state.take(300)!;
    expect(second.offset).toBe(2n);
    expect(state.take(300)).toBeUndefined();
    expect(state.wakeAt).toBe(500);
    // Due, but its key is in flight until the earlier one of the key is settled.
    expect(state.take(600)).toBeUndefined();
    state.settle(second);
    const due = state.take(600)!;
    expect(due.offset).toBe(0n);
    expect(state.wakeAt).toBeUndefined();
    state.putBack(due, 700);
    expect(state.take(650)).toBeUndefined();
    expect(state.take(700)?.offset).toBe(0n);
    expect(state.dropQueued()).toEqual({ dropped: 0, held: 0 });
    expect(state.commitPoint()).toBe(0n);
  });

  it('counts held entries apart, and sleeps on a backlog of holds until the first is due or a record arrives', () => {
    const state = new PartitionState('t', 0);
    for (let i = 0; i < 100; i++) state.receive(entry(i, undefined, 10_000 + i));
    expect(state.heldQueued).toBe(100);
    expect(state.take(0)).toBeUndefined();
    expect(state.wakeAt).toBe(10_000);
    // Asleep: the same answer without a scan.
    expect(state.take(5_000)).toBeUndefined();
    expect(state.wakeAt).toBe(10_000);
    state.receive(entry(100));
    expect(state.take(5_000)?.offset).toBe(100n);
    expect(state.take(10_000)?.offset).toBe(0n);
    expect(state.heldQueued).toBe(99);
    expect(state.dropQueued()).toEqual({ dropped: 99, held: 99 });
  });
});
