import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const cli = join(root, 'packages/core/src/cli.ts');
const fixture = join(root, 'packages/core/test/docs-fixture-registry.ts');
const dir = mkdtempSync(join(tmpdir(), 'eventbus-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The CLI from source, as a user runs it: node with tsx (the entry is TypeScript). */
function eventbus(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', '--conditions=@org/source', cli, ...args],
      { cwd: root, timeout: 60_000 },
      (error, stdout, stderr) => done({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const files = ['README.md', 'asyncapi.json', 'index.html'];
const read = (out: string) => files.map((f) => readFileSync(join(out, f), 'utf8'));

describe('eventbus docs', () => {
  it('writes the same bytes on every run, and --check tells fresh from stale', async () => {
    const out = join(dir, 'events');
    const first = await eventbus('docs', '--entry', fixture, '--export', 'chainRegistry', '--out', out, '--fail-on', 'none');
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('wrote');
    const before = read(out);
    const again = await eventbus('docs', '--entry', fixture, '--export', 'chainRegistry', '--out', out, '--fail-on', 'none');
    expect(again.code, again.stderr).toBe(0);
    expect(read(out)).toEqual(before);

    const fresh = await eventbus('docs', '--entry', fixture, '--export', 'chainRegistry', '--out', out, '--check', '--fail-on', 'none');
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(fresh.stdout).toContain('up to date');

    writeFileSync(join(out, 'asyncapi.json'), `${before[1]} `);
    const stale = await eventbus('docs', '--entry', fixture, '--export', 'chainRegistry', '--out', out, '--check', '--fail-on', 'none');
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain('asyncapi.json (differs)');
    expect(readFileSync(join(out, 'asyncapi.json'), 'utf8')).toBe(`${before[1]} `); // --check writes nothing

    const missing = await eventbus('docs', '--entry', fixture, '--export', 'chainRegistry', '--out', join(dir, 'nothing-here'), '--check', '--fail-on', 'none');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('README.md (missing)');
  }, 120_000);

  it('prints the findings and fails on errors by default', async () => {
    const result = await eventbus('docs', '--entry', fixture, '--export', 'chainRegistry', '--out', join(dir, 'strict'));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('error [emit-without-contract] handler "ship" emits "invoice.created", which has no contract');
    expect(result.stderr).toContain('warning [cycle] a cycle: payment.failed → payment.retry.requested → payment.failed');
  }, 60_000);

  it('explains its usage and rejects a module that exports neither a bus nor a registry', async () => {
    const usage = await eventbus('docs');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('Usage: eventbus docs --entry');
    const notAnApp = join(dir, 'not-an-app.mjs');
    writeFileSync(notAnApp, 'export const bus = { hello: "world" };\n');
    const rejected = await eventbus('docs', '--entry', notAnApp, '--out', join(dir, 'x'));
    expect(rejected.code).toBe(2);
    expect(rejected.stderr).toContain('export "bus" is neither an event bus nor a registry');
  }, 60_000);
});

describe('the built CLI (dist/cli.js)', () => {
  it('runs as `node dist/cli.js` for a JavaScript entry, and needs tsx only for a TypeScript one', async () => {
    // A folder of its own: CI runs this suite on several Node lines at once.
    const out = mkdtempSync(join(root, 'packages/core/node_modules/.tmp-cli-dist-'));
    onTestFinished(() => rmSync(out, { recursive: true, force: true }));
    // Build next to core's node_modules so the bundle resolves zod as an installed package would.
    const built = await new Promise<{ code: number; stderr: string }>((done) =>
      execFile(process.execPath, [join(root, 'node_modules/tsup/dist/cli-default.js'), '--out-dir', out, '--no-dts', '--silent'], { cwd: join(root, 'packages/core'), timeout: 120_000 }, (error, _stdout, stderr) =>
        done({ code: error ? 1 : 0, stderr }),
      ),
    );
    expect(built.code, built.stderr).toBe(0);
    const cliJs = join(out, 'cli.js');
    expect(readFileSync(cliJs, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    const entry = join(out, 'entry.mjs');
    writeFileSync(
      entry,
      [
        `import { createEventBus, declarePublisher, defineEvent, MemoryTransport } from ${JSON.stringify(join(out, 'index.js'))};`,
        "import { z } from 'zod';",
        "const A = defineEvent({ type: 'a.happened', description: 'A.', schema: z.object({ id: z.string() }) });",
        "export const bus = createEventBus({ transport: new MemoryTransport(), source: '/plain/js' });",
        "declarePublisher(bus, { name: 'script', publishes: [A] });",
        "bus.handle(A, { group: 'g' }, () => {});",
      ].join('\n'),
    );
    const run = (args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((done) =>
        execFile(process.execPath, args, { cwd: root, timeout: 60_000 }, (error, stdout, stderr) =>
          done({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        ),
      );
    const plain = await run([cliJs, 'docs', '--entry', entry, '--out', join(dir, 'built')]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(readFileSync(join(dir, 'built', 'README.md'), 'utf8')).toContain('a.happened');

    const tsWithoutTsx = await run([cliJs, 'docs', '--entry', fixture, '--out', join(dir, 'built-ts')]);
    expect(tsWithoutTsx.code).toBe(2);
    expect(tsWithoutTsx.stderr).toContain('a TypeScript entry needs tsx');

    const tsWithTsx = await run(['--import', 'tsx', '--conditions=@org/source', cliJs, 'docs', '--entry', fixture, '--export', 'chainRegistry', '--out', join(dir, 'built-ts'), '--fail-on', 'none']);
    expect(tsWithTsx.code, tsWithTsx.stderr).toBe(0);
    const fromSource = await eventbus('docs', '--entry', fixture, '--export', 'chainRegistry', '--out', join(dir, 'source-ts'), '--fail-on', 'none');
    expect(fromSource.code, fromSource.stderr).toBe(0);
    expect(read(join(dir, 'built-ts'))).toEqual(read(join(dir, 'source-ts')));
  }, 180_000);
});
