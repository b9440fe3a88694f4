// "Who is calling" for handlers: the end user the kit's auth middleware verified, or
// UNAUTHENTICATED (MISSING_TOKEN). Every service asks through these, not through ctx.principal.
import { unauthenticated } from "./errors.js";
import type { CallContext } from "./grpc/context.js";

/** The calling end user's id; UNAUTHENTICATED when the call carries no user. */
export function callerUserId(ctx: Pick<CallContext, "principal">): string {
  const id = ctx.principal?.userId;
  if (!id) throw unauthenticated("MISSING_TOKEN");
  if (ctx.principal?.sessionEnded) throw unauthenticated("SESSION_ENDED");
  return id;
}

/** The calling end user and the session their token belongs to; UNAUTHENTICATED otherwise. */
export function callerSession(ctx: Pick<CallContext, "principal">): { userId: string; sessionId: string } {
  const s = callerSessionOrEnded(ctx);
  if (s.ended) throw unauthenticated("SESSION_ENDED");
  return { userId: s.userId, sessionId: s.sessionId };
}

/**
 * The calling end user and their session, which may have ended: only a method whose policy says
 * `ended_session_ok` (Logout) gets an ended one, and must then change nothing.
 */
export function callerSessionOrEnded(ctx: Pick<CallContext, "principal">): {
  userId: string;
  sessionId: string;
  ended: boolean;
} {
  const p = ctx.principal;
  if (!p?.userId || !p.sessionId) throw unauthenticated("MISSING_TOKEN");
  return { userId: p.userId, sessionId: p.sessionId, ended: p.sessionEnded === true };
}

/** Whoever the call is from (an end user or a mesh service); UNAUTHENTICATED when no one. */
export function callerPrincipal(ctx: Pick<CallContext, "principal">): NonNullable<CallContext["principal"]> {
  if (!ctx.principal) throw unauthenticated("MISSING_TOKEN");
  if (ctx.principal.sessionEnded) throw unauthenticated("SESSION_ENDED");
  return ctx.principal;
}
