import { Writable } from 'node:stream';
import { buildEventGraph, describeApp, publishersOf } from '@org/eventbus';
import { expect, it } from 'vitest';
import bus from '../src/event-graph.js';
import { runDemo } from '../src/index.js';

it('the demo submits launches, follows them to their notifications and summarises', async () => {
  let printed = '';
  const out = new Writable({
    write(chunk: Buffer, _enc, done) {
      printed += chunk.toString();
      done();
    },
  });
  const summary = await runDemo({ count: 4, rate: 20, bootMs: 20, failureRate: 0, out });
  expect(summary).toMatchObject({ submitted: 4, succeeded: 4, failed: 0, refused: 0, limit: 20 });
  expect(printed).toContain('succeeded 4 · failed 0');
  expect(printed).toContain('4/4');
});

it('the event-graph entry declares the whole chain: launch → launched | failed → notification', () => {
  const registrations = bus().registrations;
  const byName = new Map(registrations.map((r) => [r.name, r]));
  expect(byName.get('launch-instance')?.emits.map((e) => e.type)).toEqual(['ec2.instance.launched', 'ec2.launch.failed']);
  expect(byName.get('notify-launched')?.emits.map((e) => e.type)).toEqual(['notification.created']);
  expect(byName.get('notify-failed')?.emits.map((e) => e.type)).toEqual(['notification.created']);
  expect(byName.get('api-stream-notifications')?.contract.type).toBe('notification.created');
  const graph = buildEventGraph(describeApp(bus()));
  expect(publishersOf(bus()).map((p) => p.name)).toEqual(['POST /v1/ec2/instances']);
  // Every event has a producer and a consumer; no undeclared emit, no cycle.
  expect(graph.findings).toEqual([]);
});
