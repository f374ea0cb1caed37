import { ConfigError } from '@org/eventbus';
import { AwsLauncher } from './aws-launcher.js';
import type { Launcher } from './launcher.js';
import { SimulatedLauncher } from './simulated-launcher.js';

type Env = Record<string, string | undefined>;

function hasAwsCredentials(env: Env): boolean {
  return Boolean(
    (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) ||
      env.AWS_PROFILE ||
      env.AWS_WEB_IDENTITY_TOKEN_FILE ||
      env.AWS_CONTAINER_CREDENTIALS_FULL_URI ||
      env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI,
  );
}

function number(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n)) throw new ConfigError(name, `must be a number (got "${raw}")`);
  return n;
}

/**
 * The AWS launcher when AWS configuration is present (a region and credentials; AWS_ENDPOINT_URL_EC2
 * or AWS_ENDPOINT_URL for LocalStack and the like), else the simulated one. EC2_LAUNCHER=simulated|aws forces it.
 */
export function launcherFromEnv(env: Env = process.env): Launcher {
  const forced = env.EC2_LAUNCHER;
  if (forced !== undefined && forced !== '' && forced !== 'aws' && forced !== 'simulated') {
    throw new ConfigError('EC2_LAUNCHER', `must be "aws" or "simulated" (got "${forced}")`);
  }
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION;
  const useAws = forced === 'aws' || (forced !== 'simulated' && Boolean(region) && hasAwsCredentials(env));
  if (useAws) {
    const endpoint = env.AWS_ENDPOINT_URL_EC2 || env.AWS_ENDPOINT_URL;
    return new AwsLauncher({
      ...(region ? { region } : {}),
      ...(endpoint ? { endpoint } : {}),
      maxWaitMs: number(env, 'EC2_MAX_WAIT_MS', 5 * 60_000),
      pollMs: number(env, 'EC2_POLL_MS', 5000),
    });
  }
  return new SimulatedLauncher({
    bootMs: number(env, 'EC2_SIM_BOOT_MS', 3000),
    failureRate: number(env, 'EC2_SIM_FAILURE_RATE', 0),
    throttleRate: number(env, 'EC2_SIM_THROTTLE_RATE', 0),
    throttleRetryAfterMs: number(env, 'EC2_SIM_THROTTLE_RETRY_AFTER_MS', 2000),
  });
}
