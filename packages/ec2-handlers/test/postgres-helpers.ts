import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { brokerUrlFromEnv } from '@org/eventbus/testing';
import pg from 'pg';
import { describe, it } from 'vitest';
import type { ServiceChildConfig } from './service-child.js';

const ci = process.env.CI === 'true' || process.env.CI === '1';

/** EVENTBUS_POSTGRES_URL and EVENTBUS_RABBITMQ_URL, or why the block cannot run (a failure under CI). */
export function postgresEnv(): { postgresUrl: string; rabbitUrl: string } | { missing: string } {
  const postgresUrl = brokerUrlFromEnv('EVENTBUS_POSTGRES_URL');
  const rabbitUrl = brokerUrlFromEnv('EVENTBUS_RABBITMQ_URL');
  if (postgresUrl && rabbitUrl) return { postgresUrl, rabbitUrl };
  const missing = `EVENTBUS_POSTGRES_URL and EVENTBUS_RABBITMQ_URL are both needed for the Postgres-mode tests`;
  if (!ci) console.info(`[eventbus] skipping EC2 Postgres-mode tests: ${missing}`);
  return { missing };
}

/**
 * A Postgres-mode test block: skipped with one line without the databases, failing under CI=true,
 * otherwise run with their URLs.
 */
export function describePostgresMode(name: string, body: (env: { postgresUrl: string; rabbitUrl: string }) => void): void {
  const env = postgresEnv();
  if (!('missing' in env)) {
    describe(name, () => body(env));
    return;
  }
  if (!ci) {
    describe.skip(`${name} (set EVENTBUS_POSTGRES_URL and EVENTBUS_RABBITMQ_URL to run)`, () => body({ postgresUrl: '', rabbitUrl: '' }));
    return;
  }
  describe(name, () => {
    it('has its PostgreSQL and RabbitMQ', () => {
      throw new Error(`CI=true but ${env.missing}`);
    });
  });
}

/** The RabbitMQ options that give one test its own exchange, and what deletes it afterwards. */
export function rabbitFor(rabbitUrl: string, id: string) {
  const groupPrefix = `ec2-${id}`;
  const transportOptions = { exchange: `ec2-test-${id}`, queueType: 'classic', reconnect: { initialDelayMs: 50, maxDelayMs: 500 } };
  return {
    groupPrefix,
    transportOptions,
    async teardown(instanceIds: readonly string[]) {
      const { deleteTopology } = await import('@org/eventbus-rabbitmq');
      const groups = [`${groupPrefix}.launcher`, `${groupPrefix}.notifier`, ...instanceIds.map((i) => `${groupPrefix}.api.${i}`)];
      await deleteTopology(rabbitUrl, { exchange: transportOptions.exchange, groups });
    },
  };
}

/** A schema of its own per test (tables, outbox, inbox), read directly for the assertions, dropped after. */
export class TestSchema {
  readonly pool: pg.Pool;

  constructor(
    url: string,
    readonly name: string,
  ) {
    this.pool = new pg.Pool({ connectionString: url, max: 2 });
    this.pool.on('error', () => {});
  }

  async count(sql: string, params: unknown[] = []): Promise<number> {
    const { rows } = await this.pool.query<{ n: number }>(sql.replaceAll('$schema', `"${this.name}"`), params);
    return rows[0]?.n ?? 0;
  }

  outboxRows(): Promise<number> {
    return this.count('SELECT count(*)::int AS n FROM $schema.eventbus_outbox');
  }

  /** How many of `ids` have reached "launched" (the worker's outcome step committed). */
  launched(ids: readonly string[]): Promise<number> {
    return this.count(
      `SELECT count(DISTINCT request_id)::int AS n FROM $schema.request_steps WHERE request_id = ANY($1::text[]) AND step->>'type' = 'ec2.instance.launched'`,
      [ids],
    );
  }

  async drop(): Promise<void> {
    await this.pool.query(`DROP SCHEMA IF EXISTS "${this.name}" CASCADE`).catch(() => {});
    await this.pool.end();
  }
}

const CHILD = fileURLToPath(new URL('./service-child.ts', import.meta.url));

export interface ServiceChild {
  process: ChildProcess;
  /** The API's base URL (undefined for a worker), once the service started. */
  ready: Promise<string | undefined>;
  exited: Promise<unknown>;
}

export function spawnService(config: ServiceChildConfig): ServiceChild {
  const child = fork(CHILD, [], {
    execArgv: ['--conditions=@org/source', '--import', 'tsx'],
    env: { ...process.env, EC2_SERVICE_CHILD: JSON.stringify(config) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const ready = new Promise<string | undefined>((resolve, reject) => {
    child.on('message', (msg: { kind: string; url?: string; error?: string }) => {
      if (msg.kind === 'ready') resolve(msg.url);
      else if (msg.kind === 'error') reject(new Error(msg.error));
    });
    void exited.then(() => reject(new Error(`the ${config.role} process exited before it was ready`)));
  });
  return { process: child, ready, exited };
}

/** POST `count` launches, `parallel` at a time; returns every status and the accepted request ids. */
export async function postMany(base: string, count: number, parallel = 25): Promise<{ statuses: number[]; ids: string[] }> {
  const statuses: number[] = [];
  const ids: string[] = [];
  let next = 0;
  const body = JSON.stringify({ userId: 'u-pg', imageId: 'ami-0123456789abcdef0', instanceType: 't3.micro' });
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) {
        next++;
        const res = await fetch(`${base}v1/ec2/instances`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        statuses.push(res.status);
        const json = (await res.json()) as { requestId?: string };
        if (res.status === 202 && json.requestId) ids.push(json.requestId);
      }
    }),
  );
  return { statuses, ids };
}
