import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { expect } from 'vitest';
import type { Logger } from '../../logger.js';
import type { Transport } from '../../transport.js';
import { createSpy } from '../spy.js';
import { ids, missing, provisionGroup } from './harness.js';
import { check, type Scenario } from './scenario.js';

interface Run {
  id: string;
  member: 'A' | 'B';
  start: number;
  end?: number;
}

/** Every line a logger was given, rendered with errors' own properties, so a secret anywhere in it shows. */
function recordingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const record = (level: string) => (obj: object, msg?: string) => {
    lines.push(`${level} ${msg ?? ''} ${inspect(obj, { depth: 10, showHidden: true })}`);
  };
  const logger: Logger = { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') };
  logger.child = () => logger;
  return { logger, lines };
}

/** Everything an error can print: message, stack, own properties (hidden ones too), JSON, the cause chain. */
function renderError(error: unknown): string {
  if (!(error instanceof Error)) return inspect(error, { depth: 10 });
  let json = '';
  try {
    json = JSON.stringify(error, Object.getOwnPropertyNames(error));
  } catch {
    json = '(not serialisable)';
  }
  return [error.message, error.stack, inspect(error, { depth: 10, showHidden: true }), json, String(error)].join('\n');
}

/** The outcome of `promise` within `ms`: its error, `undefined` when it resolved, `'pending'` when it took longer. */
async function outcome(promise: Promise<unknown>, ms: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise.then(
        () => undefined,
        (error: unknown) => error ?? new Error('rejected without a reason'),
      ),
      new Promise((resolve) => {
        timer = setTimeout(() => resolve('pending'), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const CONFORMANCE_USER = 'eventbus-conformance';

export const memberScenarios: Scenario[] = [
  {
    name: 'rebalance-drain',
    title: 'a member draining in-flight work while another joins the group: no event runs on both at once, none is lost',
    slow: true,
    async run(h) {
      const contract = h.contract('rebalance');
      const group = h.group();
      await provisionGroup(h, group, [contract.channel]);
      const inFlight = 8;
      const runs: Run[] = [];
      const started = createSpy<Run>();
      const ended = createSpy<Run>();
      const member = async (name: 'A' | 'B', ms: number) => {
        const bus = await h.bus();
        bus.handle(contract, { group, concurrency: inFlight }, async (event) => {
          const run: Run = { id: event.id, member: name, start: Date.now() };
          runs.push(run);
          started.fn(run);
          await new Promise((resolve) => setTimeout(resolve, ms)); // the work itself: slow on A
          run.end = Date.now();
          ended.fn(run);
        });
        await bus.start();
        return bus;
      };
      const a = await member('A', 2_000);
      const publisher = await h.bus();
      const sent = ids(await publisher.publishBatch(Array.from({ length: inFlight * 2 }, (_, n) => ({ contract, data: { n } }))));
      await started.waitFor((c) => c.filter((r) => r.member === 'A').length >= inFlight, {
        timeoutMs: 30_000,
        description: `${inFlight} deliveries in flight on member A`,
      });
      // A drains (a rolling deploy's SIGTERM) while B joins the group.
      const stopping = a.stop();
      await member('B', 10);
      await stopping;
      await ended.waitFor((c) => missing(sent, new Set(c.map((r) => r.id))).length === 0, {
        timeoutMs: 60_000,
        description: `all ${sent.size} events handled`,
      });
      for (const onA of runs.filter((r) => r.member === 'A')) {
        const end = onA.end ?? Number.POSITIVE_INFINITY;
        const overlapping = runs.filter((r) => r.member === 'B' && r.id === onA.id && r.start < end && (r.end ?? Number.POSITIVE_INFINITY) > onA.start);
        expect(overlapping, `event ${onA.id} ran on B while A still ran it`).toEqual([]);
      }
      const finishedOnA = runs.filter((r) => r.member === 'A' && r.end !== undefined).length;
      expect(finishedOnA, 'A finished what it had in flight before stopping').toBeGreaterThanOrEqual(inFlight);
    },
  },
  {
    name: 'no-secrets-in-output',
    title: 'a password in the credentials appears in no log line, error, util.inspect or JSON.stringify output',
    async run(h, env) {
      const withCredentials = env.options.withCredentials;
      if (!withCredentials) return env.skip('no withCredentials hook: this transport takes no credentials');
      const password = `pw-${randomBytes(6).toString('hex')}`;
      const { logger, lines } = recordingLogger();
      const transport: Transport = await withCredentials(password, logger);
      h.onCleanup(() => transport.close());
      const outputs: string[] = [inspect(transport, { depth: 10 }), inspect(transport, { depth: 10, showHidden: true }), JSON.stringify(transport) ?? ''];
      const connected = await outcome(transport.connect(), 20_000);
      outputs.push(renderError(connected));
      const channel = h.name('secret');
      const published = await outcome(transport.publish([{ channel, id: 'secret-1', headers: {}, body: new Uint8Array([1]) }]), 20_000);
      outputs.push(renderError(published));
      outputs.push(inspect(transport, { depth: 10 }), JSON.stringify(transport) ?? '');
      await outcome(transport.close(), 15_000);
      outputs.push(...lines);
      for (const [i, text] of outputs.entries()) {
        check(!text.includes(password), `output #${i} carries the password: ${text.replaceAll(password, '<PASSWORD>').slice(0, 500)}`);
      }
    },
  },
  {
    name: 'auth-failure',
    title: 'wrong credentials: connect() fails fast, saying authentication failed for the user, without the password',
    async run(h, env) {
      const { withCredentials, checksCredentials } = env.options;
      if (!checksCredentials || !withCredentials) return env.skip('the broker here accepts any credentials (checksCredentials is not set)');
      const password = `wrong-${randomBytes(6).toString('hex')}`;
      const { logger, lines } = recordingLogger();
      const transport = await withCredentials(password, logger);
      h.onCleanup(() => transport.close());
      const started = Date.now();
      const error = await outcome(transport.connect(), 10_000);
      check(error !== 'pending', 'connect() with a wrong password did not fail within 10 s');
      check(error instanceof Error, 'connect() with a wrong password succeeded');
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(error.message).toMatch(/authentication failed/i);
      expect(error.message).toContain(CONFORMANCE_USER);
      for (const text of [renderError(error), ...lines]) expect(text.includes(password), 'the password in the output').toBe(false);
    },
  },
];
