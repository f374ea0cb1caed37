import { createSpy } from '@org/eventbus/testing';
import { expect, it } from 'vitest';
import { type Launcher, SimulatedLauncher } from '../src/index.js';
import { landedBrokers, postLaunch, runId, serviceOptions, startWithStream } from './helpers.js';

const [memory] = await landedBrokers();

it('the launch handler never starts more than the rate limit allows in any window', async () => {
  const starts = createSpy<number>();
  const simulated = new SimulatedLauncher({ bootMs: 10 });
  const launcher: Launcher = {
    name: 'simulated',
    launch: (spec, signal) => {
      starts.fn(performance.now());
      return simulated.launch(spec, signal);
    },
  };
  const limit = 3;
  const per = 500;
  const running = await startWithStream(serviceOptions(memory!, runId(), { launcher, guards: { rateLimit: { limit, per } } }));
  try {
    const posted = await Promise.all(Array.from({ length: 8 }, () => postLaunch(running.base)));
    expect(posted.map((p) => p.status)).toEqual(Array(8).fill(202));
    await running.notifications.waitForCount(8, { timeoutMs: 20_000, description: '8 notifications' });
    const times = [...starts.calls].sort((a, b) => a - b);
    expect(times).toHaveLength(8);
    // Any limit + 1 consecutive starts span a window. The limiter counts its own claims; the launcher is
    // called just after, so allow a little event-loop lag (unguarded, these starts would be ~0 ms apart).
    for (let i = 0; i + limit < times.length; i++) expect(times[i + limit]! - times[i]!).toBeGreaterThanOrEqual(per - 60);
    expect(running.notifications.calls.every((n) => n.level === 'success')).toBe(true);
  } finally {
    await running.stop();
  }
});
