import { errorMessage, type Logger, redact, TransportError } from '@org/eventbus';
import { type ConnectionOptions, connect, errors, type NatsConnection } from '@nats-io/transport-node';
import type { ResolvedOptions } from './options.js';

type ConnectSettings = Pick<ResolvedOptions, 'servers' | 'name' | 'reconnectTimeWaitMs' | 'user' | 'pass' | 'token' | 'tls'>;

/**
 * Connect to the first server that answers; the client then reconnects for ever. A refusal of the
 * credentials and an unreachable server are told apart, and neither message carries a secret.
 */
export async function connectNats(opts: ConnectSettings): Promise<NatsConnection> {
  const connectOptions: ConnectionOptions = {
    servers: opts.servers,
    name: opts.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: opts.reconnectTimeWaitMs,
    reconnectJitter: 100,
    pingInterval: 10_000,
    // An Error (with a captured stack) per request is a tenth of the publish cost; our own
    // errors say which subject failed.
    noAsyncTraces: true,
  };
  if (opts.user !== undefined) connectOptions.user = opts.user;
  if (opts.pass !== undefined) connectOptions.pass = opts.pass;
  if (opts.token !== undefined) connectOptions.token = opts.token;
  if (opts.tls) connectOptions.tls = {};
  try {
    return await connect(connectOptions);
  } catch (error) {
    const where = opts.servers.join(', ');
    // The server answered and refused: retrying the same credentials cannot help, so say it at once.
    if (error instanceof errors.AuthorizationError || /authori[sz]ation violation/i.test(errorMessage(error))) {
      const who = opts.user !== undefined ? `user "${opts.user}"` : opts.token !== undefined ? 'the token' : 'an anonymous client';
      throw new TransportError(redact(`NATS authentication failed for ${who} at ${where}: check the user, password or token`), {
        cause: error,
      });
    }
    throw new TransportError(redact(`cannot connect to NATS at ${where}: ${errorMessage(error)}`), { cause: error });
  }
}

/** What the owner does when the link drops and comes back, after LinkState has been told. */
export interface LinkEvents {
  disconnected(): void;
  reconnected(): void;
}

/** Follow the connection's status for its lifetime: LinkState, the owner's reactions, one log line each. */
export async function followLink(nc: NatsConnection, link: LinkState, logger: Logger, events: LinkEvents): Promise<void> {
  for await (const status of nc.status()) {
    if (status.type === 'disconnect') {
      logger.warn(
        { server: status.server },
        'NATS connection lost; reconnecting for ever (publishes and settles wait for it, bounded by publishTimeoutMs)',
      );
      link.disconnected();
      events.disconnected();
    } else if (status.type === 'reconnect') {
      logger.info({ server: status.server }, 'NATS connection restored');
      link.reconnected();
      events.reconnected();
    } else if (status.type === 'error') {
      logger.warn({ error: errorMessage(status.error) }, 'NATS server reported an error on the connection');
    }
  }
}

/**
 * Whether the client is connected right now. The @nats-io 3.x client discards whatever is
 * published while it is reconnecting, so publishes and settles wait here instead of vanishing.
 */
export class LinkState {
  private up = true;
  private waiters: (() => void)[] = [];

  get connected(): boolean {
    return this.up;
  }

  disconnected(): void {
    this.up = false;
  }

  reconnected(): void {
    this.up = true;
    for (const resolve of this.waiters.splice(0)) resolve();
  }

  /** Resolves true once connected, false if `timeoutMs` or the signal ran out first. */
  waitUntilConnected(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.up) return Promise.resolve(true);
    return new Promise((resolve) => {
      const finish = (ok: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.waiters = this.waiters.filter((w) => w !== onUp);
        resolve(ok);
      };
      const onUp = () => finish(true);
      const onAbort = () => finish(false);
      const timer = setTimeout(() => finish(false), Math.max(0, timeoutMs));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(onUp);
    });
  }
}
