#!/usr/bin/env node
// eventbus-ec2-demo [--count 200] [--rate 2] [--boot-ms 3000] [--failure-rate 0.05] [--url http://…]
import { parseArgs } from 'node:util';
import { runDemo } from './demo.js';

const USAGE = `eventbus-ec2-demo — the B2B case: submit many launches at once and watch them arrive under the rate limit

  --count N             launches to submit (default 200)
  --rate N              the launch rate limit per second of the service it starts (default 2)
  --boot-ms N           boot time of the simulated EC2, ms (default 3000)
  --failure-rate F      share of launches the simulated EC2 refuses, 0..1 (default 0.05)
  --url URL             use a running eventbus-ec2 at URL instead of starting one`;

/** A user mistake: one line on stderr, exit code 2, no stack trace. */
function mistake(problem: string): never {
  console.error(`eventbus-ec2-demo: ${problem} (--help shows the options)`);
  process.exit(2);
}

let values: Record<string, string | boolean | undefined>;
try {
  ({ values } = parseArgs({
    options: {
      count: { type: 'string' },
      rate: { type: 'string' },
      'boot-ms': { type: 'string' },
      'failure-rate': { type: 'string' },
      url: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  }));
} catch (error) {
  mistake((error as Error).message.split('. ')[0] ?? 'bad arguments');
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

/** A number option within its range, or a mistake naming it. */
function number(name: string, check: (n: number) => boolean, what: string): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw === '' || typeof raw !== 'string' || !check(n)) mistake(`--${name} must be ${what} (got "${String(raw)}")`);
  return n;
}

const positiveInteger = (n: number) => Number.isInteger(n) && n > 0;
const options = {
  count: number('count', positiveInteger, 'a whole number above 0'),
  rate: number('rate', (n) => Number.isFinite(n) && n > 0, 'a number above 0'),
  bootMs: number('boot-ms', (n) => Number.isFinite(n) && n >= 0, 'a number of ms, 0 or more'),
  failureRate: number('failure-rate', (n) => n >= 0 && n <= 1, 'between 0 and 1'),
  url: typeof values.url === 'string' ? values.url : undefined,
};
if (options.url !== undefined && !URL.canParse(options.url)) mistake(`--url must be the service's URL, e.g. http://127.0.0.1:3000 (got "${options.url}")`);
try {
  const summary = await runDemo(Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)));
  process.exit(summary.submitted === summary.succeeded + summary.failed ? 0 : 1);
} catch (error) {
  console.error(`eventbus-ec2-demo: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
