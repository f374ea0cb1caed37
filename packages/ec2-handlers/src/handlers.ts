import type { BackoffOptions, EventBus, HandlerContext, Middleware } from '@org/eventbus';
import { Ec2InstanceLaunched, Ec2LaunchFailed, Ec2LaunchRequested, NotificationCreated } from './contracts.js';
import { directTransactions, type HandlerTransactions, type HandlerWork } from './handler-transactions.js';
import { type Launcher, LaunchRejectedError, LaunchThrottledError } from './launcher.js';
import { WAITING_STEP } from './request-store.js';
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
  /** How the handlers' writes and emits commit (Postgres mode: with the inbox). Default: straight through. */
  transactions?: HandlerTransactions;
}

type LaunchOutcome = typeof Ec2InstanceLaunched | typeof Ec2LaunchFailed;
type LaunchContext = HandlerContext<LaunchOutcome>;

/**
 * The seed's StartEc2 step. RunInstances gets the event id as ClientToken, so however often the
 * broker redelivers this event, EC2 starts one machine. Refusals are final (a failure event); other
 * errors are retried with backoff, and the last failed attempt also tells the user before the event
 * goes to the dead-letter queue for an operator.
 */
export function registerLaunchHandler(bus: EventBus, options: WorkerOptions) {
  const { launcher, store } = options;
  const transactions = options.transactions ?? directTransactions(store);
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
      // An earlier delivery committed its outcome (Postgres mode's inbox): nothing left to do.
      if (await transactions.done(ctx)) return;
      const started = Date.now();
      // Outside the outcome's transaction: it shows "launching" while the launch runs.
      await store.addStep(requestId, {
        type: 'launch.started',
        eventId: `${event.id}#${ctx.attempt}`,
        at: new Date().toISOString(),
        detail: `attempt ${ctx.attempt} on ${launcher.name}`,
      });
      // The outcome's step is written here as well as by the API's follower, so the state commits with the emit.
      const fail = async (tx: HandlerWork<LaunchOutcome>, reason: string, code?: string) => {
        const id = `${event.id}.failed`;
        await tx.store.addStep(requestId, { type: Ec2LaunchFailed.type, eventId: id, at: new Date().toISOString(), detail: reason });
        // A fixed id per outcome: a redelivery re-emits the same event, which downstream idempotency drops.
        await tx.emit(Ec2LaunchFailed, { requestId, userId, reason, attempts: ctx.attempt, ...(code ? { code } : {}) }, { id, subject: requestId });
      };
      let instanceIds: string[];
      try {
        // No transaction is open while EC2 works (seconds to minutes): the ClientToken makes a retry safe.
        ({ instanceIds } = await launcher.launch(
          { clientToken: event.id, imageId: event.data.imageId, instanceType: event.data.instanceType, tags: event.data.tags },
          ctx.signal,
        ));
      } catch (error) {
        if (error instanceof LaunchThrottledError) {
          // Not a failure: come back when EC2 said (no attempt used up); the status page shows the wait.
          const until = new Date(Date.now() + error.retryAfterMs);
          await store.addStep(requestId, {
            type: WAITING_STEP,
            eventId: `${event.id}#${ctx.attempt}@${until.getTime()}`,
            at: new Date().toISOString(),
            detail: `waiting until ${until.toISOString()} (${error.message})`,
            until: until.toISOString(),
          });
          return ctx.retryAfter(until);
        }
        if (error instanceof LaunchRejectedError) {
          await transactions.run(ctx, { markDone: true }, (tx) => fail(tx, error.message, error.code));
          return;
        }
        // The user hears of the last failed attempt; the event is not done (it goes to the dead-letter queue).
        if (ctx.attempt >= ctx.maxAttempts) {
          await transactions.run(ctx, { markDone: false }, (tx) =>
            fail(tx, `gave up after ${ctx.attempt} attempts: ${(error as Error).message}`),
          );
          // This attempt throws (to dead-letter the request), which would drop a held emit: publish it now
          // (Postgres mode holds nothing in ctx: its transaction wrote the emit to the outbox).
          await ctx.emits.flush();
        }
        throw error;
      }
      await transactions.run(ctx, { markDone: true }, async (tx) => {
        const id = `${event.id}.launched`;
        await tx.store.addStep(requestId, { type: Ec2InstanceLaunched.type, eventId: id, at: new Date().toISOString() }, instanceIds);
        await tx.emit(
          Ec2InstanceLaunched,
          { requestId, userId, instanceIds, launcher: launcher.name, durationMs: Date.now() - started },
          { id, subject: requestId },
        );
      });
    },
  );
}

/**
 * The seed's CreateAlarm step: turn the outcome into a notification for the user, record it, and
 * announce it (the API streams notification.created to browsers).
 */
export function registerNotificationHandlers(bus: EventBus, options: Pick<WorkerOptions, 'store' | 'groupPrefix' | 'maxAttempts' | 'transactions'>) {
  const group = `${options.groupPrefix ?? 'ec2'}.notifier`;
  const transactions = options.transactions ?? directTransactions(options.store);
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
    const id = `${input.causeId}.notification`;
    await transactions.run(ctx, { markDone: true }, async (tx) => {
      await tx.store.addNotification(notification);
      await tx.store.addStep(input.requestId, { type: NotificationCreated.type, eventId: id, at: notification.createdAt, detail: input.message });
      await tx.emit(NotificationCreated, notification, { id, subject: input.requestId });
    });
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
