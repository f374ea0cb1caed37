import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import {
  type BackoffOptions,
  createEventBus,
  createTransport,
  declarePublisher,
  type EventBus,
  type Instrumentation,
  LiveStats,
  type Logger,
  type Publisher,
  serveLiveGraph,
  silentLogger,
  type Transport,
} from '@org/eventbus';
import { contracts, EC2_SOURCE, Ec2InstanceLaunched, Ec2LaunchFailed, Ec2LaunchRequested, NotificationCreated } from './contracts.js';
import type { HandlerTransactions } from './handler-transactions.js';
import { registerLaunchHandler, registerNotificationHandlers } from './handlers.js';
import { createHttpServer } from './http.js';
import { type LaunchGuardOptions, launchGuards } from './launch-guards.js';
import type { Launcher } from './launcher.js';
import type { PostgresMode } from './postgres-mode.js';
import { MemoryRequestStore, type RequestStore } from './request-store.js';
import { SimulatedLauncher } from './simulated-launcher.js';
import { SseHub } from './sse-hub.js';

export type Role = 'api' | 'worker' | 'all';
export const ROLES: readonly Role[] = ['api', 'worker', 'all'];

export interface Ec2ServiceOptions {
  /** The broker, by URL scheme (memory://, amqp://, kafka://, nats://, sqs://). Default memory://. */
  url?: string;
  /** Options for the adapter's fromUrl (e.g. `{ exchange }` for RabbitMQ). */
  transportOptions?: Record<string, unknown>;
  /** A ready transport instead of `url`. */
  transport?: Transport;
  /** api: HTTP only; worker: handlers only; all: both in one process. Default all. */
  role?: Role;
  /** Default: a SimulatedLauncher (3 s boot). */
  launcher?: Launcher;
  /** Default: a MemoryRequestStore (this process). Use a RedisRequestStore when roles run apart. */
  store?: RequestStore;
  guards?: LaunchGuardOptions;
  worker?: { concurrency?: number; maxAttempts?: number; backoff?: Partial<BackoffOptions>; timeoutMs?: number };
  /** Prefix of the consumer groups (default "ec2"), so several deployments or test runs share a broker. */
  groupPrefix?: string;
  /** Names this API container's notification group; defaults to the host name and pid. */
  instanceId?: string;
  /** HTTP port (0 picks a free one) and host. Default 3000 on 127.0.0.1. */
  port?: number;
  /** When the port is taken, listen on a free one instead of failing. */
  portFallback?: boolean;
  host?: string;
  publishTimeoutMs?: number;
  logger?: Logger;
  /**
   * Postgres mode (from `connectPostgres`): its store is the request state, the API accepts through
   * the outbox and runs the relay, the workers' handlers commit with the inbox. Stopping the service ends it.
   */
  postgres?: PostgresMode;
  /** Run the outbox relay in this process (Postgres mode). Default: where the API runs (roles api and all). */
  relay?: boolean;
}

export interface Ec2Service {
  readonly role: Role;
  readonly bus: EventBus;
  readonly store: RequestStore;
  /** http://host:port/ when this process serves the API. */
  readonly url?: string;
  stop(): Promise<void>;
}

export interface Ec2Bus {
  bus: EventBus;
  /** The HTTP API's declared entry point (absent for role "worker"). */
  launches?: Publisher<typeof Ec2LaunchRequested>;
}

/**
 * The event bus of the service with every handler of `role` registered (not started): the workers'
 * launch and notify handlers, the API's entry point, and its own group that follows each outcome.
 */
