import type { authv1 } from "@filemesh/contracts";
import {
  type CallContext,
  type Handlers,
  inTransaction,
  invalidArgument,
  metadataString,
  notFound,
  permissionDenied,
  type Redis,
  unauthenticated,
} from "@filemesh/kit";
import type pg from "pg";
import { normalizeEmail } from "../domain/email.js";
import type { Hasher } from "../domain/hasher.js";
import { checkPassword } from "../domain/password-policy.js";
import { type KeyRing, signAccessToken, type TokenSettings } from "../domain/tokens.js";
import { findAccountByEmail, findAccountById, insertAccount } from "../store/accounts.js";
import { createSession, type SessionSettings } from "../store/sessions.js";
import { toAccount } from "./account-view.js";

export interface AuthDeps {
  pool: pg.Pool;
  redis: Redis;
  hasher: Hasher;
  isCommonPassword: (p: string) => boolean;
  keys: () => KeyRing;
  tokens: TokenSettings;
  sessions: SessionSettings;
  adminEmails: readonly string[];
  /** Writes the user-registered event in the registering transaction (outbox). */
  onRegistered?: (
    q: pg.PoolClient,
    account: { id: string; email: string; displayName: string },
    ctx: CallContext,
  ) => Promise<void>;
}

type AuthHandlers = Handlers<typeof authv1.AuthServiceService>;

const CONTROL = /[\p{Cc}\p{Cf}\u2028\u2029]/u;

function displayNameOf(raw: string, email: string): string {
  const name = raw.normalize("NFC").trim() || email.slice(0, email.indexOf("@"));
  if ([...name].length > 100 || CONTROL.test(name)) {
    throw invalidArgument("INVALID_DISPLAY_NAME", "display name must be 1 to 100 printable characters", [
      { field: "display_name", description: "1 to 100 printable characters" },
    ]);
  }
  return name;
}

const INVALID_CREDENTIALS = () => unauthenticated("INVALID_CREDENTIALS", "invalid email or password");

export function createAuthHandlers(deps: AuthDeps): Partial<AuthHandlers> {
  return {
    async register(req, ctx) {
      const email = normalizeEmail(req.email);
      const displayName = displayNameOf(req.displayName, email);
      checkPassword(req.password, deps.isCommonPassword);
      const passwordHash = await deps.hasher.hash(req.password);
      const row = await inTransaction(deps.pool, async (client) => {
        const account = await insertAccount(client, { email, displayName, passwordHash });
        await deps.onRegistered?.(client, account, ctx);
        return account;
      });
      ctx.log.info({ user_id: row.id }, "registered");
      return { user: toAccount(row, deps.adminEmails) };
    },

    async login(req, ctx) {
      // Malformed input is a client error; everything else gets the one same answer.
      if (req.password.length === 0 || req.password.length > 4096) throw INVALID_CREDENTIALS();
      const email = normalizeEmail(req.email);
      const account = await findAccountByEmail(deps.pool, email);
      const ok = await deps.hasher.verify(req.password, account?.passwordHash);
      if (!account || !ok) throw INVALID_CREDENTIALS();
      if (account.disableTime) throw permissionDenied("ACCOUNT_DISABLED", "this account is disabled");
      const session = await createSession(deps.redis, deps.sessions, {
        userId: account.id,
        userAgent: metadataString(ctx.metadata, "user-agent") ?? "",
        clientAddress: metadataString(ctx.metadata, "x-forwarded-for")?.split(",")[0]?.trim() ?? ctx.peer,
      });
      const accessToken = signAccessToken(deps.keys(), deps.tokens, {
        sub: account.id,
        sid: session.sessionId,
        admin: deps.adminEmails.includes(account.email),
      });
      return {
        accessToken,
        refreshToken: session.refreshToken,
        tokenType: "Bearer",
        expiresIn: Math.floor(deps.tokens.ttlMs / 1000),
        sessionId: session.sessionId,
        userId: account.id,
      };
    },

    async getAccount(req) {
      const row = await findAccountById(deps.pool, req.userId);
      if (!row) throw notFound("ACCOUNT_NOT_FOUND", "no such account");
      return { account: toAccount(row, deps.adminEmails) };
    },

    async getJwks() {
      return { keys: deps.keys().all.map((k) => k.jwk) };
    },
  };
}
