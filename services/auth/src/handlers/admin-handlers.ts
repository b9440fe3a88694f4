// Admin RPCs: ListUsers, DisableUser, EnableUser. The admin role is the account's `admin`
// column, set only by the operator (`npm run admin`, scripts/admin.mjs); login and refresh
// copy it into the access token's `adm` claim, and the kit's middleware checks that claim from
// the method policy.
import type { authv1 } from "@filemesh/contracts";
import { appendEvents, type Handlers, inTransaction, invalidArgument, notFound } from "@filemesh/kit";
import { authEvents } from "../events.js";
import { listAccounts, setDisabled } from "../store/accounts.js";
import { endUserSessions } from "../store/sessions.js";
import { toAccount } from "./account-view.js";
import type { AuthDeps } from "./deps.js";

type AuthHandlers = Handlers<typeof authv1.AuthServiceService>;

const cursor = {
  encode: (email: string) => Buffer.from(email).toString("base64url"),
  decode: (token: string) => {
    const email = Buffer.from(token, "base64url").toString();
    if (
      token !== "" &&
      (email.length === 0 || email.length > 254 || Buffer.from(email).toString("base64url") !== token)
    ) {
      throw invalidArgument("INVALID_PAGE_TOKEN", "page_token is not valid", [
        { field: "page_token", description: "invalid" },
      ]);
    }
    return email;
  },
};

export function createAdminHandlers(deps: AuthDeps): Partial<AuthHandlers> {
  return {
    async listUsers(req) {
      if (req.pageSize < 0 || req.pageSize > 1000) {
        throw invalidArgument("INVALID_PAGE_SIZE", "page_size must be 0 to 1000", [
          { field: "page_size", description: "0 to 1000" },
        ]);
      }
      const size = req.pageSize || 50;
      const rows = await listAccounts(deps.readPool, {
        afterEmail: cursor.decode(req.pageToken),
        prefix: req.emailPrefix.trim().toLowerCase(),
        limit: size + 1,
      });
      const page = rows.slice(0, size);
      return {
        users: page.map((r) => toAccount(r)),
        nextPageToken: rows.length > size ? cursor.encode(page[page.length - 1]!.email) : "",
      };
    },

    async disableUser(req, ctx) {
      const reason = req.reason.trim().slice(0, 500);
      const row = await inTransaction(deps.pool, async (c) => {
        const r = await setDisabled(c, req.userId, true, reason);
        if (r) await appendEvents(c, "auth", [authEvents.accountDisabled(ctx, r.id, reason)]);
        return r;
      }).catch((err) => {
        if ((err as { code?: string }).code === "22P02") return undefined; // not a uuid
        throw err;
      });
      if (!row) throw notFound("ACCOUNT_NOT_FOUND", "no such account");
      const ended = await endUserSessions(deps.redis, row.id);
      await deps.emit(
        ended.map((sid) => authEvents.sessionRevoked(ctx, row.id, sid, "account_disabled")),
        ctx,
      );
      return { user: toAccount(row), endedSessions: ended.length };
    },

    async enableUser(req, ctx) {
      const row = await inTransaction(deps.pool, async (c) => {
        const r = await setDisabled(c, req.userId, false, "");
        if (r) await appendEvents(c, "auth", [authEvents.accountEnabled(ctx, r.id)]);
        return r;
      }).catch((err) => {
        if ((err as { code?: string }).code === "22P02") return undefined;
        throw err;
      });
      if (!row) throw notFound("ACCOUNT_NOT_FOUND", "no such account");
      return { user: toAccount(row) };
    },
  };
}
