// One service process in Postgres mode for the multi-process tests: an API (with its relay) or a
// worker, on the broker and schema the parent names; tells the parent over IPC when it is ready.
import { SimulatedLauncher, startEc2Service } from '../src/index.js';
import { connectPostgres } from '../src/postgres-mode.js';

export interface ServiceChildConfig {
  role: 'api' | 'worker';
  url: string;
  transportOptions: Record<string, unknown>;
  groupPrefix: string;
  instanceId: string;
  postgresUrl: string;
  schema: string;
}

const config = JSON.parse(process.env.EC2_SERVICE_CHILD ?? '{}') as ServiceChildConfig;

async function main() {
  const postgres = await connectPostgres(config.postgresUrl, { schema: config.schema, relay: { retryDelayMs: 100 } });
  const service = await startEc2Service({
    role: config.role,
    url: config.url,
    transportOptions: config.transportOptions,
    groupPrefix: config.groupPrefix,
    instanceId: config.instanceId,
    port: 0,
    postgres,
    launcher: new SimulatedLauncher({ bootMs: 10 }),
    // Hundreds of launches in a test: the guards' 2/s budget would take minutes.
    guards: { rateLimit: { limit: 10_000, per: 1000 }, concurrency: 500, idempotencyLeaseMs: 2000 },
    worker: { concurrency: 64 },
  });
  process.send?.({ kind: 'ready', url: service.url });
  process.once('SIGTERM', () => {
    service.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}

main().catch((error: unknown) => {
  process.send?.({ kind: 'error', error: String(error) });
  process.exit(1);
});
