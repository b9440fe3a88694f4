import type { CallContext } from "./context.js";

/**
 * A middleware wraps a whole call (for streams: until the last message is written).
 * It may inspect or enrich the context, time the call, or throw to reject it.
 */
export type Middleware = (ctx: CallContext, next: () => Promise<void>) => Promise<void>;

export function compose(middlewares: readonly Middleware[]): Middleware {
  return (ctx, last) => {
    const dispatch = (i: number): Promise<void> => {
      const mw = middlewares[i];
      return mw ? mw(ctx, () => dispatch(i + 1)) : last();
    };
    return dispatch(0);
  };
}
