import type { EventContract, HandlerContext, MessageContext } from '@org/eventbus';
import type { RequestStore } from './request-store.js';

/** What a handler's committing part writes through: the request store and `emit`, together. */
export interface HandlerWork<E extends EventContract> {
  store: RequestStore;
  emit: HandlerContext<E>['emit'];
}

/**
 * How a handler's writes and emits land. Without a database (memory, Redis) they go straight to the
 * store and the broker; in Postgres mode they commit in one transaction with the group's inbox row, so
 * a crash leaves either all of them or none, and a redelivery of a committed event writes nothing.
 */
export interface HandlerTransactions {
  /** True when this group already committed this event (an inbox row); always false without an inbox. */
  done(ctx: MessageContext): Promise<boolean>;
  /**
   * Run `work` so its store writes and emits commit together. With `markDone` the event is recorded
   * as handled for the group in the same commit; then resolves false, writing nothing, when an earlier
   * delivery already committed it.
   */
  run<E extends EventContract>(ctx: HandlerContext<E>, options: { markDone: boolean }, work: (tx: HandlerWork<E>) => Promise<void>): Promise<boolean>;
}

/** Memory and Redis modes: writes go to the store as they happen, emits to the broker. */
export function directTransactions(store: RequestStore): HandlerTransactions {
  return {
    done: async () => false,
    async run(ctx, _options, work) {
      await work({ store, emit: ctx.emit });
      return true;
    },
  };
}
