import { expect } from 'vitest';
import { deadLetters } from '../../dead-letters/dead-letters.js';
import type { CloudEvent } from '../../envelope.js';
import { createSpy } from '../spy.js';
import type { Harness } from './harness.js';
import { check, type Scenario } from './scenario.js';

/** Dead letters can take a moment to be readable (a confirm, a queue's own delivery): poll, bounded. */
const LISTABLE = { timeout: 30_000, interval: 250 };

/** The `n` of a listed dead letter's event (undefined when it did not decode). */
const numberOf = (letter: { event?: { data: unknown } | undefined }) => (letter.event?.data as { n: number } | undefined)?.n;

export const deadLetterScenarios: Scenario[] = [
  {
    name: 'dead-letter-admin',
    title: 'dead letters are listed with their reasons, shown whole, redriven to the group alone (handled as attempt 1), and purged',
    slow: true,
    async run(h: Harness, env) {
      const admin = await h.transport();
      if (!admin.scanDeadLetters) env.skip(`the ${admin.name} transport has no scanDeadLetters yet`);
      const contract = h.contract('dlq-admin');
      const group = h.group();
      const other = h.group();
      const handled = createSpy<CloudEvent & { attempt: number }>();
      const otherSeen = createSpy<CloudEvent>();
      let acceptOdd = false;
      const bus = await h.bus();
      bus.handle(contract, { group, maxAttempts: 1 }, async (event, ctx) => {
        if (event.data.n % 2 === 1 && !acceptOdd) throw new Error(`odd number ${event.data.n} refused`);
        handled.fn({ ...event, attempt: ctx.attempt });
      });
      bus.handle(contract, { group: other }, (event) => otherSeen.fn(event));
      await bus.start();
      for (const n of [1, 2, 3, 4]) await bus.publish(contract, { n });
      await handled.waitForCount(2, { timeoutMs: 30_000, description: 'the even events handled' });
      await otherSeen.waitForCount(4, { timeoutMs: 30_000, description: 'the other group handling all four' });

      const letters = deadLetters(admin, group);
      await expect.poll(async () => (await letters.list()).length, LISTABLE).toBe(2);
      const listed = await letters.list();
      expect(listed.map((l) => numberOf(l)).sort()).toEqual([1, 3]);
      for (const l of listed) {
        expect(l.type).toBe(contract.type);
        expect(l.reason).toContain('odd number');
        expect(l.group).toBe(group);
        expect(l.attempts).toBe(1);
        check(l.deadLetteredAt && Date.now() - l.deadLetteredAt.getTime() < 120_000, `dead-letter time missing or wrong: ${String(l.deadLetteredAt)}`);
      }
      expect(await letters.list({ reason: 'no such reason' })).toHaveLength(0);
      expect(await letters.list({ types: [contract.type], newerThanMs: 120_000 })).toHaveLength(2);
      expect(await letters.list({ olderThanMs: 3_600_000 })).toHaveLength(0);
      const one = listed.find((l) => numberOf(l) === 1);
      const three = listed.find((l) => numberOf(l) === 3);
      check(one && three, 'both dead letters listed');
      const shown = await letters.show(one.id);
      expect(shown?.event?.data).toEqual({ n: 1 });
      expect(await letters.show('no-such-id')).toBeUndefined();

      // A dry run changes nothing; the redrive sends n=1 back to this group only, as a new delivery.
      const dry = await letters.redrive({ ids: [one.id] }, { dryRun: true });
      expect(dry).toMatchObject({ count: 1, dryRun: true });
      expect(await letters.list()).toHaveLength(2);
      acceptOdd = true;
      const moved = await letters.redrive({ ids: [one.id] });
      expect(moved.count).toBe(1);
      const calls = await handled.waitFor((c) => c.some((e) => e.id === one.id), { timeoutMs: 30_000, description: 'the redriven event handled' });
      const again = calls.find((e) => e.id === one.id);
      expect(again?.attempt, 'a redriven event starts over at attempt 1').toBe(1);
      expect(again?.data).toEqual({ n: 1 });
      await expect.poll(async () => (await letters.list()).map((l) => l.id), LISTABLE).toEqual([three.id]);

      // Purge removes the rest for good: the group never handles n=3, the other group saw each event once.
      expect((await letters.purge({}, { dryRun: true })).count).toBe(1);
      expect((await letters.purge({})).count).toBe(1);
      await expect.poll(async () => (await letters.list()).length, LISTABLE).toBe(0);
      await handled.expectNone((e) => e.id === three.id, 1_000);
      expect(otherSeen.count, 'the redrive reached only the group it came from').toBe(4);
    },
  },
];
