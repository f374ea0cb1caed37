import type { Delivery } from '@org/eventbus';
import { createSpy, describeBroker, eventually } from '@org/eventbus/testing';
import { afterEach, expect, it } from 'vitest';
// The CLI's entry point is not part of core's public API; the test drives it as the bin does.
import { main } from '../../core/src/cli/main.js';
import { cloudEventMessage, Fixture, URL_VARIABLE } from './helpers.js';

describeBroker('eventbus status on rabbitmq', { variable: URL_VARIABLE }, (url) => {
  let fixture: Fixture;
  afterEach(() => fixture?.cleanup());

  it("reports the group queue's backlog and the dead letters, moving none of them", async () => {
    fixture = new Fixture(url);
    const group = fixture.group('status');
    const worker = fixture.transport();
    const dead = createSpy<Delivery>();
    const sub = await worker.subscribe({ group, channels: ['status.ch'], prefetch: 10 }, async (d) => {
      await d.deadLetter('refused by the status test');
      dead.fn(d);
    });
    await worker.publish([cloudEventMessage('status.ch', { n: 1 })]);
    await dead.waitForCount(1);
    await sub.close();
    await worker.publish([2, 3].map((n) => cloudEventMessage('status.ch', { n })));
    const run = async () => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await main(['status', '--group', group, '--json'], {
        env: { EVENTBUS_URL: url() },
        out: (l) => out.push(l),
        err: (l) => err.push(l),
        transportFor: async () => fixture.transport(),
      });
      expect(code, err.join('\n')).toBe(0);
      return JSON.parse(out.join('\n')) as unknown[];
    };
    await eventually(run, (r) => JSON.stringify(r) === JSON.stringify([{ group, backlog: { messages: 2 }, deadLetters: 1 }]), {
      description: 'backlog 2, one dead letter',
    });
    // A second run sees the same: the scan kept the dead letter.
    expect(await run()).toEqual([{ group, backlog: { messages: 2 }, deadLetters: 1 }]);
  });
});
