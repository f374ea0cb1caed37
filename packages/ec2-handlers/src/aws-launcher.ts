import {
  DescribeInstancesCommand,
  type DescribeInstancesCommandOutput,
  EC2Client,
  RunInstancesCommand,
  type RunInstancesCommandOutput,
} from '@aws-sdk/client-ec2';
import { ConfigError } from '@org/eventbus';
import { type Launcher, LaunchRejectedError, type LaunchResult, type LaunchSpec, LaunchThrottledError, sleep } from './launcher.js';

/** The one method of EC2Client this launcher calls, so a test can hand in a fake. */
export interface Ec2Api {
  send(command: RunInstancesCommand | DescribeInstancesCommand, options?: { abortSignal?: AbortSignal }): Promise<unknown>;
}

export interface AwsLauncherOptions {
  /** An EC2Client (or a fake with `send`); built from `region`/`endpoint` when omitted. */
  client?: Ec2Api;
  region?: string;
  /** A custom endpoint (LocalStack, a VPC endpoint). */
  endpoint?: string;
  /** Give up waiting for "running" after this long (default 5 min); the handler then retries. */
  maxWaitMs?: number;
  /** Pause between DescribeInstances polls (default 5 s). */
  pollMs?: number;
  /**
   * How long to back off when EC2 still throttles after the SDK's own retries (default 2 s, ±50% jitter
   * so workers do not come back together): RunInstances defers the event (no attempt used), a throttled
   * DescribeInstances waits and polls again.
   */
  throttleRetryMs?: number;
}

/** EC2's "slow down" answers: the account's API rate, not this launch, is at fault. */
const THROTTLING_CODES = new Set(['RequestLimitExceeded', 'Throttling', 'ThrottlingException']);
/** Error codes where retrying later can succeed although EC2 calls them client faults. */
const TRANSIENT_CODES = new Set([...THROTTLING_CODES, 'InsufficientInstanceCapacity']);

/**
 * Launches with RunInstances (ClientToken = the event id, so a redelivery gets the first call's
 * instances back) and polls DescribeInstances until every instance is running, bounded by maxWaitMs.
 */
export class AwsLauncher implements Launcher {
  readonly name = 'aws';
  private readonly client: Ec2Api;
  private readonly maxWaitMs: number;
  private readonly pollMs: number;
  private readonly throttleRetryMs: number;

  constructor(options: AwsLauncherOptions = {}) {
    this.maxWaitMs = options.maxWaitMs ?? 5 * 60_000;
    this.pollMs = options.pollMs ?? 5000;
    this.throttleRetryMs = options.throttleRetryMs ?? 2000;
    if (!(this.throttleRetryMs > 0)) throw new ConfigError('throttleRetryMs', `must be positive (got ${this.throttleRetryMs})`);
    if (!(this.maxWaitMs > 0)) throw new ConfigError('maxWaitMs', `must be positive (got ${this.maxWaitMs})`);
    if (!(this.pollMs > 0)) throw new ConfigError('pollMs', `must be positive (got ${this.pollMs})`);
    if (options.client) this.client = options.client;
    else {
      if (!options.region) throw new ConfigError('region', 'is required for the AWS launcher (set AWS_REGION)');
      this.client = new EC2Client({ region: options.region, ...(options.endpoint ? { endpoint: options.endpoint } : {}) });
    }
  }

  async launch(spec: LaunchSpec, signal?: AbortSignal): Promise<LaunchResult> {
    const tags = Object.entries(spec.tags).map(([Key, Value]) => ({ Key, Value }));
    const run = (await this.call(
      new RunInstancesCommand({
        ClientToken: spec.clientToken,
        ImageId: spec.imageId,
        InstanceType: spec.instanceType as never,
        MinCount: 1,
        MaxCount: 1,
        ...(tags.length > 0 ? { TagSpecifications: [{ ResourceType: 'instance', Tags: tags }] } : {}),
      }),
      signal,
    )) as RunInstancesCommandOutput;
    const instanceIds = (run.Instances ?? []).map((i) => i.InstanceId).filter((id): id is string => typeof id === 'string');
    if (instanceIds.length === 0) throw new Error('RunInstances returned no instances');
    await this.waitUntilRunning(instanceIds, signal);
    return { instanceIds };
  }

  private async waitUntilRunning(instanceIds: string[], signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + this.maxWaitMs;
    for (;;) {
      let out: DescribeInstancesCommandOutput;
      try {
        out = (await this.call(new DescribeInstancesCommand({ InstanceIds: instanceIds }), signal)) as DescribeInstancesCommandOutput;
      } catch (error) {
        // The instances exist: a throttled poll only means "look later", within the same deadline.
        if (!(error instanceof LaunchThrottledError) || Date.now() + error.retryAfterMs > deadline) throw error;
        await sleep(error.retryAfterMs, signal);
        continue;
      }
      const states = (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) => i.State?.Name);
      if (states.length === instanceIds.length && states.every((s) => s === 'running')) return;
      const dead = states.find((s) => s === 'terminated' || s === 'shutting-down' || s === 'stopped');
      if (dead) throw new LaunchRejectedError(`instance ${instanceIds.join(', ')} went to "${dead}" while booting`, 'InstanceTerminated');
      if (Date.now() + this.pollMs > deadline) {
        throw new Error(`instances ${instanceIds.join(', ')} not running after ${this.maxWaitMs} ms (states: ${states.join(', ')})`);
      }
      await sleep(this.pollMs, signal);
    }
  }

  /**
   * EC2 client faults (bad AMI, bad type) become LaunchRejectedError; throttling (once the SDK's own
   * retries are spent) a LaunchThrottledError; server faults and capacity errors are retried as failures.
   */
  private async call(command: RunInstancesCommand | DescribeInstancesCommand, signal?: AbortSignal): Promise<unknown> {
    try {
      return await this.client.send(command, signal ? { abortSignal: signal } : {});
    } catch (error) {
      const e = error as { name?: string; $fault?: string; message?: string };
      if (e?.name && THROTTLING_CODES.has(e.name)) {
        const backOff = Math.round(this.throttleRetryMs * (0.5 + Math.random()));
        throw new LaunchThrottledError(`EC2 throttled ${command.constructor.name.replace(/Command$/, '')}: ${e.name}`, backOff);
      }
      if (e?.$fault === 'client' && e.name && !TRANSIENT_CODES.has(e.name)) {
        throw new LaunchRejectedError(`EC2 refused the launch: ${e.name}: ${e.message ?? ''}`.trim(), e.name);
      }
      throw error;
    }
  }
}
