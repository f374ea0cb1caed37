// The example chain wired on a bus: an HTTP entry point, a launcher, a notifier and a notification stream.
import { randomUUID } from 'node:crypto';
import { createEventBus, declarePublisher, type EventBusOptions, NonRetryableError } from '@org/eventbus';
import { Ec2InstanceLaunched, Ec2LaunchFailed, Ec2LaunchRequested, NotificationCreated } from './contracts.js';

/** The part of EC2 the launcher needs; a simulated one stands in for @aws-sdk/client-ec2 here. */
export interface Launcher {
  launch(request: { instanceType: string; imageId: string }): Promise<{ instanceId: string }>;
}

export const simulatedLauncher: Launcher = {
  async launch({ imageId }) {
    if (imageId.endsWith('dead')) throw new NonRetryableError(`image ${imageId} does not exist`);
    return { instanceId: `i-${randomUUID().replace(/-/g, '').slice(0, 17)}` };
  },
};

export function createEc2ChainApp(options: Omit<EventBusOptions, 'source'> & { launcher?: Launcher; onNotification?: (text: string) => void }) {
  const { launcher = simulatedLauncher, onNotification = () => {}, ...busOptions } = options;
  const bus = createEventBus({ ...busOptions, source: '/examples/ec2-chain' });

  const api = declarePublisher(bus, {
    name: 'POST /launches',
    description: 'The HTTP API: validates the request, publishes it and answers 202 with a status URL.',
    publishes: [Ec2LaunchRequested],
  });

  bus.handle(
    Ec2LaunchRequested,
    { group: 'ec2-launcher', name: 'launch-instance', emits: [Ec2InstanceLaunched, Ec2LaunchFailed], maxAttempts: 3 },
    async (event, ctx) => {
      const { requestId, userId, instanceType, imageId } = event.data;
      try {
        const { instanceId } = await launcher.launch({ instanceType, imageId });
        await ctx.emit(Ec2InstanceLaunched, { requestId, userId, instanceId, launchedAt: new Date().toISOString() });
      } catch (error) {
        const retryable = !(error instanceof NonRetryableError);
        if (retryable && ctx.attempt < ctx.maxAttempts) throw error;
        await ctx.emit(Ec2LaunchFailed, { requestId, userId, reason: String(error), retryable });
      }
    },
  );

  bus.handle(Ec2InstanceLaunched, { group: 'notifier', name: 'notify-launched', emits: [NotificationCreated] }, async (event, ctx) => {
    const { requestId, userId, instanceId } = event.data;
    await ctx.emit(NotificationCreated, {
      notificationId: randomUUID(),
      userId,
      requestId,
      level: 'success',
      message: `Instance ${instanceId} is running.`,
    });
  });

  bus.handle(Ec2LaunchFailed, { group: 'notifier', name: 'notify-failed', emits: [NotificationCreated] }, async (event, ctx) => {
    const { requestId, userId, reason } = event.data;
    await ctx.emit(NotificationCreated, { notificationId: randomUUID(), userId, requestId, level: 'error', message: `Launch failed: ${reason}` });
  });

  bus.handle(NotificationCreated, { group: 'notification-stream', name: 'push-to-browser' }, async (event) => {
    onNotification(`${event.data.level}: ${event.data.message}`);
  });

  return { bus, api };
}
