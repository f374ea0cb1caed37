import { execFile } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { CommandIo } from '../src/cli/command.js';
import { main } from '../src/cli/main.js';
import { emptyApp, fixtureApp } from './installed-fixtures.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const app = fixtureApp();
const empty = emptyApp();
afterAll(() => {
  app.remove();
  empty.remove();
});

async function eventbus(argv: string[], cwd = app.dir) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CommandIo = { env: {}, cwd, out: (l) => out.push(l), err: (l) => err.push(l) };
  const code = await main(argv, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('eventbus main', () => {
  it('help lists core commands and the commands of installed packages', async () => {
    const help = await eventbus(['help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^Usage: eventbus <command>/);
    expect(help.out).toMatch(/eventbus docs +write the event graph/);
    expect(help.out).toMatch(/eventbus provision +declare every consumer group/);
    expect(help.out).toMatch(/eventbus-fixture-adapter:\n {2}eventbus fixture hello +says hello/);
    expect(help.out).toMatch(/@fixture\/eventbus-tools:\n {2}eventbus tools count +prints how many arguments/);
    expect(help.out).not.toContain('broken'); // no commands, nothing to list
    expect((await eventbus(['--help'])).out).toBe(help.out);
    // Nothing installed: core's commands only.
    const bare = await eventbus(['-h'], empty.dir);
    expect(bare.out).toContain('eventbus provision');
    expect(bare.out).not.toContain('fixture');
  });

  it('no command prints the help on stderr and exits 2; an unknown one says so in one line', async () => {
    const none = await eventbus([]);
    expect(none.code).toBe(2);
    expect(none.err).toContain('eventbus docs');
    const unknown = await eventbus(['frobnicate', '--x']);
    expect(unknown).toEqual({ code: 2, out: '', err: 'eventbus: unknown command "frobnicate" (eventbus help lists the commands)' });
  });

  it('runs an installed adapter command as eventbus <name> <command>, with its arguments and exit code', async () => {
    expect(await eventbus(['fixture', 'hello', 'world'])).toEqual({ code: 0, out: 'hello world from src', err: '' });
    expect((await eventbus(['fixture', 'hello', 'world', '--fail'])).code).toBe(1);
    expect(await eventbus(['tools', 'count', 'a', 'b'])).toEqual({ code: 0, out: '2 argument(s)', err: '' });
  });

  it("a package's unknown or missing command exits 2 naming its commands; <name> help lists them", async () => {
    expect(await eventbus(['fixture', 'nope'])).toEqual({ code: 2, out: '', err: 'eventbus fixture: unknown command "nope"; its commands: hello' });
    const missing = await eventbus(['tools']);
    expect(missing.code).toBe(2);
    expect(missing.err).toBe('eventbus tools: which command? its commands: count (eventbus tools help)');
    const help = await eventbus(['tools', 'help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/eventbus tools count +prints/);
  });

  it('a failing command setup is one line on stderr, exit 2, no password', async () => {
    const result = await eventbus(['provision', '--entry', 'nowhere.mjs', '--url', 'amqp://app:hunter2@mq:5672']);
    expect(result.code).toBe(2);
    expect(result.err.split('\n')).toHaveLength(1);
    expect(result.err).toMatch(/^eventbus: Cannot find module/);
    expect(result.err).not.toContain('hunter2');
  });
});

// The app folder has no tsx of its own: load the workspace's (its "." export) by URL.
const tsx = pathToFileURL(join(root, 'node_modules/tsx/dist/loader.mjs')).href;

/** The bin from source as a user runs it, in the fixture app, with or without the source condition. */
function bin(conditions: string[], ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['--import', tsx, ...conditions, join(root, 'packages/core/src/cli.ts'), ...args],
      { cwd: app.dir, timeout: 60_000, env: { ...process.env, NODE_OPTIONS: '' } },
      (error, stdout, stderr) => done({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('the eventbus bin', () => {
  it("loads an installed package's entry by its exports map: the @org/source one under --conditions=@org/source, else the built one", async () => {
    const [source, built] = await Promise.all([bin(['--conditions=@org/source'], 'fixture', 'hello', 'you'), bin([], 'fixture', 'hello', 'you')]);
    expect(source.stdout.trim(), source.stderr).toBe('hello you from src');
    expect(built.stdout.trim(), built.stderr).toBe('hello you from lib');
    const unknown = await bin([], 'nope');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.trim()).toBe('eventbus: unknown command "nope" (eventbus help lists the commands)');
  }, 90_000);
});
