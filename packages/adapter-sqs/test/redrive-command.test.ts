// The `eventbus sqs redrive` command's manners: a user mistake is one line and exit 2; it creates nothing.
import { createServer } from 'node:net';
import { ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adapter, redriveCommand, runRedriveCommand } from '../src/index.js';
import { type SqsEndpoint, sqsTestEndpoint } from './emulator.js';

function io(env: Record<string, string | undefined> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { env, out: (l: string) => out.push(l), err: (l: string) => err.push(l) } };
}

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address ? address.port : 0;
}

describe('eventbus sqs redrive: user mistakes', () => {
  it('is the adapter\'s command, run as `eventbus sqs redrive`', () => {
    expect(adapter.commands?.map((c) => c.name)).toEqual(['redrive']);
    expect(adapter.commands?.[0]).toBe(redriveCommand);
  });

  it('--help prints the usage and exits 0', async () => {
    const r = io();
    expect(await redriveCommand.run(['--help'], r.io)).toBe(0);
    expect(r.out.join('\n')).toMatch(/^Usage: eventbus sqs redrive --group/);
  });

  it.each([
    [['--group', 'g', '--bogus'], /^eventbus sqs redrive: Unknown option '--bogus' \(/],
    [['--group', 'g', '--url', 'sqs://us-east-1', '--max', 'abc'], /^eventbus sqs redrive: --max must be a positive whole number \(got "abc"\)/],
    [['--url', 'sqs://us-east-1'], /^eventbus sqs redrive: redrive needs --group/],
    [['--group', 'g'], /^eventbus sqs redrive: no SQS URL: pass --url sqs:\/\/<region>\?endpoint=… or set EVENTBUS_URL/],
    [['move', '--group', 'g'], /^eventbus sqs redrive: Unexpected argument 'move' \(/],
  ])('%j is one line on stderr and exit 2', async (argv, message) => {
    const r = io();
    expect(await redriveCommand.run(argv, r.io)).toBe(2);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toMatch(message);
    expect(r.err[0]).not.toMatch(/\n|at .*\.ts:/);
  });

  it('a URL with credentials that is not valid is reported without them', async () => {
    const r = io();
    expect(await redriveCommand.run(['--group', 'g', '--url', 'sqs://AKIAX:s3cr3t-key@us-east-1?nope=1'], r.io)).toBe(2);
    expect(r.err[0]).toMatch(/unknown parameter/);
    expect(r.err[0]).not.toContain('s3cr3t-key');
  });

  it('an unreachable endpoint fails with exit 1 and a reason', async () => {
    const port = await closedPort();
    const r = io({ AWS_REGION: 'us-east-1' });
    const url = `sqs://AKIAX:s3cr3t-key@us-east-1?endpoint=http://127.0.0.1:${port}`;
    expect(await redriveCommand.run(['--group', 'g', '--url', url], r.io)).toBe(1);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toMatch(/^eventbus sqs redrive: redrive failed: /);
    expect(r.err[0]).not.toContain('s3cr3t-key');
  }, 30_000);

  it('runRedriveCommand, its older entry, still takes the leading "redrive" word', async () => {
    const r = io();
    expect(await runRedriveCommand(['redrive', '--url', 'sqs://us-east-1'], r.io)).toBe(2);
    expect(r.err[0]).toMatch(/^eventbus sqs redrive: redrive needs --group/);
  });
});

describe('eventbus sqs redrive against an emulator', () => {
  let sqs: SqsEndpoint;
  beforeAll(async () => {
    sqs = await sqsTestEndpoint();
  });
  afterAll(async () => {
    await sqs?.stop();
  });

  it('a group with no queue is reported, and no queue is created', async () => {
    const prefix = `eventbus-redrive-${process.pid}-`;
    const url = `sqs://us-east-1?prefix=${prefix}&manage=true${sqs.endpoint ? `&endpoint=${sqs.endpoint}` : ''}`;
    const r = io();
    expect(await redriveCommand.run(['--group', 'nobody', '--url', url], r.io)).toBe(1);
    expect(r.err[0]).toMatch(/does not exist/);
    const client = new SQSClient({ region: 'us-east-1', ...(sqs.endpoint ? { endpoint: sqs.endpoint, credentials: { accessKeyId: 'x', secretAccessKey: 'x' } } : {}) });
    try {
      const listed = await client.send(new ListQueuesCommand({ QueueNamePrefix: prefix }));
      expect(listed.QueueUrls ?? []).toEqual([]);
    } finally {
      client.destroy();
    }
  });
});
