import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe } from 'vitest';
import { redact } from '../redact.js';

/** A broker URL from the environment, or undefined. */
export function brokerUrlFromEnv(variable: string): string | undefined {
  const value = process.env[variable];
  return value && value.trim() !== '' ? value.trim() : undefined;
}

function dockerAvailable(): boolean {
  return Boolean(process.env.DOCKER_HOST) || existsSync('/var/run/docker.sock');
}

export interface BrokerSource {
  /** Environment variable holding the broker's URL, e.g. EVENTBUS_RABBITMQ_URL. */
  variable: string;
  /** Start a throwaway broker with testcontainers (only tried where Docker runs) and return its URL. */
  container?: () => Promise<{ url: string; stop(): Promise<void> }>;
}

/**
 * Declares a broker test block. The broker comes from the environment variable, else from
 * testcontainers where Docker runs; otherwise the block is skipped with one line saying how to
 * enable it — except under CI=true, where a missing broker is a failure, never a skip.
 */
export function describeBroker(name: string, source: BrokerSource, body: (url: () => string) => void): void {
  const fromEnv = brokerUrlFromEnv(source.variable);
  const useContainer = !fromEnv && source.container !== undefined && dockerAvailable();
  const ci = process.env.CI === 'true' || process.env.CI === '1';
  if (!fromEnv && !useContainer && !ci) {
    const docker = source.container ? ' (or run Docker: this block starts its broker with testcontainers)' : '';
    console.info(`[eventbus] skipping ${name} tests: set ${source.variable}${docker} to enable them`);
    describe.skipIf(true)(`${name} (set ${source.variable} to run)`, () => body(() => ''));
    return;
  }
  let url = fromEnv ?? '';
  describe(name, () => {
    let stop: (() => Promise<void>) | undefined;
    beforeAll(async () => {
      if (fromEnv) return;
      if (!useContainer) {
        throw new Error(`CI=true but ${source.variable} is not set and Docker is not available: the ${name} broker is required`);
      }
      const started = await source.container!();
      url = started.url;
      stop = started.stop;
    }, 180_000);
    afterAll(async () => {
      await stop?.();
    });
    if (fromEnv) console.info(`[eventbus] ${name} tests against ${redact(fromEnv)}`);
    body(() => url);
  });
}
