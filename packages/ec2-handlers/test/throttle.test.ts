import { eventually } from '@org/eventbus/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { LaunchThrottledError, launcherFromEnv, type RequestRecord, SimulatedLauncher } from '../src/index.js';
import { chainState } from '../src/request-store.js';
import { postLaunch, type Running, runId, serviceOptions, startWithStream } from './helpers.js';

const spec = (clientToken: string) => ({ clientToken, imageId: 'ami-1', instanceType: 't3.micro', tags: {} });

/** Randomness that answers from a list (then 0.99: no throttle, no failure). */
const sequence = (values: number[]) => () => values.shift() ?? 0.99;

describe('SimulatedLauncher throttling', () => {
  it('answers its throttle rate of calls with LaunchThrottledError(retryAfterMs), starting nothing; the same token launches next time', async () => {
    const launcher = new SimulatedLauncher({ bootMs: 5, throttleRate: 0.5, throttleRetryAfterMs: 1500, random: sequence([0.1]) });
    const error = await launcher.launch(spec('t-1')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LaunchThrottledError);
    expect(error).toMatchObject({ retryAfterMs: 1500, message: 'simulated: throttled, retry after 1.5 s' });
    expect(launcher.launches).toBe(0);
    expect((await launcher.launch(spec('t-1'))).instanceIds).toHaveLength(1);
  });

  it('is off by default; bad options and variables are named', () => {
    expect(new SimulatedLauncher().throttleRate).toBe(0);
    expect(() => new SimulatedLauncher({ throttleRate: 2 })).toThrow(/throttleRate/);
    expect(() => new SimulatedLauncher({ throttleRetryAfterMs: -1 })).toThrow(/throttleRetryAfterMs/);
    const fromEnv = launcherFromEnv({ EC2_SIM_THROTTLE_RATE: '0.25', EC2_SIM_THROTTLE_RETRY_AFTER_MS: '4000' }) as SimulatedLauncher;
    expect([fromEnv.throttleRate, fromEnv.throttleRetryAfterMs]).toEqual([0.25, 4000]);
    expect(() => launcherFromEnv({ EC2_SIM_THROTTLE_RATE: 'often' })).toThrow(/EC2_SIM_THROTTLE_RATE/);
  });
});

describe('request status while a launch waits', () => {
  it('"waiting" with the time until it is due; after that the retry is "launching" again', () => {
    const until = new Date(Date.now() + 60_000).toISOString();
    const chain = [
      { type: 'ec2.launch.requested', eventId: 'e', at: '2026-01-01T00:00:00.000Z' },
      { type: 'launch.started', eventId: 'e#1', at: '2026-01-01T00:00:00.010Z' },
      { type: 'launch.waiting', eventId: 'e#1@1', at: '2026-01-01T00:00:00.020Z', until },
    ];
    expect(chainState(chain)).toEqual({ status: 'waiting', waitingUntil: until });
    expect(chainState(chain, Date.parse(until) + 1)).toEqual({ status: 'launching' });
    expect(chainState([...chain, { type: 'ec2.instance.launched', eventId: 'e.launched', at: '2026-01-01T00:01:00.000Z' }])).toEqual({ status: 'launched' });
  });
});

describe('EC2 reference service on memory: a throttled launch', () => {
  let running: Running | undefined;
  afterEach(async () => {
    await running?.stop();
    running = undefined;
  });

  it('waits with ctx.retryAfter (status "waiting until …", no attempt used up), then launches and notifies once', async () => {
    const id = runId();
    // Throttled twice, then launched: 1 s each wait, maxAttempts 1 so a failed attempt would dead-letter it.
    const launcher = new SimulatedLauncher({ bootMs: 50, throttleRate: 0.5, throttleRetryAfterMs: 1_000, random: sequence([0.1, 0.1]) });
    running = await startWithStream(serviceOptions({ name: 'memory', url: 'memory://', options: () => ({}) }, id, { launcher, worker: { maxAttempts: 1 } }));
    const posted = await postLaunch(running.base);
    expect(posted.status).toBe(202);
    const statusUrl = new URL(posted.body.statusUrl, running.base);
    const waiting = await eventually(
      async () => (await (await fetch(statusUrl)).json()) as RequestRecord,
      (record) => record.status === 'waiting',
      { timeoutMs: 10_000, intervalMs: 50, description: 'the status "waiting"' },
    );
    expect(Date.parse(waiting.waitingUntil!)).toBeGreaterThan(Date.now() - 1_000);
    expect(waiting.chain.at(-1)).toMatchObject({ type: 'launch.waiting', detail: expect.stringMatching(/^waiting until .*throttled, retry after 1 s/) });

    const [note] = await running.notifications.waitFor((ns) => ns.some((n) => n.requestId === posted.body.requestId), { timeoutMs: 20_000 });
    expect(note?.level).toBe('success');
    const record = (await (await fetch(statusUrl)).json()) as RequestRecord;
    expect(record.status).toBe('launched');
    const waits = record.chain.filter((s) => s.type === 'launch.waiting');
    expect(waits).toHaveLength(2);
    // The launch ran after the last wait's time: never early.
    const launched = record.chain.find((s) => s.type === 'ec2.instance.launched')!;
    expect(Date.parse(launched.at)).toBeGreaterThanOrEqual(Date.parse(waits[1]!.until!) - 5);
    expect(launcher.launches).toBe(1);
  });
});
