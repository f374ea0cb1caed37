import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { ConfigError } from '@org/eventbus';
import { describe, expect, it } from 'vitest';
import { AwsLauncher, LaunchRejectedError, LaunchThrottledError, launcherFromEnv, SimulatedLauncher } from '../src/index.js';
import { FakeEc2 } from './fake-ec2.js';

const spec = (clientToken: string) => ({ clientToken, imageId: 'ami-0123456789abcdef0', instanceType: 't3.micro', tags: {} });

describe('SimulatedLauncher', () => {
  it('boots, and returns the first instance again for a repeated ClientToken', async () => {
    const launcher = new SimulatedLauncher({ bootMs: 5 });
    const a = await launcher.launch(spec('tok-1'));
    const b = await launcher.launch(spec('tok-1'));
    const c = await launcher.launch(spec('tok-2'));
    expect(b).toEqual(a);
    expect(c.instanceIds).not.toEqual(a.instanceIds);
    expect(launcher.launches).toBe(2);
  });

  it('refuses its failure rate of launches with a LaunchRejectedError', async () => {
    const launcher = new SimulatedLauncher({ bootMs: 1, failureRate: 0.5, random: (() => { let i = 0; return () => (i++ % 2 === 0 ? 0.1 : 0.9); })() });
    await expect(launcher.launch(spec('a'))).rejects.toBeInstanceOf(LaunchRejectedError);
    await expect(launcher.launch(spec('b'))).resolves.toHaveProperty('instanceIds');
  });

  it('stops waiting when the handler is aborted', async () => {
    const launcher = new SimulatedLauncher({ bootMs: 60_000 });
    await expect(launcher.launch(spec('slow'), AbortSignal.timeout(20))).rejects.toThrow();
  });

  it('rejects bad options by name', () => {
    expect(() => new SimulatedLauncher({ failureRate: 2 })).toThrow(/failureRate/);
    expect(() => new SimulatedLauncher({ bootMs: -1 })).toThrow(ConfigError);
  });
});

describe('AwsLauncher (EC2 client faked: the only mock the project allows)', () => {
  it('sends the ClientToken and waits until running', async () => {
    const ec2 = new FakeEc2();
    const launcher = new AwsLauncher({ client: ec2, pollMs: 5 });
    const result = await launcher.launch(spec('evt-1'));
    expect(ec2.runTokens).toEqual(['evt-1']);
    expect(result.instanceIds).toEqual([ec2.created.get('evt-1')]);
  });

  it('treats EC2 client faults as final and throttling as retryable', async () => {
    const refusing = {
      send: async () => {
        throw Object.assign(new Error('The image id does not exist'), { name: 'InvalidAMIID.NotFound', $fault: 'client' });
      },
    };
    const rejected = new AwsLauncher({ client: refusing }).launch(spec('x'));
    await expect(rejected).rejects.toBeInstanceOf(LaunchRejectedError);
    await expect(rejected).rejects.toMatchObject({ code: 'InvalidAMIID.NotFound' });
    const throttled = {
      send: async () => {
        throw Object.assign(new Error('Request limit exceeded.'), { name: 'RequestLimitExceeded', $fault: 'client' });
      },
    };
    const error = await new AwsLauncher({ client: throttled, throttleRetryMs: 1000 }).launch(spec('y')).catch((e: unknown) => e);
    // Throttled is neither final nor a failed attempt: the handler defers the event by retryAfterMs.
    expect(error).toBeInstanceOf(LaunchThrottledError);
    expect((error as LaunchThrottledError).retryAfterMs).toBeGreaterThanOrEqual(500);
    expect((error as LaunchThrottledError).retryAfterMs).toBeLessThanOrEqual(1500);
    const capacity = {
      send: async () => {
        throw Object.assign(new Error('Insufficient capacity.'), { name: 'InsufficientInstanceCapacity', $fault: 'client' });
      },
    };
    const retried = await new AwsLauncher({ client: capacity }).launch(spec('w')).catch((e: unknown) => e);
    expect(retried).not.toBeInstanceOf(LaunchRejectedError);
    expect(retried).not.toBeInstanceOf(LaunchThrottledError);
  });

  it('a throttled DescribeInstances waits and polls again, within maxWaitMs', async () => {
    const ec2 = new FakeEc2();
    let throttles = 2;
    const client = {
      send: async (command: Parameters<FakeEc2['send']>[0]) => {
        if (command instanceof DescribeInstancesCommand && throttles-- > 0) {
          throw Object.assign(new Error('Request limit exceeded.'), { name: 'RequestLimitExceeded', $fault: 'client' });
        }
        return ec2.send(command);
      },
    };
    const result = await new AwsLauncher({ client, pollMs: 5, throttleRetryMs: 5 }).launch(spec('t'));
    expect(result.instanceIds).toEqual([ec2.created.get('t')]);
    expect(throttles).toBe(-1);
  });

  it('gives up waiting after maxWaitMs', async () => {
    const pending = {
      send: async (command: object) =>
        'input' in command && (command.input as { ClientToken?: string }).ClientToken
          ? { Instances: [{ InstanceId: 'i-1' }] }
          : { Reservations: [{ Instances: [{ InstanceId: 'i-1', State: { Name: 'pending' } }] }] },
    };
    await expect(new AwsLauncher({ client: pending, pollMs: 5, maxWaitMs: 30 }).launch(spec('z'))).rejects.toThrow(/not running after 30 ms/);
  });
});

describe('launcherFromEnv', () => {
  it('simulates without AWS configuration, with the boot time and failure rate from the environment', () => {
    const launcher = launcherFromEnv({ EC2_SIM_BOOT_MS: '250', EC2_SIM_FAILURE_RATE: '0.1' });
    expect(launcher).toBeInstanceOf(SimulatedLauncher);
    expect((launcher as SimulatedLauncher).bootMs).toBe(250);
  });

  it('uses EC2 when a region and credentials are present', () => {
    const env = { AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret', AWS_ENDPOINT_URL_EC2: 'http://127.0.0.1:4566' };
    expect(launcherFromEnv(env).name).toBe('aws');
    expect(launcherFromEnv({ ...env, EC2_LAUNCHER: 'simulated' }).name).toBe('simulated');
    expect(launcherFromEnv({ AWS_REGION: 'eu-west-1' }).name).toBe('simulated');
  });

  it('names a bad variable', () => {
    expect(() => launcherFromEnv({ EC2_LAUNCHER: 'gcp' })).toThrow(/EC2_LAUNCHER/);
    expect(() => launcherFromEnv({ EC2_SIM_BOOT_MS: 'soon' })).toThrow(/EC2_SIM_BOOT_MS/);
  });
});
