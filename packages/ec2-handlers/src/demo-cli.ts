// pnpm demo [--count 200] [--rate 2] [--boot-ms 3000] [--failure-rate 0.05] [--url http://…]
import { parseArgs } from 'node:util';
import { runDemo } from './demo.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string' },
    rate: { type: 'string' },
    'boot-ms': { type: 'string' },
    'failure-rate': { type: 'string' },
    url: { type: 'string' },
  },
});
const n = (v: string | undefined) => (v === undefined ? undefined : Number(v));
const options = {
  count: n(values.count),
  rate: n(values.rate),
  bootMs: n(values['boot-ms']),
  failureRate: n(values['failure-rate']),
  url: values.url,
};
const summary = await runDemo(Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)));
process.exit(summary.submitted === summary.succeeded + summary.failed ? 0 : 1);
