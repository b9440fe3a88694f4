// Register, Login, Refresh, GetJwks and the internal GetAccount.
import type { authv1 } from "@filemesh/contracts";
import {
  appendEvents,
  type Handlers,
  inTransaction,
  invalidArgument,
  metadataString,
  notFound,
  permissionDenied,
  unauthenticated,
} from "@filemesh/kit";
import { normalizeEmail } from "../domain/email.js";
import { checkPassword } from "../domain/password-policy.js";
import { signAccessToken } from "../domain/tokens.js";
import { authEvents } from "../events.js";
import { findAccountByEmail, findAccountById, insertAccount } from "../store/accounts.js";
import { createSession, endSession, rotateRefreshToken } from "../store/sessions.js";
import { toAccount } from "./account-view.js";
import type { AuthDeps } from "./deps.js";

type AuthHandlers = Handlers<typeof authv1.AuthServiceService>;

const CONTROL = /[\p{Cc}\p{Cf}\u2028\u2029]/u;
const REFRESH_TOKEN = /^[A-Za-z0-9_-]{43}$/;

function displayNameOf(raw: string, email: string): string {
  const name = raw.normalize("NFC").trim() || email.slice(0, email.indexOf("@"));
  if ([...name].length > 100 || CONTROL.test(name)) {
    throw invalidArgument("INVALID_DISPLAY_NAME", "display name must be 1 to 100 printable characters", [
      { field: "display_name", description: "1 to 100 printable characters" },
    ]);
  }
  return name;
}

export const invalidCredentials = () => unauthenticated("INVALID_CREDENTIALS", "invalid email or password");

export function tokenResponse(
  deps: AuthDeps,
  a: { userId: string; admin: boolean },
  s: { sessionId: string; refreshToken: string },
) {
  return {
    accessToken: signAccessToken(deps.keys(), deps.tokens, {
      sub: a.userId,
      sid: s.sessionId,
      admin: a.admin,
    }),
    refreshToken: s.refreshToken,
    tokenType: "Bearer",
    expiresIn: Math.floor(deps.tokens.ttlMs / 1000),
    sessionId: s.sessionId,
    userId: a.userId,
  };
}

export function createAuthHandlers(deps: AuthDeps) {
  return {
    async register(req, ctx) {
      const email = normalizeEmail(req.email);
      const displayName = displayNameOf(req.displayName, email);
      checkPassword(req.password, deps.isCommonPassword);
      const passwordHash = await deps.hasher.hash(req.password);
      const row = await inTransaction(deps.pool, async (c) => {
        const account = await insertAccount(c, { email, displayName, passwordHash });
        await appendEvents(c, "auth", [authEvents.userRegistered(ctx, account)]);
        return account;
      });
      ctx.log.info({ user_id: row.id }, "registered");
      return { user: toAccount(row) };
    },

    async login(req, ctx) {
      if (req.password.length === 0 || req.password.length > 4096) throw invalidCredentials();
      const email = normalizeEmail(req.email);
      // Shed before any Redis or Postgres work, so an overloaded service answers at once.
      deps.hasher.admitOrShed();
      const from = deps.clientOf(ctx);
      // Delays per account+address, per address, and per account for addresses the account never
      // logged in from, so someone else's guesses cannot keep the owner out (domain/throttle.ts).
      // The attempt counts from here (as a failure until the password proves right), so guesses
      // sent in parallel count too.
      const attempt = await deps.throttle.begin(email, from);
      let account: Awaited<ReturnType<typeof findAccountByEmail>>;
      let ok: boolean;
      try {
        account = await findAccountByEmail(deps.pool, email);
        ok = await deps.hasher.verify(req.password, account?.passwordHash);
      } catch (err) {
        await deps.throttle.cancel(attempt).catch(() => undefined);
        throw err;
      }
      if (!account || !ok) {
        const { failures, delayMs } = attempt;
        if (delayMs > 0) {
          ctx.log.warn({ failures, delay_ms: delayMs }, "login throttled");
          await deps.emit([authEvents.loginThrottled(ctx, account?.id ?? "", from, failures, delayMs)], ctx);
        }
        throw invalidCredentials();
      }
      if (account.disableTime) {
        await deps.throttle.cancel(attempt);
        throw permissionDenied("ACCOUNT_DISABLED", "this account is disabled");
      }
      // The attempt is taken back and the session made in one round trip to Redis (both are
      // scripts, sent in one auto-pipelined write). Should taking the attempt back fail, the
      // login fails and its session is ended again, so no session exists that nobody was given.
      const [succeeded, made] = await Promise.allSettled([
        deps.throttle.succeed(attempt),
        createSession(deps.redis, deps.sessions, {
          userId: account.id,
          // Through the local gateway the client's User-Agent comes as x-forwarded-user-agent
          // (gRPC keeps user-agent for its transport); through Envoy and from native clients as
          // itself.
          userAgent:
            metadataString(ctx.metadata, "x-forwarded-user-agent") ??
            metadataString(ctx.metadata, "user-agent") ??
            "",
          clientAddress: from,
        }),
      ]);
      if (succeeded.status === "rejected") {
        if (made.status === "fulfilled")
          await endSession(deps.redis, made.value.sessionId, account.id).catch(() => undefined);
        throw succeeded.reason;
      }
      if (made.status === "rejected") throw made.reason;
      const session = made.value;
      return tokenResponse(deps, { userId: account.id, admin: account.admin }, session);
    },

    async refresh(req, ctx) {
      if (!REFRESH_TOKEN.test(req.refreshToken)) {
        throw unauthenticated("INVALID_REFRESH_TOKEN", "invalid refresh token");
      }
      const out = await rotateRefreshToken(deps.redis, deps.sessions, req.refreshToken);
      if (out.kind === "reused") {
        ctx.log.warn({ session_id: out.sessionId }, "refresh token replayed: session revoked");
        await deps.emit([authEvents.sessionRevoked(ctx, out.userId, out.sessionId, "refresh_reuse")], ctx);
        throw unauthenticated(
          "REFRESH_TOKEN_REUSED",
          "refresh token already used; the session has been ended",
        );
      }
      if (out.kind !== "ok")
        throw unauthenticated("INVALID_REFRESH_TOKEN", "invalid or expired refresh token");
      const account = await findAccountById(deps.pool, out.userId);
      if (!account || account.disableTime)
        throw unauthenticated("INVALID_REFRESH_TOKEN", "invalid or expired refresh token");
      return tokenResponse(deps, { userId: account.id, admin: account.admin }, out);
    },

    async getAccount(req) {
      const row = await findAccountById(deps.pool, req.userId);
      if (!row) throw notFound("ACCOUNT_NOT_FOUND", "no such account");
      return { account: toAccount(row) };
    },

    async getJwks() {
      return { keys: deps.keys().all.map((k) => k.jwk) };
    },
  } satisfies Partial<AuthHandlers>;
}
