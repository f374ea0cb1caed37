import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createSpy } from '@org/eventbus/testing';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RequestRecord } from '../src/index.js';
import { landedBrokers, postLaunch, type Running, runId, serviceOptions, startWithStream } from './helpers.js';

const CHILD = fileURLToPath(new URL('./worker-child.ts', import.meta.url));

interface Worker {
  launching: ReturnType<typeof createSpy<string>>;
  ready: Promise<void>;
  exited: Promise<unknown>;
  process: ChildProcess;
}

function spawnWorker(config: { url: string; transportOptions: Record<string, unknown>; groupPrefix: string; bootMs: number }): Worker {
  const child = fork(CHILD, [], {
    execArgv: ['--conditions=@org/source', '--import', 'tsx'],
    env: { ...process.env, EC2_WORKER_CHILD: JSON.stringify(config) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const launching = createSpy<string>();
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const ready = new Promise<void>((resolve, reject) => {
    child.on('message', (msg: { kind: string; clientToken?: string; error?: string }) => {
      if (msg.kind === 'ready') resolve();
      else if (msg.kind === 'launching' && msg.clientToken) launching.fn(msg.clientToken);
      else if (msg.kind === 'error') reject(new Error(msg.error));
    });
    void exited.then(() => reject(new Error('worker exited before it was ready')));
  });
  return { launching, ready, exited, process: child };
}

// Needs a broker shared by processes: on memory:// a killed worker takes its broker with it.
const brokers = (await landedBrokers()).filter((b) => b.name !== 'memory');

for (const broker of brokers) {
  describe(`EC2 worker killed mid-launch (${broker.name})`, () => {
    beforeAll(() => {
      if (broker.missing) throw new Error(broker.missing);
    });
    const children: Worker[] = [];
    let api: Running | undefined;
    afterEach(async () => {
      for (const c of children) if (c.process.exitCode === null) c.process.kill('SIGKILL');
      await Promise.all(children.map((c) => c.exited));
      children.length = 0;
      await api?.stop();
    });

    it('a new worker completes the request that a SIGKILLed worker had started', async () => {
      const id = runId();
      const options = serviceOptions(broker, id, { role: 'api' });
      api = await startWithStream(options);
      const childConfig = { url: options.url ?? '', transportOptions: broker.options(id), groupPrefix: options.groupPrefix ?? '' };

      const first = spawnWorker({ ...childConfig, bootMs: 120_000 });
      children.push(first);
      await first.ready;
      const posted = await postLaunch(api.base);
      expect(posted.status).toBe(202);
      const requestId = posted.body.requestId;
      await first.launching.waitFor((ts) => ts.includes(requestId), { timeoutMs: 15_000, description: 'the first worker to start launching' });

      first.process.kill('SIGKILL');
      await first.exited;
      const second = spawnWorker({ ...childConfig, bootMs: 200 });
      children.push(second);
      await second.ready;

      await api.notifications.waitFor((ns) => ns.some((n) => n.requestId === requestId), {
        timeoutMs: 30_000,
        description: 'the notification after the second worker took over',
      });
      // The same event id reached the new worker, so EC2 would see the same ClientToken.
      expect(second.launching.calls).toContain(requestId);
      expect(api.notifications.calls.find((n) => n.requestId === requestId)?.level).toBe('success');
      const record = (await (await fetch(new URL(posted.body.statusUrl, api.base))).json()) as RequestRecord;
      expect(record.status).toBe('launched');
    }, 60_000);
  });
}
