import type { BackoffOptions, EventBus, HandlerContext, Middleware } from '@org/eventbus';
import { Ec2InstanceLaunched, Ec2LaunchFailed, Ec2LaunchRequested, NotificationCreated } from './contracts.js';
import { type Launcher, LaunchRejectedError } from './launcher.js';
import type { RequestStore } from './request-store.js';

export interface WorkerOptions {
  launcher: Launcher;
  store: RequestStore;
  /** Group names start with this (default "ec2"), so several deployments can share a broker. */
  groupPrefix?: string;
  /** The launch handler's coordination middleware (rate limit, concurrency, idempotency), outermost first. */
  launchMiddleware?: readonly Middleware[];
  /** Launch handlers in flight in this process. Default 32 (most of them sleep in the rate limit). */
  concurrency?: number;
  maxAttempts?: number;
  backoff?: Partial<BackoffOptions>;
  /** Per-attempt limit of one launch, in ms. Default 10 minutes. */
  timeoutMs?: number;
}

type LaunchContext = HandlerContext<typeof Ec2InstanceLaunched | typeof Ec2LaunchFailed>;

/**
 * The seed's StartEc2 step. RunInstances gets the event id as ClientToken, so however often the
 * broker redelivers this event, EC2 starts one machine. Refusals are final (a failure event); other
 * errors are retried with backoff, and the last failed attempt also tells the user before the event
 * goes to the dead-letter queue for an operator.
 */
export function registerLaunchHandler(bus: EventBus, options: WorkerOptions) {
  const { launcher, store } = options;
  return bus.handle(
    Ec2LaunchRequested,
    {
      group: `${options.groupPrefix ?? 'ec2'}.launcher`,
      name: 'launch-instance',
      emits: [Ec2InstanceLaunched, Ec2LaunchFailed],
      concurrency: options.concurrency ?? 32,
      maxAttempts: options.maxAttempts ?? 5,
      backoff: options.backoff ?? { initialMs: 1000, maxMs: 30_000 },
      timeout: options.timeoutMs ?? 10 * 60_000,
      middleware: options.launchMiddleware ?? [],
    },
    async (event, ctx: LaunchContext) => {
      const { requestId, userId } = event.data;
      const started = Date.now();
      await store.addStep(requestId, {
        type: 'launch.started',
        eventId: `${event.id}#${ctx.attempt}`,
        at: new Date().toISOString(),
        detail: `attempt ${ctx.attempt} on ${launcher.name}`,
      });
      const fail = (reason: string, code?: string) =>
        ctx.emit(
          Ec2LaunchFailed,
          { requestId, userId, reason, attempts: ctx.attempt, ...(code ? { code } : {}) },
          // A fixed id per outcome: a redelivery re-emits the same event, which downstream idempotency drops.
          { id: `${event.id}.failed`, subject: requestId },
        );
      try {
        const { instanceIds } = await launcher.launch(
          { clientToken: event.id, imageId: event.data.imageId, instanceType: event.data.instanceType, tags: event.data.tags },
          ctx.signal,
        );
        await ctx.emit(
          Ec2InstanceLaunched,
          { requestId, userId, instanceIds, launcher: launcher.name, durationMs: Date.now() - started },
          { id: `${event.id}.launched`, subject: requestId },
        );
      } catch (error) {
        if (error instanceof LaunchRejectedError) {
          await fail(error.message, error.code);
          return;
        }
        if (ctx.attempt >= ctx.maxAttempts) {
          await fail(`gave up after ${ctx.attempt} attempts: ${(error as Error).message}`);
          // This attempt throws (to dead-letter the request), which would drop the held emit: publish it now.
          await ctx.emits.flush();
        }
        throw error;
      }
    },
  );
}

/**
 * The seed's CreateAlarm step: turn the outcome into a notification for the user, record it, and
 * announce it (the API streams notification.created to browsers).
 */
export function registerNotificationHandlers(bus: EventBus, options: Pick<WorkerOptions, 'store' | 'groupPrefix' | 'maxAttempts'>) {
  const group = `${options.groupPrefix ?? 'ec2'}.notifier`;
  const notify = async (
    ctx: HandlerContext<typeof NotificationCreated>,
    input: { causeId: string; requestId: string; userId: string; level: 'success' | 'error'; message: string; instanceIds: string[] },
  ) => {
    const notification = {
      notificationId: `n-${input.causeId}`,
      requestId: input.requestId,
      userId: input.userId,
      level: input.level,
      message: input.message,
      instanceIds: input.instanceIds,
      createdAt: new Date().toISOString(),
    };
    await options.store.addNotification(notification);
    await ctx.emit(NotificationCreated, notification, { id: `${input.causeId}.notification`, subject: input.requestId });
  };
  const common = { group, emits: [NotificationCreated], maxAttempts: options.maxAttempts ?? 5 } as const;
  bus.handle(Ec2InstanceLaunched, { ...common, name: 'notify-launched' }, (event, ctx) =>
    notify(ctx, {
      causeId: event.id,
      requestId: event.data.requestId,
      userId: event.data.userId,
      level: 'success',
      message: `Instance ${event.data.instanceIds.join(', ')} is running (${(event.data.durationMs / 1000).toFixed(1)} s)`,
      instanceIds: event.data.instanceIds,
    }),
  );
  bus.handle(Ec2LaunchFailed, { ...common, name: 'notify-failed' }, (event, ctx) =>
    notify(ctx, {
      causeId: event.id,
      requestId: event.data.requestId,
      userId: event.data.userId,
      level: 'error',
      message: `Launch failed: ${event.data.reason}`,
      instanceIds: [],
    }),
  );
}
