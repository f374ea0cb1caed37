#!/usr/bin/env node
// eventbus-ec2 [--role api|worker|all] [--port 3000] [--host 127.0.0.1] [--url memory://]
import { parseArgs } from 'node:util';
import { ConfigError, consoleLogger } from '@org/eventbus';
import { optionsFromEnv } from './config.js';
import { startEc2Service } from './service.js';

/** A user mistake: one line on stderr, exit code 2, no stack trace. */
function mistake(problem: string): never {
  console.error(`eventbus-ec2: ${problem} (--help shows the options)`);
  process.exit(2);
}

let values: { role?: string; port?: string; host?: string; url?: string; help?: boolean };
try {
  ({ values } = parseArgs({
    options: {
      role: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      url: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  }));
} catch (error) {
  // parseArgs names the option ("Unknown option '--x'"); its advice about positionals does not apply.
  mistake((error as Error).message.split('. ')[0] ?? 'bad arguments');
}
if (values.help) {
  console.log(`eventbus-ec2 — the reference 202 service: launch EC2 instances without making the user wait

  --role api|worker|all   what this process runs (default all)
  --port N                HTTP port (default 3000; 0 picks a free one)
  --host H                HTTP host (default 127.0.0.1)
  --url URL               the broker (default $EVENTBUS_URL or memory://)

environment: EVENTBUS_URL, EVENTBUS_REDIS_URL, EC2_POSTGRES_URL (Postgres mode; also EVENTBUS_POSTGRES_URL),
EC2_POSTGRES_SCHEMA, EC2_POSTGRES_MIGRATE=on|off, EC2_POSTGRES_SYNC_COMMIT=on|off,
EC2_RELAY=on|off (default on where the API runs), AWS_REGION + credentials (real EC2), EC2_LAUNCHER=simulated|aws,
EC2_SIM_BOOT_MS, EC2_SIM_FAILURE_RATE, EC2_SIM_THROTTLE_RATE, EC2_SIM_THROTTLE_RETRY_AFTER_MS, EC2_RATE_LIMIT (per second), EC2_CONCURRENCY, LOG_LEVEL`);
  process.exit(0);
}

try {
  const { describe, ...options } = await optionsFromEnv(values);
  const level = process.env.LOG_LEVEL as 'debug' | 'info' | 'warn' | 'error' | undefined;
  const service = await startEc2Service({ ...options, logger: consoleLogger(level ?? 'warn') });
  console.log(`eventbus-ec2 started: ${describe}`);
  if (service.url) {
    console.log(`\n  open ${service.url}  (POST ${service.url}v1/ec2/instances, live stream ${service.url}v1/notifications)\n`);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    console.log(`${signal}: finishing in-flight work…`);
    service.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
} catch (error) {
  // A bad option or variable (ConfigError) is the user's to fix: exit 2, as for a bad argument.
  if (error instanceof ConfigError) mistake(error.message);
  console.error(`eventbus-ec2: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
