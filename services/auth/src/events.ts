// The auth service's domain events, written to its outbox (subjects filemesh.auth.*).
import { eventsv1 } from "@filemesh/contracts";
import { type CallContext, eventMetaFromCall, makeEvent, type OutboxEvent } from "@filemesh/kit";

const meta = eventMetaFromCall;

type Ctx = Pick<CallContext, "requestId" | "traceparent" | "principal">;

export const authEvents = {
  userRegistered: (ctx: Ctx, a: { id: string; email: string; displayName: string }): OutboxEvent =>
    makeEvent("filemesh.auth.user_registered", "filemesh.events.v1.UserRegistered", eventsv1.UserRegistered, {
      meta: meta(ctx, `user:${a.id}`, `user:${a.id}`),
      userId: a.id,
      email: a.email,
      displayName: a.displayName,
    }),
  sessionRevoked: (ctx: Ctx, userId: string, sessionId: string, reason: string): OutboxEvent =>
    makeEvent("filemesh.auth.session_revoked", "filemesh.events.v1.SessionRevoked", eventsv1.SessionRevoked, {
      meta: meta(ctx, `user:${userId}`),
      userId,
      sessionId,
      reason,
    }),
  passwordChanged: (ctx: Ctx, userId: string): OutboxEvent =>
    makeEvent(
      "filemesh.auth.password_changed",
      "filemesh.events.v1.PasswordChanged",
      eventsv1.PasswordChanged,
      {
        meta: meta(ctx, `user:${userId}`),
        userId,
      },
    ),
  loginThrottled: (
    ctx: Ctx,
    userId: string,
    client: string,
    failures: number,
    retryMs: number,
  ): OutboxEvent =>
    makeEvent("filemesh.auth.login_throttled", "filemesh.events.v1.LoginThrottled", eventsv1.LoginThrottled, {
      meta: meta(ctx, userId ? `user:${userId}` : `client:${client}`),
      userId,
      clientAddress: client,
      failures,
      retryAfterSeconds: Math.ceil(retryMs / 1000),
    }),
  accountDisabled: (ctx: Ctx, userId: string, reason: string): OutboxEvent =>
    makeEvent(
      "filemesh.auth.account_disabled",
      "filemesh.events.v1.AccountDisabled",
      eventsv1.AccountDisabled,
      {
        meta: meta(ctx, `user:${userId}`),
        userId,
        reason,
      },
    ),
  accountEnabled: (ctx: Ctx, userId: string): OutboxEvent =>
    makeEvent("filemesh.auth.account_enabled", "filemesh.events.v1.AccountEnabled", eventsv1.AccountEnabled, {
      meta: meta(ctx, `user:${userId}`),
      userId,
    }),
};
