import { ConfigError, type CommandIo } from '@org/eventbus';
import { describeBroker } from '@org/eventbus/testing';
import pg from 'pg';
import { afterEach, expect, it } from 'vitest';
import { commands, migrate, resolveTables } from '../src/index.js';
import { Db, URL_VARIABLE } from './helpers.js';

function capture(env: Record<string, string | undefined> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CommandIo = { env, out: (l) => out.push(l), err: (l) => err.push(l) };
  return { io, out, err };
}

describeBroker('postgres migrations', { variable: URL_VARIABLE }, (url) => {
  const dbs: Db[] = [];
  const db = () => {
    const d = new Db(url());
    dbs.push(d);
    return d;
  };
  afterEach(async () => {
    await Promise.all(dbs.splice(0).map((d) => d.cleanup()));
  });

  it('creates both tables once, and a second (or concurrent) run applies nothing', async () => {
    const d = db();
    const runs = await Promise.all([migrate(d.pool, { tables: d.tables }), migrate(d.pool, { tables: d.tables })]);
    expect(runs.flatMap((r) => r.applied).sort()).toEqual(['001_outbox.sql', '002_inbox.sql', '003_outbox_doorbell.sql']);
    expect(await migrate(d.pool, { tables: d.tables })).toEqual({ applied: [] });
    expect(await d.count('outbox')).toBe(0);
    expect(await d.count('inbox')).toBe(0);
  });

  it('refuses a table name that is not a plain identifier, naming the option', async () => {
    const d = db();
    await expect(migrate(d.pool, { tables: { outbox: 'x; DROP TABLE y' } })).rejects.toThrow(ConfigError);
    expect(() => resolveTables({ inbox: 'A.B.C' })).toThrow(/tables\.inbox/);
  });

  it('`eventbus postgres migrate` applies them and says so; a second run is up to date', async () => {
    const d = db();
    const migrateCommand = commands.find((c) => c.name === 'migrate')!;
    const first = capture();
    const args = ['--url', url(), '--outbox', d.tables.outbox, '--inbox', d.tables.inbox];
    expect(await migrateCommand.run(args, first.io)).toBe(0);
    expect(first.out).toContain('applied 001_outbox.sql');
    const second = capture({ EVENTBUS_POSTGRES_URL: url() });
    expect(await migrateCommand.run(['--outbox', d.tables.outbox, '--inbox', d.tables.inbox], second.io)).toBe(0);
    expect(second.out.join('\n')).toMatch(/up to date/);
    expect(await d.count('outbox')).toBe(0);
  });

  it('the command answers 2 for bad usage and 1 for a refusing database, never printing the password', async () => {
    const usage = capture();
    expect(await commands[0]!.run(['--outbox', 'Bad Name', '--url', url()], usage.io)).toBe(2);
    expect(usage.err.join('\n')).toMatch(/--outbox/);
    expect(await commands[0]!.run([], capture().io)).toBe(2);
    const refused = capture();
    // Port 1 refuses at once; the password must not reach the error line.
    expect(await commands[0]!.run(['--url', 'postgres://postgres:hunter2-secret@127.0.0.1:1/test'], refused.io)).toBe(1);
    expect(refused.err.join('\n')).toMatch(/refused/);
    expect(refused.err.join('\n')).not.toContain('hunter2-secret');
  });

  it('ships its SQL with the package (files) and declares the command set for `eventbus postgres`', async () => {
    const pkg = (await import('../package.json', { with: { type: 'json' } })).default;
    expect(pkg.files).toContain('migrations');
    expect(pkg.eventbus).toEqual({ name: 'postgres' });
    expect(commands.map((c) => c.name)).toEqual(['migrate']);
    expect(pg.Pool).toBeTypeOf('function');
  });
});
