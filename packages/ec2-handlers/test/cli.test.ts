// The bins' manners: --help exits 0; a user mistake is one line on stderr and exit code 2, no stack trace.
import { execFile } from 'node:child_process';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runDemo } from '../src/index.js';

// Each run starts tsx on the sources: seconds apiece on a busy machine.
const SLOW = 120_000;

const src = (file: string) => fileURLToPath(new URL(`../src/${file}`, import.meta.url));

/** Runs a bin from source; the runs are slow (tsx compiles each), so the tests below run concurrently. */
function run(file: string, args: string[]): Promise<{ code: number | null; stdout: string; stderrLines: string[] }> {
  return new Promise((resolve) => {
    const argv = ['--conditions=@org/source', '--import', 'tsx', src(file), ...args];
    const env = { ...process.env, EVENTBUS_URL: 'memory://', EVENTBUS_REDIS_URL: '', EVENTBUS_POSTGRES_URL: '', EC2_POSTGRES_URL: '' };
    execFile(process.execPath, argv, { encoding: 'utf8', env, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code, stdout, stderrLines: stderr.split('\n').filter((l) => l.trim() !== '') });
    });
  });
}

describe.concurrent.each(['cli.ts', 'demo-cli.ts'])('%s', (file) => {
  it('--help prints the options and exits 0', async () => {
    const r = await run(file, ['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--url/);
  }, SLOW);

  it('an unknown option is one line on stderr and exit code 2', async () => {
    const r = await run(file, ['--bogus']);
    expect(r.code).toBe(2);
    expect(r.stderrLines).toHaveLength(1);
    expect(r.stderrLines[0]).toMatch(/Unknown option '--bogus'/);
  }, SLOW);
});

it.concurrent('eventbus-ec2 with a bad port number is one line and exit code 2', async () => {
  const r = await run('cli.ts', ['--port', 'abc']);
  expect(r.code).toBe(2);
  expect(r.stderrLines).toEqual([expect.stringMatching(/^eventbus-ec2: Invalid option `--port`: must be a port number \(got "abc"\)/)]);
}, SLOW);

it.concurrent.each([
  [['--count', 'abc'], /--count must be a whole number above 0 \(got "abc"\)/],
  [['--failure-rate', '2'], /--failure-rate must be between 0 and 1/],
  [['--url', 'not a url'], /--url must be the service's URL/],
])('eventbus-ec2-demo %j is one line and exit code 2', async (args, message) => {
  const r = await run('demo-cli.ts', args);
  expect(r.code).toBe(2);
  expect(r.stderrLines).toHaveLength(1);
  expect(r.stderrLines[0]).toMatch(message);
}, SLOW);

it('the demo summary reports launch starts against the limit, not outcomes', async () => {
  let printed = '';
  const out = new Writable({
    write(chunk: Buffer, _enc, done) {
      printed += chunk.toString();
      done();
    },
  });
  const summary = await runDemo({ count: 12, rate: 5, bootMs: 10, failureRate: 0, out });
  expect(summary.launchStarts).toBe(12);
  expect(summary.startRate).toBeGreaterThan(0);
  expect(summary.startRate).toBeLessThanOrEqual(5);
  expect(printed).toMatch(/12 launches started at [0-5]\.\d\d\/s \(limit 5\/s\)/);
  expect(printed).not.toMatch(/against a limit/);
}, 30_000);
