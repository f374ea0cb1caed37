import { DescribeInstancesCommand, RunInstancesCommand } from '@aws-sdk/client-ec2';
import type { Ec2Api } from '../src/index.js';

/**
 * A stand-in for EC2's API (the one AWS mock the project allows): RunInstances honours ClientToken
 * as EC2 does — a repeated token returns the first call's instance — and records every token seen.
 */
export class FakeEc2 implements Ec2Api {
  readonly runTokens: string[] = [];
  /** Instances actually created, by ClientToken. */
  readonly created = new Map<string, string>();
  /** DescribeInstances calls that should fail before the instance is reported running. */
  failDescribes = 0;
  private counter = 0;

  async send(command: RunInstancesCommand | DescribeInstancesCommand): Promise<unknown> {
    if (command instanceof RunInstancesCommand) {
      const token = command.input.ClientToken ?? '';
      this.runTokens.push(token);
      let id = this.created.get(token);
      if (!id) {
        id = `i-fake${String(++this.counter).padStart(12, '0')}`;
        this.created.set(token, id);
      }
      return { Instances: [{ InstanceId: id, State: { Name: 'pending' } }] };
    }
    if (command instanceof DescribeInstancesCommand) {
      if (this.failDescribes > 0) {
        this.failDescribes--;
        throw Object.assign(new Error('We encountered an internal error. Please try again.'), { name: 'InternalError', $fault: 'server' });
      }
      const ids = command.input.InstanceIds ?? [];
      return { Reservations: [{ Instances: ids.map((InstanceId) => ({ InstanceId, State: { Name: 'running' } })) }] };
    }
    throw new Error('unexpected command');
  }
}
