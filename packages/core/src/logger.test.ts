import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEventBus } from './bus.js';
import { defineEvent } from './contract.js';
import { TransportError } from './errors.js';
import { consoleLogger } from './logger.js';
import { MemoryTransport } from './memory/transport.js';
import { createSpy } from './testing/spy.js';

const at = () => new Date('2026-01-02T03:04:05.678Z');

function capture(level: Parameters<typeof consoleLogger>[0]) {
  const lines = createSpy<string>();
  return { logger: consoleLogger(level, { write: lines.fn, now: at }), lines };
}

describe('consoleLogger', () => {
  it("at 'warn' prints one redacted line per warning or error, and nothing for info or debug", () => {
    const { logger, lines } = capture('warn');
    logger.debug({ a: 1 }, 'debug');
    logger.info({ a: 1 }, 'info');
    logger.warn({ group: 'billing', type: 'order.placed', eventId: 'e-1', reason: 'failed after 5 attempt(s): boom' }, 'dead-lettering event');
    const cause = new Error('ECONNREFUSED amqp://app:hunter2@mq:5672');
    logger.error({ group: 'billing', err: new TransportError('connection lost\nreconnecting', { cause }) }, 'eventbus error');
    expect(lines.calls).toEqual([
      '2026-01-02T03:04:05.678Z WARN dead-lettering event group=billing type=order.placed eventId=e-1 reason="failed after 5 attempt(s): boom"',
      '2026-01-02T03:04:05.678Z ERROR eventbus error group=billing err="TransportError: connection lost\\nreconnecting (cause: Error: ECONNREFUSED amqp://app:***@mq:5672)"',
    ]);
  });

  it("prints stacks only at 'debug'; a child logger carries its bindings; secret fields are masked", () => {
    const { logger, lines } = capture('debug');
    logger.child?.({ group: 'g' }).debug({ err: new Error('boom'), password: 'hunter2', url: 'redis://:hunter2@h' }, 'detail');
    const [line] = lines.calls;
    expect(line?.split('\n')[0]).toBe('2026-01-02T03:04:05.678Z DEBUG detail group=g err="Error: boom" password=*** url=redis://:***@h');
    expect(line).toContain('at ');
    expect(line).not.toContain('hunter2');
    expect(() => consoleLogger('loud' as 'warn')).toThrow(/level must be one of/);
  });
});

describe("the bus's default logger", () => {
  it('speaks on stderr: one error line for a dead letter, naming group, type, id and reason', async () => {
    const Placed = defineEvent({ type: 'order.placed', description: 'Placed.', schema: z.object({ n: z.number() }) });
    const written = createSpy<string>();
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
      written.fn(String(chunk));
      return write(chunk, ...rest);
    }) as typeof process.stderr.write;
    try {
      const bus = createEventBus({ transport: new MemoryTransport({ broker: `logger-test-${process.pid}` }), source: '/t' });
      bus.handle(Placed, { group: 'billing', maxAttempts: 2, backoff: { initialMs: 1, maxMs: 1 } }, () => {
        throw new Error('the external API said no');
      });
      await bus.start();
      const event = await bus.publish(Placed, { n: 1 });
      const [line] = await written.waitFor((c) => c.some((l) => l.includes('dead-lettering event')));
      const deadLettered = written.calls.filter((l) => l.includes('dead-lettering event'));
      expect(deadLettered).toHaveLength(1);
      expect(deadLettered[0]).toMatch(/ ERROR dead-lettering event /);
      for (const part of ['group=billing', 'type=order.placed', `eventId=${event.id}`, 'reason="failed after 2 attempt(s): the external API said no"']) {
        expect(deadLettered[0]).toContain(part);
      }
      expect(written.calls.filter((l) => l.includes('will retry')), 'a retry still to come stays quiet').toEqual([]);
      expect(line).toBeDefined();
      await bus.stop();
    } finally {
      process.stderr.write = write;
    }
  });

  it('speaks for connection loss reported through onError: one redacted error line, no stack', async () => {
    const lines = createSpy<string>();
    const transport = new MemoryTransport({ broker: `logger-loss-${process.pid}` });
    const subscribe = transport.subscribe.bind(transport);
    transport.subscribe = async (options, handler) => {
      const subscription = await subscribe(options, handler);
      options.onError?.(new TransportError('connection lost to amqp://app:hunter2@mq:5672; reconnecting'));
      return subscription;
    };
    const Placed = defineEvent({ type: 'order.placed', description: 'Placed.', schema: z.object({ n: z.number() }) });
    const bus = createEventBus({ transport, source: '/t', logger: consoleLogger('warn', { write: lines.fn, now: at }) });
    bus.handle(Placed, { group: 'billing' }, () => {});
    await bus.start();
    expect(lines.calls).toEqual([
      '2026-01-02T03:04:05.678Z ERROR eventbus error group=billing transport=memory err="TransportError: connection lost to amqp://app:***@mq:5672; reconnecting"',
    ]);
    await bus.stop();
  });
});
