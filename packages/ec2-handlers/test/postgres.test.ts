import { eventually } from '@org/eventbus/testing';
import { afterEach, expect, it } from 'vitest';
import { type Ec2ServiceOptions, type RequestRecord, SimulatedLauncher } from '../src/index.js';
import { connectPostgres, type PostgresModeOptions } from '../src/postgres-mode.js';
import { LAUNCH, postLaunch, type Running, runId, startWithStream } from './helpers.js';
import { describePostgresMode, rabbitFor, TestSchema } from './postgres-helpers.js';


describePostgresMode('EC2 reference service in Postgres mode (one process, RabbitMQ)', ({ postgresUrl, rabbitUrl }) => {
  let running: Running | undefined;
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await running?.stop();
    running = undefined;
    await cleanup?.();
  }, 30_000);

  /** A fresh schema and RabbitMQ names for one test, dropped after it, and the service on them. */
  async function start(postgresOptions: PostgresModeOptions, serviceOptions: Partial<Ec2ServiceOptions>) {
    const id = runId();
    const schema = new TestSchema(postgresUrl, `ec2t_${id}`);
    const rabbit = rabbitFor(rabbitUrl, id);
    cleanup = async () => {
      await schema.drop();
      await rabbit.teardown([`test-${id}`]);
    };
    const postgres = await connectPostgres(postgresUrl, { schema: schema.name, ...postgresOptions });
    running = await startWithStream({
      url: rabbitUrl,
      transportOptions: rabbit.transportOptions,
      groupPrefix: rabbit.groupPrefix,
      instanceId: `test-${id}`,
      port: 0,
      postgres,
      ...serviceOptions,
    });
    return { id, schema, service: running };
  }

  it('accepts through the outbox, launches through the inbox, and keeps the chain in the database', async () => {
    const { schema, service } = await start({}, { launcher: new SimulatedLauncher({ bootMs: 50 }) });
    const posted = await postLaunch(service.base);
    expect(posted.status).toBe(202);
    const requestId = posted.body.requestId;
    const [note] = await service.notifications.waitFor((ns) => ns.some((n) => n.requestId === requestId), {
      timeoutMs: 20_000,
      description: 'the notification over SSE',
    });
    expect(note).toMatchObject({ requestId, level: 'success' });
    const record = await eventually(
      async () => (await (await fetch(new URL(posted.body.statusUrl, service.base))).json()) as RequestRecord,
      (r) => r.chain.length === 4,
      { timeoutMs: 10_000, description: 'the whole chain in the database' },
    );
    expect(record.status).toBe('launched');
    expect(record.request?.userId).toBe('u-test');
    expect(record.instanceIds).toHaveLength(1);
    expect(record.chain.map((s) => s.type)).toEqual(['ec2.launch.requested', 'launch.started', 'ec2.instance.launched', 'notification.created']);
    // Each worker group committed the event once, in its inbox; the relay emptied the outbox.
    const inbox = await schema.count('SELECT count(*)::int AS n FROM $schema.eventbus_inbox WHERE event_id IN ($1, $2)', [requestId, `${requestId}.launched`]);
    expect(inbox).toBe(2);
    await eventually(() => schema.outboxRows(), (n) => n === 0, { timeoutMs: 10_000, description: 'an empty outbox' });
  }, 60_000);

  it('runs the relay on connections of its own: with one connection for requests, POSTs are answered and relayed', async () => {
    // On the requests' pool the relay's LISTEN connection alone would take the only one, and every POST would
    // wait. The workers run here too (so the relayed events have queues to go to), on the same one connection.
    const { schema, service } = await start({ poolSize: 1 }, { launcher: new SimulatedLauncher({ bootMs: 10 }) });
    const post = () =>
      fetch(`${service.base}v1/ec2/instances`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(LAUNCH),
        signal: AbortSignal.timeout(5_000),
      });
    const answers = await Promise.all(Array.from({ length: 5 }, post));
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202, 202, 202]);
    const ids = await Promise.all(answers.map(async (a) => ((await a.json()) as { requestId: string }).requestId));
    await eventually(() => schema.launched(ids), (n) => n === ids.length, { timeoutMs: 20_000, description: 'every request launched' });
    await eventually(() => schema.outboxRows(), (n) => n === 0, { timeoutMs: 10_000, description: 'the relay emptying the outbox' });
  }, 60_000);

  it('answers a retried POST with the same Idempotency-Key from the database, writing one event', async () => {
    const { id, schema, service } = await start({}, { role: 'api' });
    const post = () =>
      fetch(`${service.base}v1/ec2/instances`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': `key-${id}` },
        body: JSON.stringify(LAUNCH),
      });
    const answers = await Promise.all([post(), post(), post()]);
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202]);
    const published = await schema.count('SELECT count(*)::int AS n FROM $schema.requests WHERE request_id = $1', [`key-${id}`]);
    expect(published).toBe(1);
    // One event: either still in the outbox or relayed (and then the broker saw it once, by id).
    const steps = await schema.count(`SELECT count(*)::int AS n FROM $schema.request_steps WHERE request_id = $1 AND step->>'type' = 'ec2.launch.requested'`, [`key-${id}`]);
    expect(steps).toBe(1);
  }, 60_000);
});
