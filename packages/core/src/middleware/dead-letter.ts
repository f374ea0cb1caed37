import { errorMessage } from '../errors.js';
import type { Middleware } from '../context.js';

/**
 * The outermost guard: whatever escapes the chain unsettled goes to the group's dead-letter
 * destination with its reason, the message intact — never a crash, never a silent ack.
 */
export function deadLetter(): Middleware {
  return (next) => async (ctx) => {
    try {
      await next(ctx);
    } catch (error) {
      if (ctx.settled) {
        ctx.logger.error({ err: error }, 'handler failed after the delivery was settled');
        return;
      }
      const reason = errorMessage(error);
      // One error line per dead letter (the default logger prints it): the child logger adds group, type and id.
      ctx.logger.error({ reason, attempt: ctx.attempt }, 'dead-lettering event');
      await ctx.deadLetter(reason);
    }
  };
}
