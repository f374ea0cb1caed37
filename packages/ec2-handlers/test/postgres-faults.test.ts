// Postgres mode under faults, across OS processes: the broker unreachable while the API accepts, and
// the API SIGKILLed right after its commits. Nothing the API answered 202 for may be lost.
import { eventually, startTcpProxy, type TcpProxy } from '@org/eventbus/testing';
import { afterEach, expect, it } from 'vitest';
import { type Ec2Service, startEc2Service } from '../src/index.js';
import { connectPostgres } from '../src/postgres-mode.js';
import { runId } from './helpers.js';
import { describePostgresMode, postMany, rabbitFor, type ServiceChild, spawnService, TestSchema } from './postgres-helpers.js';


/** The broker URL with its host and port replaced by the proxy's (credentials kept). */
function throughProxy(url: string, proxy: TcpProxy): string {
  const u = new URL(url);
  u.hostname = proxy.host;
  u.port = String(proxy.port);
  return u.toString();
}

describePostgresMode('EC2 Postgres mode under faults (RabbitMQ, several processes)', ({ postgresUrl, rabbitUrl }) => {
  const children: ServiceChild[] = [];
  const after: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of children) if (c.process.exitCode === null && c.process.signalCode === null) c.process.kill('SIGKILL');
    await Promise.all(children.map((c) => c.exited));
    children.length = 0;
    for (const step of after.splice(0).reverse()) await step().catch(() => {});
  }, 60_000);

  function setup() {
    const id = runId();
    const schema = new TestSchema(postgresUrl, `ec2t_${id}`);
    const rabbit = rabbitFor(rabbitUrl, id);
    after.push(async () => {
      await schema.drop();
      await rabbit.teardown([`api-${id}`, `api2-${id}`]);
    });
    const child = (role: 'api' | 'worker', url: string, instanceId = `${role}-${id}`) => {
      const c = spawnService({
        role,
        url,
        transportOptions: rabbit.transportOptions,
        groupPrefix: rabbit.groupPrefix,
        instanceId,
        postgresUrl,
        schema: schema.name,
      });
      children.push(c);
      return c;
    };
    return { id, schema, rabbit, child };
  }

  async function proxyForRabbit(): Promise<TcpProxy> {
    const target = new URL(rabbitUrl);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5672) });
    after.push(() => proxy.close());
    return proxy;
  }

  it('answers 202 to 500 POSTs while the broker is unreachable, and every request is launched after it heals', async () => {
    const { id, schema, rabbit, child } = setup();
    const proxy = await proxyForRabbit();
    const worker = child('worker', rabbitUrl);
    const postgres = await connectPostgres(postgresUrl, { schema: schema.name, relay: { retryDelayMs: 100 } });
    const api: Ec2Service = await startEc2Service({
      role: 'api',
      url: throughProxy(rabbitUrl, proxy),
      transportOptions: rabbit.transportOptions,
      groupPrefix: rabbit.groupPrefix,
      instanceId: `api-${id}`,
      port: 0,
      postgres,
    });
    after.push(() => api.stop());
    await worker.ready;

    proxy.refuse(true);
    proxy.cut();
    const { statuses, ids } = await postMany(api.url ?? '', 500);
    expect(statuses.filter((s) => s === 202)).toHaveLength(500);
    expect(new Set(ids).size).toBe(500);
    // Every event is in the outbox: none could have reached the broker.
    expect(await schema.outboxRows()).toBe(500);
    expect(await schema.launched(ids)).toBe(0);

    proxy.refuse(false);
    await eventually(() => schema.launched(ids), (n) => n === 500, {
      timeoutMs: 120_000,
      intervalMs: 250,
      description: 'all 500 requests launched after the broker came back',
    });
    await eventually(() => schema.outboxRows(), (n) => n === 0, { timeoutMs: 20_000, description: 'an empty outbox' });
  }, 180_000);

  it('loses nothing when the API is SIGKILLed right after its commits: a new API process relays them', async () => {
    const { id, schema, child } = setup();
    const proxy = await proxyForRabbit();
    const worker = child('worker', rabbitUrl);
    const first = child('api', throughProxy(rabbitUrl, proxy));
    const [base] = await Promise.all([first.ready, worker.ready]);
    // The first API cannot publish: whatever it accepted is only in its database when it dies.
    proxy.refuse(true);
    proxy.cut();
    const { statuses, ids } = await postMany(base ?? '', 100, 20);
    first.process.kill('SIGKILL');
    await first.exited;
    expect(statuses.filter((s) => s === 202)).toHaveLength(100);
    expect(await schema.outboxRows()).toBe(100);

    const second = child('api', rabbitUrl, `api2-${id}`);
    await second.ready;
    await eventually(() => schema.launched(ids), (n) => n === 100, {
      timeoutMs: 90_000,
      intervalMs: 250,
      description: 'every request the killed API accepted, launched',
    });
  }, 180_000);
});