export function buildEc2Bus(
  transport: Transport,
  options: Omit<Ec2ServiceOptions, 'transport' | 'url' | 'postgres'> & {
    hub?: SseHub;
    store: RequestStore;
    launcher: Launcher;
    /** How the workers' handlers commit, made for the bus that encodes their emits (Postgres mode). */
    transactions?: (bus: EventBus) => HandlerTransactions;
    /** What observes the bus (the live event graph's LiveStats). */
    instrumentation?: Instrumentation;
  },
): Ec2Bus {
  const role = options.role ?? 'all';
  const prefix = options.groupPrefix ?? 'ec2';
  const bus = createEventBus({
    transport,
    source: EC2_SOURCE,
    contracts,
    logger: options.logger ?? silentLogger,
    ...(options.instrumentation ? { instrumentation: options.instrumentation } : {}),
  });
  const { store } = options;
  const transactions = options.transactions?.(bus);
  if (role !== 'api') {
    registerLaunchHandler(bus, {
      launcher: options.launcher,
      store,
      groupPrefix: prefix,
      launchMiddleware: launchGuards(options.guards),
      ...options.worker,
      ...(transactions ? { transactions } : {}),
    });
    registerNotificationHandlers(bus, {
      store,
      groupPrefix: prefix,
      ...(options.worker?.maxAttempts ? { maxAttempts: options.worker.maxAttempts } : {}),
      ...(transactions ? { transactions } : {}),
    });
  }
  if (role === 'worker') return { bus };

  const launches = declarePublisher(bus, {
    name: 'POST /v1/ec2/instances',
    publishes: [Ec2LaunchRequested],
    description: 'The 202 API: publishes the launch request, answers 202 once the broker confirmed it.',
  });
  // Every API container has its own group, so each one sees every outcome (fan-out) and can
  // stream it to the browsers connected to it — and keep its store current without Redis.
  const group = `${prefix}.api.${(options.instanceId ?? `${hostname()}-${process.pid}`).replace(/[^a-zA-Z0-9_-]/g, '-')}`;
  const hub = options.hub;
  bus.handle(Ec2InstanceLaunched, { group, name: 'api-follow-launched' }, (event) =>
    store.addStep(event.data.requestId, { type: event.type, eventId: event.id, at: event.time ?? new Date().toISOString() }, event.data.instanceIds),
  );
  bus.handle(Ec2LaunchFailed, { group, name: 'api-follow-failed' }, (event) =>
    store.addStep(event.data.requestId, {
      type: event.type,
      eventId: event.id,
      at: event.time ?? new Date().toISOString(),
      detail: event.data.reason,
    }),
  );
  bus.handle(NotificationCreated, { group, name: 'api-stream-notifications' }, async (event) => {
    await store.addStep(event.data.requestId, {
      type: event.type,
      eventId: event.id,
      at: event.time ?? new Date().toISOString(),
      detail: event.data.message,
    });
    await store.addNotification(event.data);
    hub?.send('notification', event.data);
  });
  return { bus, launches };
}

/** Start the service: connect to the broker, subscribe the role's handlers, and listen for HTTP. */
export async function startEc2Service(options: Ec2ServiceOptions = {}): Promise<Ec2Service> {
  const role = options.role ?? 'all';
  const transport = options.transport ?? (await createTransport(options.url ?? 'memory://', options.transportOptions));
  const { postgres } = options;
  const store = postgres?.store ?? options.store ?? new MemoryRequestStore();
  const launcher = options.launcher ?? new SimulatedLauncher();
  const hub = role === 'worker' ? undefined : new SseHub();
  const transactions = postgres ? (b: EventBus) => postgres.transactions(b) : undefined;
  // What this process publishes and handles, for the live event graph at /events/.
  const stats = new LiveStats();
  const { bus, launches } = buildEc2Bus(transport, {
    ...options,
    store,
    launcher,
    instrumentation: stats.instrumentation(),
    ...(hub ? { hub } : {}),
    ...(transactions ? { transactions } : {}),
  });
  // By default the relay runs where the API runs: what one API process committed, any API process
  // publishes (the workers' emits too). A deployment of workers alone turns it on for them.
  const relay = postgres && (options.relay ?? role !== 'worker') ? postgres.relay(transport) : undefined;
  try {
    await bus.start();
    await relay?.start();
  } catch (error) {
    await bus.stop().catch(() => {});
    await postgres?.close();
    throw error;
  }
  let server: Server | undefined;
  let url: string | undefined;
  if (hub && launches) {
    server = createHttpServer({
      launches,
      store,
      hub,
      ...(options.publishTimeoutMs ? { publishTimeoutMs: options.publishTimeoutMs } : {}),
      ...(postgres ? { intake: postgres.intake(bus) } : {}),
      liveGraph: serveLiveGraph({ app: bus, stats, title: 'EC2 launch service' }),
      health: { role, transport: transport.name, launcher: role === 'api' ? undefined : launcher.name, ...(postgres ? { state: 'postgres' } : {}) },
    });
    const s = server;
    const listen = (port: number) =>
      new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(port, options.host ?? '127.0.0.1', () => {
          s.off('error', reject);
          resolve();
        });
      });
    try {
      await listen(options.port ?? 3000).catch((error: NodeJS.ErrnoException) => {
        // A newcomer's first command should not fail because something else has port 3000.
        if (error.code === 'EADDRINUSE' && options.portFallback) return listen(0);
        throw error;
      });
    } catch (error) {
      await relay?.stop();
      await bus.stop();
      await store.close();
      throw error;
    }
    const address = s.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    url = `http://${host}:${address.port}/`;
  }
  let stopping: Promise<void> | undefined;
  return {
    role,
    bus,
    store,
    ...(url ? { url } : {}),
    stop() {
      stopping ??= (async () => {
        hub?.close();
        if (server) {
          const s = server;
          s.closeAllConnections();
          await new Promise<void>((resolve) => s.close(() => resolve()));
        }
        // The relay finishes its batch in flight before the transport closes under it.
        await relay?.stop();
        await bus.stop();
        await store.close();
      })();
      return stopping;
    },
  };
}
