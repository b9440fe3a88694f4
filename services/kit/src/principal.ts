// "Who is calling" for handlers: the end user the kit's auth middleware verified, or
// UNAUTHENTICATED (MISSING_TOKEN). Every service asks through these, not through ctx.principal.
import { unauthenticated } from "./errors.js";
import type { CallContext } from "./grpc/context.js";

/** The calling end user's id; UNAUTHENTICATED when the call carries no user. */
export function callerUserId(ctx: Pick<CallContext, "principal">): string {
  const id = ctx.principal?.userId;
  if (!id) throw unauthenticated("MISSING_TOKEN");
  return id;
}

/** The calling end user and the session their token belongs to; UNAUTHENTICATED otherwise. */
export function callerSession(ctx: Pick<CallContext, "principal">): { userId: string; sessionId: string } {
  const p = ctx.principal;
  if (!p?.userId || !p.sessionId) throw unauthenticated("MISSING_TOKEN");
  return { userId: p.userId, sessionId: p.sessionId };
}

/** Whoever the call is from (an end user or a mesh service); UNAUTHENTICATED when no one. */
export function callerPrincipal(ctx: Pick<CallContext, "principal">): NonNullable<CallContext["principal"]> {
  if (!ctx.principal) throw unauthenticated("MISSING_TOKEN");
  return ctx.principal;
}
