import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEventBus, type EventBus } from '../src/bus.js';
import type { CommandIo } from '../src/cli/command.js';
import { main } from '../src/cli/main.js';
import { STATUS_USAGE } from '../src/cli/status-command.js';
import { defineEvent } from '../src/contract.js';
import { silentLogger } from '../src/logger.js';
import { MemoryTransport } from '../src/memory/transport.js';
import { createSpy } from '../src/testing/spy.js';
import type { Transport } from '../src/transport.js';
import { OrderPlaced } from './docs-fixture-registry.js';

const fixture = join(dirname(fileURLToPath(import.meta.url)), 'docs-fixture-registry.ts');
const Charged = defineEvent({ type: 'test.status.charged', description: 'a card was charged (status CLI test)', schema: z.object({ n: z.number() }) });

function io(env: Record<string, string>, transportFor?: CommandIo['transportFor']) {
  const out: string[] = [];
  const err: string[] = [];
  const value: CommandIo = { env, out: (l) => out.push(l), err: (l) => err.push(l), ...(transportFor ? { transportFor } : {}) };
  return { io: value, out, err };
}

const buses: EventBus[] = [];
afterEach(async () => {
  await Promise.all(buses.splice(0).map((b) => b.stop()));
});

describe('eventbus status', () => {
  it('prints per --group the backlog and the dead letters, as text and as --json, and moves nothing', async () => {
    const broker = `status-cli-${process.pid}`;
    const handled = createSpy<number>();
    const bus = createEventBus({ transport: new MemoryTransport({ broker }), source: '/test', logger: silentLogger });
    buses.push(bus);
    bus.handle(Charged, { group: 'billing', maxAttempts: 1 }, (event) => {
      if (event.data.n % 2 === 1) throw new Error(`declined ${event.data.n}`);
      handled.fn(event.data.n);
    });
    await bus.start();
    for (const n of [1, 2, 3]) await bus.publish(Charged, { n });
    await handled.waitForCount(1);
    const env = { EVENTBUS_URL: `memory://${broker}` };
    await expect
      .poll(async () => {
        const text = io(env);
        await main(['status', '--group', 'billing'], text.io);
        return text.out;
      })
      .toEqual(['billing  backlog 0  in flight 0  dead letters 2']);
    // Stopped consumers: what is published now waits in the group's backlog.
    await bus.stop();
    const publisher = new MemoryTransport({ broker });
    await publisher.publish([{ channel: Charged.channel, id: 'x', headers: {}, body: new Uint8Array([1]) }]);
    await publisher.close();
    const json = io(env);
    expect(await main(['status', '--group', 'billing', '--group', 'nobody', '--json'], json.io), json.err.join('\n')).toBe(0);
    expect(JSON.parse(json.out.join('\n'))).toEqual([
      { group: 'billing', backlog: { messages: 1, inFlight: 0 }, deadLetters: 2 },
      { group: 'nobody', backlog: { messages: 0, inFlight: 0 }, deadLetters: 0 },
    ]);
  });

  it('counts the deliveries a handler is still working on as in flight', async () => {
    const broker = `status-in-flight-${process.pid}`;
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const started = createSpy<number>();
    const bus = createEventBus({ transport: new MemoryTransport({ broker }), source: '/test', logger: silentLogger });
    buses.push(bus);
    bus.handle(Charged, { group: 'slow', concurrency: 2 }, async (event) => {
      started.fn(event.data.n);
      await released;
    });
    await bus.start();
    for (const n of [1, 2, 3]) await bus.publish(Charged, { n });
    await started.waitForCount(2);
    const text = io({ EVENTBUS_URL: `memory://${broker}` });
    expect(await main(['status', '--group', 'slow'], text.io)).toBe(0);
    expect(text.out).toEqual(['slow  backlog 3  in flight 2  dead letters 0']);
    release();
  });

  it("takes the groups from the entry's handlers", async () => {
    const broker = `status-entry-${process.pid}`;
    const env = { EVENTBUS_URL: `memory://${broker}` };
    expect(await main(['provision', '--entry', fixture, '--export', 'chainRegistry'], io(env).io)).toBe(0);
    const publisher = new MemoryTransport({ broker });
    await publisher.publish([{ channel: OrderPlaced.channel, id: 'o1', headers: {}, body: new Uint8Array([1]) }]);
    await publisher.close();
    const { io: value, out, err } = io(env);
    expect(await main(['status', '--entry', fixture, '--export', 'chainRegistry'], value), err.join('\n')).toBe(0);
    expect(out).toHaveLength(3);
    expect(out).toContain('payments  backlog 1  in flight 0  dead letters 0');
  });

  it('exits 2 on bad usage and 1 when the broker fails, saying why', async () => {
    const none = io({});
    expect(await main(['status', '--group', 'g'], none.io)).toBe(2);
    expect(none.err[0]).toContain('no broker');
    const neither = io({ EVENTBUS_URL: 'memory://x' });
    expect(await main(['status'], neither.io)).toBe(2);
    expect(neither.err[0]).toContain('--entry or --group is required');
    const help = io({});
    expect(await main(['status', '--help'], help.io)).toBe(0);
    expect(help.out[0]).toMatch(/^Usage: eventbus status/);
    const broken = new MemoryTransport({ broker: `status-broken-${process.pid}` });
    const failing: Transport = Object.assign(broken, { backlog: () => Promise.reject(new Error('broker said no')) });
    const failed = io({ EVENTBUS_URL: 'memory://y' }, async () => failing);
    expect(await main(['status', '--group', 'g'], failed.io)).toBe(1);
    expect(failed.err[0]).toContain('broker said no');
  });
});

describe('eventbus status help', () => {
  it('is the one the operations guide shows, word for word', () => {
    const guide = readFileSync(new URL('../../../docs/operations.md', import.meta.url), 'utf8');
    expect(guide).toContain(`\`\`\`\n${STATUS_USAGE}\n\`\`\``);
  });
});
