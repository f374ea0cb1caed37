import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineEvent } from '../contract.js';
import type { MessageContext } from '../context.js';
import type { Instrumentation } from '../tracing/hooks.js';
import { combineInstrumentation } from './combine.js';

const Thing = defineEvent({ type: 'combine.thing', description: 'A thing.', schema: z.object({}) });

/** An instrumentation that notes its hooks into `log` and tags the envelope options it passes on. */
function noting(name: string, log: string[]): Instrumentation {
  return {
    send: (info) => {
      log.push(`${name} send sees ${info.options.subject ?? '-'}`);
      return { options: { ...info.options, subject: name }, end: () => void log.push(`${name} send end`) };
    },
    process: () => (next) => async (ctx) => {
      log.push(`${name} in`);
      await next(ctx);
      log.push(`${name} out`);
    },
    receive: () => ({ end: () => void log.push(`${name} receive end`) }),
    attach: () => void log.push(`${name} attach`),
  };
}

describe('combineInstrumentation', () => {
  it('is nothing for an empty list and the one itself for one', () => {
    const one = noting('a', []);
    expect(combineInstrumentation([])).toBeUndefined();
    expect(combineInstrumentation([one])).toBe(one);
  });

  it('nests the first outermost: its send options feed the next, its middleware wraps the next, inner scopes end first', async () => {
    const log: string[] = [];
    const combined = combineInstrumentation([noting('a', log), {}, noting('b', log)]);
    const scope = combined?.send?.({ contract: Thing, channel: Thing.channel, transport: 'memory', options: {} });
    expect(scope?.options.subject).toBe('b');
    scope?.end({});
    await combined?.process?.({ transport: 'memory' })(async () => void log.push('handler'))({} as MessageContext);
    combined?.receive?.({ transport: 'memory', group: 'g', channel: 'c', attempt: 1 }).end({ outcome: 'ack' });
    combined?.attach?.({ transport: {} as never, groups: () => [] });
    expect(log).toEqual([
      'a send sees -',
      'b send sees a',
      'b send end',
      'a send end',
      'a in',
      'b in',
      'handler',
      'b out',
      'a out',
      'b receive end',
      'a receive end',
      'a attach',
      'b attach',
    ]);
  });

  it('leaves out the hooks none of them has', () => {
    const combined = combineInstrumentation([{ attach: () => {} }, { attach: () => {} }]);
    expect(combined?.send).toBeUndefined();
    expect(combined?.process).toBeUndefined();
    expect(combined?.receive).toBeUndefined();
    expect(combined?.publish).toBeUndefined();
  });
});
