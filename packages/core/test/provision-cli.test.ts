import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { UnroutableError } from '../src/errors.js';
import { MemoryTransport } from '../src/memory/transport.js';
import type { CommandIo } from '../src/cli/command.js';
import { provisionCommand } from '../src/cli/provision-command.js';
import type { Transport } from '../src/transport.js';
import { OrderPlaced, PaymentCaptured, ShipmentDispatched } from './docs-fixture-registry.js';

const fixture = join(dirname(fileURLToPath(import.meta.url)), 'docs-fixture-registry.ts');

function io(env: Record<string, string> = {}, transportFor?: CommandIo['transportFor']) {
  const out: string[] = [];
  const err: string[] = [];
  const value: CommandIo = { env, out: (l) => out.push(l), err: (l) => err.push(l), ...(transportFor ? { transportFor } : {}) };
  return { io: value, out, err };
}

const run = (argv: string[], env: CommandIo) => provisionCommand.run(argv, env);
const message = (channel: string) => ({ channel, id: '1', headers: {}, body: new Uint8Array([1]) });

describe('eventbus provision', () => {
  it('declares every group of the entry on EVENTBUS_URL, so publishes before the workers start are kept', async () => {
    const broker = `provision-cli-${process.pid}`;
    const probe = new MemoryTransport({ broker });
    await expect(probe.publish([message(OrderPlaced.channel)])).rejects.toThrow(UnroutableError);
    const { io: env, out, err } = io({ EVENTBUS_URL: `memory://${broker}` });
    const code = await run(['--entry', fixture, '--export', 'chainRegistry'], env);
    expect(code, err.join('\n')).toBe(0);
    expect(out).toContain(`provisioned group "payments" on ${OrderPlaced.channel}, payment.failed, payment.retry.requested`);
    expect(out.at(-1)).toContain('3 group(s) declared on memory');
    await probe.publish([message(OrderPlaced.channel), message(PaymentCaptured.channel)]);
    // Nobody handles shipment.dispatched: still refused, not silently dropped.
    await expect(probe.publish([message(ShipmentDispatched.channel)])).rejects.toThrow(/shipment\.dispatched/);
    const again = await run(['--entry', fixture, '--export', 'chainRegistry', '--url', `memory://${broker}`], io().io);
    expect(again, 'idempotent').toBe(0);
    await probe.close();
  });

  it('bad usage exits 2 saying what is missing', async () => {
    const noUrl = io();
    expect(await run(['--entry', fixture], noUrl.io)).toBe(2);
    expect(noUrl.err[0]).toContain('pass --url or set EVENTBUS_URL');
    const noEntry = io({ EVENTBUS_URL: 'memory://x' });
    expect(await run([], noEntry.io)).toBe(2);
    expect(noEntry.err[0]).toContain('--entry is required');
    const unknown = io();
    expect(await run(['--nope'], unknown.io)).toBe(2);
    expect(unknown.err[0]).toMatch(/Unknown option '--nope'/);
  });

  it('a broker that refuses exits 1 with the reason, and no password in any line', async () => {
    const refusing: Transport = Object.assign(new MemoryTransport({ broker: `provision-refused-${process.pid}` }), {
      name: 'refusing',
      provision: () => Promise.reject(new Error('ACCESS_REFUSED for amqp://app:hunter2@mq:5672')),
    });
    const { io: env, out, err } = io({ EVENTBUS_URL: 'amqp://app:hunter2@mq:5672' }, async () => refusing);
    expect(await run(['--entry', fixture, '--export', 'chainRegistry'], env)).toBe(1);
    expect(err.join('\n')).toContain('refusing refused the topology at amqp://app:***@mq:5672: ACCESS_REFUSED');
    expect([...out, ...err].join('\n')).not.toContain('hunter2');
  });
});
