import type { CallContext } from "./context.js";

/**
 * A middleware wraps a whole call (for streams: until the last message is written).
 * It may inspect or enrich the context, time the call, or throw to reject it.
 */
export type Middleware = (ctx: CallContext, next: () => Promise<void>) => Promise<void>;

/**
 * What a chain returns when the whole call completed as it was dispatched (a unary handler that
 * answered at once, every middleware before it synchronous): this very promise, already
 * resolved. A middleware that gets it from `next()` may finish at once and return it too, and
 * the server then answers without waiting for a microtask; any other promise is awaited.
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
