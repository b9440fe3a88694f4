// The caller's sessions: Logout, ListSessions, RevokeSession, ChangePassword.
import type { authv1 } from "@filemesh/contracts";
import {
  appendEvents,
  type CallContext,
  callerSession,
  callerSessionOrEnded,
  type Handlers,
  inTransaction,
  invalidArgument,
  notFound,
  pageSize,
  unauthenticated,
} from "@filemesh/kit";
import { checkPassword } from "../domain/password-policy.js";
import { authEvents } from "../events.js";
import { findAccountById, updatePasswordHash } from "../store/accounts.js";
import { endSession, endUserSessions, listSessions } from "../store/sessions.js";
import { invalidCredentials } from "./auth-handlers.js";
import type { AuthDeps } from "./deps.js";

type AuthHandlers = Handlers<typeof authv1.AuthServiceService>;

const caller = callerSession;

export function createSessionHandlers(deps: AuthDeps) {
  const revoked = (ctx: CallContext, userId: string, ids: string[], reason: string) =>
    deps.emit(
      ids.map((sid) => authEvents.sessionRevoked(ctx, userId, sid, reason)),
      ctx,
    );
  return {
    async logout(req, ctx) {
      const me = callerSessionOrEnded(ctx);
      // A token whose session already ended (this logout retried after its answer was lost, or
      // a revoked token) ends nothing, not even with all_sessions: OK, nothing ended.
      if (me.ended) return { endedSessions: 0 };
      const ended = req.allSessions
        ? await endUserSessions(deps.redis, me.userId)
        : (await endSession(deps.redis, me.sessionId, me.userId))
          ? [me.sessionId]
          : [];
      await revoked(ctx, me.userId, ended, "logout");
      return { endedSessions: ended.length };
    },

    async listSessions(req, ctx) {
      const me = caller(ctx);
      const size = pageSize(req.pageSize, { default: 50 });
      // The cursor is an offset into the caller's sessions (they live in one Redis set); the
      // signature keeps it the caller's own and a number we issued.
      const binding = { list: "ListSessions", caller: `user:${me.userId}` };
      const offset = Number(deps.pageTokens.read(req.pageToken, binding)[0] ?? "0");
      const all = await listSessions(deps.redis, me.userId);
      const page = all.slice(offset, offset + size);
      return {
        sessions: page.map((s) => ({
          id: s.id,
          createTime: new Date(s.createTime),
          lastUseTime: new Date(s.lastUseTime),
          expireTime: new Date(s.expireTime),
          userAgent: s.userAgent,
          clientAddress: s.clientAddress,
          current: s.id === me.sessionId,
        })),
        nextPageToken:
          offset + size < all.length ? deps.pageTokens.issue(binding, [String(offset + size)]) : "",
      };
    },

    async revokeSession(req, ctx) {
      const me = caller(ctx);
      if (!req.sessionId || req.sessionId.length > 64) throw notFound("SESSION_NOT_FOUND", "no such session");
      // Someone else's session id answers exactly like a missing one.
      if (!(await endSession(deps.redis, req.sessionId, me.userId)))
        throw notFound("SESSION_NOT_FOUND", "no such session");
      await revoked(ctx, me.userId, [req.sessionId], "revoked");
      return {};
    },

    async changePassword(req, ctx) {
      const me = caller(ctx);
      const account = await findAccountById(deps.pool, me.userId);
      if (!account) throw unauthenticated("SESSION_ENDED");
      const from = deps.clientOf(ctx);
      // Counted like a login (domain/throttle.ts): a stolen session cannot guess the password fast.
      const attempt = await deps.throttle.begin(account.email, from);
      let ok: boolean;
      try {
        ok = await deps.hasher.verify(req.currentPassword, account.passwordHash);
      } catch (err) {
        await deps.throttle.cancel(attempt).catch(() => undefined);
        throw err;
      }
      if (!ok) throw invalidCredentials();
      await deps.throttle.succeed(attempt);
      checkPassword(req.newPassword, deps.isCommonPassword, "new_password");
      if (req.newPassword === req.currentPassword) {
        throw invalidArgument("PASSWORD_UNCHANGED", "the new password must differ from the current one", [
          { field: "new_password", description: "same as the current password" },
        ]);
      }
      const hash = await deps.hasher.hash(req.newPassword);
      await inTransaction(deps.pool, async (c) => {
        await updatePasswordHash(c, me.userId, hash);
        await appendEvents(c, "auth", [authEvents.passwordChanged(ctx, me.userId)]);
      });
      const ended = await endUserSessions(deps.redis, me.userId, me.sessionId);
      await revoked(ctx, me.userId, ended, "password_changed");
      return { endedSessions: ended.length };
    },
  } satisfies Partial<AuthHandlers>;
}
