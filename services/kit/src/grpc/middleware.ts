import type { CallContext } from "./context.js";

/**
 * A middleware wraps a whole call (for streams: until the last message is written).
 * It may inspect or enrich the context, time the call, or throw to reject it.
 */
export type Middleware = (ctx: CallContext, next: () => Promise<void>) => Promise<void>;

/**
 * What a call's chain returns when it completed as it was dispatched: the handler answered at
 * once and every middleware passed `next()`'s promise on. The unary wrapper answers such a call
 * without a promise reaction or a microtask; a middleware that has work after `next()` (observe)
 * does it at once when it gets DONE back, and passes DONE on.
 */
export const DONE: Promise<void> = Promise.resolve();

export function compose(middlewares: readonly Middleware[]): Middleware {
  return (ctx, last) => {
    const dispatch = (i: number): Promise<void> => {
      const mw = middlewares[i];
      return mw ? mw(ctx, () => dispatch(i + 1)) : last();
    };
    return dispatch(0);
  };
}
