import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const readme = readFileSync(`${root}/README.md`, 'utf8');
const quickstart = readFileSync(`${root}/examples/quickstart.ts`, 'utf8');

describe('README', () => {
  it('shows the quick start exactly as examples/quickstart.ts has it', () => {
    const section = readme.slice(readme.indexOf('## Quick start'));
    const block = section.slice(section.indexOf('```ts\n') + 6, section.indexOf('\n```', section.indexOf('```ts\n')) + 1);
    expect(block).toBe(quickstart);
  });

  it('the quick start runs end to end on the memory transport', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--conditions=@org/source', '--import', 'tsx', 'examples/quickstart.ts'],
      { cwd: root, env: { ...process.env, EVENTBUS_URL: 'memory://' }, timeout: 30_000 },
    );
    expect(stdout).toMatch(/billing: order o-1 for 42 \(attempt 1\)/);
    expect(stdout).toMatch(/done: published, handled, acked, stopped/);
  });
});
