import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEventBus, type EventBus } from '../src/bus.js';
import type { CommandIo } from '../src/cli/command.js';
import { DEAD_LETTERS_USAGE, parseAge } from '../src/cli/dead-letters-command.js';
import { main } from '../src/cli/main.js';
import { defineEvent } from '../src/contract.js';
import { deadLetters } from '../src/dead-letters/dead-letters.js';
import { silentLogger } from '../src/logger.js';
import { MemoryTransport } from '../src/memory/transport.js';
import { createSpy } from '../src/testing/spy.js';

const Charged = defineEvent({ type: 'test.dlq.charged', description: 'a card was charged (dead-letter CLI test)', schema: z.object({ n: z.number() }) });

function io(env: Record<string, string>) {
  const out: string[] = [];
  const err: string[] = [];
  const value: CommandIo = { env, out: (l) => out.push(l), err: (l) => err.push(l) };
  return { io: value, out, err };
}

const buses: EventBus[] = [];
afterEach(async () => {
  await Promise.all(buses.splice(0).map((b) => b.stop()));
});

/** A memory broker with two dead letters (n = 1 and 3) in group "billing"; "billing" handles what is redriven. */
async function withDeadLetters() {
  const broker = `dlq-cli-${process.pid}-${buses.length}`;
  const handled = createSpy<number>();
  let acceptAll = false;
  const bus = createEventBus({ transport: new MemoryTransport({ broker }), source: '/test', logger: silentLogger });
  buses.push(bus);
  bus.handle(Charged, { group: 'billing', maxAttempts: 1 }, (event) => {
    if (event.data.n % 2 === 1 && !acceptAll) throw new Error(`card declined for ${event.data.n}`);
    handled.fn(event.data.n);
  });
  await bus.start();
  const ids: Record<number, string> = {};
  for (const n of [1, 2, 3]) ids[n] = (await bus.publish(Charged, { n })).id;
  await handled.waitForCount(1, { timeoutMs: 5_000 });
  const transport = new MemoryTransport({ broker });
  await expect.poll(async () => (await deadLetters(transport, 'billing').list()).length, { timeout: 5_000 }).toBe(2);
  await transport.close();
  return { env: { EVENTBUS_URL: `memory://${broker}` }, handled, ids, accept: () => (acceptAll = true) };
}

describe('eventbus dead-letters (dlq)', () => {
  it('lists with reasons, shows one whole, redrives by id and purges with --all', async () => {
    const { env, handled, ids, accept } = await withDeadLetters();
    const list = io(env);
    expect(await main(['dead-letters', 'list', '--group', 'billing'], list.io), list.err.join('\n')).toBe(0);
    expect(list.out).toHaveLength(2);
    expect(list.out[0]).toMatch(new RegExp(`^${ids[1]}  test\\.dlq\\.charged  \\d+s ago  attempts 1  .*card declined for 1`));

    const json = io(env);
    expect(await main(['dlq', 'list', '--group', 'billing', '--reason', 'FOR 3', '--json'], json.io)).toBe(0);
    const parsed = JSON.parse(json.out.join('\n')) as { id: string; event: { data: unknown } }[];
    expect(parsed.map((l) => [l.id, l.event.data])).toEqual([[ids[3], { n: 3 }]]);

    const show = io(env);
    expect(await main(['dlq', 'show', ids[1]!, '--group', 'billing'], show.io)).toBe(0);
    expect(JSON.parse(show.out.join('\n'))).toMatchObject({ id: ids[1], reason: expect.stringContaining('card declined'), event: { data: { n: 1 } } });
    const missing = io(env);
    expect(await main(['dlq', 'show', 'nope', '--group', 'billing'], missing.io)).toBe(1);
    expect(missing.err.join('\n')).toContain('no dead letter with id "nope" in group "billing"');

    accept();
    const redrive = io(env);
    expect(await main(['dlq', 'redrive', '--group', 'billing', '--id', ids[1]!], redrive.io)).toBe(0);
    expect(redrive.out).toEqual([`redrove 1 dead letter(s) of group "billing" back to its queue: ${ids[1]}`]);
    await handled.waitFor((calls) => calls.includes(1), { timeoutMs: 5_000, description: 'the redriven event handled' });

    const dry = io(env);
    expect(await main(['dlq', 'purge', '--group', 'billing', '--all', '--dry-run'], dry.io)).toBe(0);
    expect(dry.out).toEqual([`would purge 1 dead letter(s) of group "billing": ${ids[3]}`]);
    const purge = io(env);
    expect(await main(['dlq', 'purge', '--group', 'billing', '--all', '--json'], purge.io)).toBe(0);
    expect(JSON.parse(purge.out.join('\n'))).toEqual({ count: 1, ids: [ids[3]], dryRun: false });
    const empty = io(env);
    expect(await main(['dlq', 'list', '--group', 'billing'], empty.io)).toBe(0);
    expect(empty.out).toEqual(['no dead letters in group "billing"']);
  });

  it('says what is wrong with the usage in one line, exit 2, and changes nothing', async () => {
    const { env } = await withDeadLetters();
    const cases: [string[], string][] = [
      [['dlq'], 'which action? list, show, redrive or purge'],
      [['dlq', 'peek', '--group', 'billing'], 'unknown action "peek"'],
      [['dlq', 'list'], '--group <group> is required'],
      [['dlq', 'purge', '--group', 'billing'], 'purge takes every dead letter of the group only with --all'],
      [['dlq', 'list', '--group', 'billing', '--older-than', 'ten minutes'], '--older-than must be an age such as 30s'],
      [['dlq', 'redrive', '--group', 'billing', '--all', '--rate', '0'], '--rate must be a positive number'],
      [['dlq', 'show', '--group', 'billing'], 'show needs one event id'],
      [['dlq', 'list', '--group', 'billing', '--colour'], "Unknown option '--colour'"],
    ];
    for (const [argv, text] of cases) {
      const run = io(env);
      expect(await main(argv, run.io), argv.join(' ')).toBe(2);
      expect(run.err.join('\n')).toContain(text);
    }
    const noUrl = io({});
    expect(await main(['dlq', 'list', '--group', 'billing'], noUrl.io)).toBe(2);
    expect(noUrl.err.join('\n')).toContain('no broker: pass --url or set EVENTBUS_URL');
    const list = io(env);
    await main(['dlq', 'list', '--group', 'billing'], list.io);
    expect(list.out, 'nothing was moved').toHaveLength(2);
    const help = io({});
    expect(await main(['dead-letters', '--help'], help.io)).toBe(0);
    expect(help.out.join('\n')).toContain('Usage: eventbus dead-letters <list|show|redrive|purge>');
  });

  it('prints the help the operations guide shows, word for word', () => {
    const guide = readFileSync(new URL('../../../docs/operations.md', import.meta.url), 'utf8');
    expect(guide).toContain(`\`\`\`\n${DEAD_LETTERS_USAGE}\n\`\`\``);
  });

  it('reads ages as 500ms, 30s, 10m, 2h, 7d', () => {
    expect([parseAge('500ms'), parseAge('30s'), parseAge('10m'), parseAge('2h'), parseAge('7d'), parseAge('7 days')]).toEqual([
      500, 30_000, 600_000, 7_200_000, 604_800_000, undefined,
    ]);
  });
});
